import Kernels

/// One side (keys or values) of a head's tokens stored as rows of a `CacheType`: f16 bits or llama.cpp blocks,
/// `rowBytes` bytes per token. Rows are encoded as they are appended and read only through attention kernels
/// that work on the stored form (`F16Rows`, `BlockRows`) or, for presses, decoded one row at a time.
///
/// `rotated` rows are stored as H·row (`HadamardRotation`): attention rotates the query the same way (q·k is
/// unchanged by a rotation) and rotates the weighted sum of values back, and decoded rows are rotated back, so
/// nothing outside sees the rotation.
struct TypedRows {
    let type: CacheType
    let dimension: Int
    let rowBytes: Int
    let rotated: Bool
    private(set) var bytes: ContiguousArray<UInt8> = []

    init(type: CacheType, dimension: Int, rotated: Bool = false) {
        precondition(type.fits(dimension: dimension), "\(type) rows need a multiple of 32 values, not \(dimension)")
        precondition(!rotated || HadamardRotation.supports(dimension: dimension), "rotation needs a power of 2")
        self.type = type
        self.dimension = dimension
        self.rotated = rotated
        rowBytes = type.rowBytes(dimension: dimension)
    }

    var count: Int { bytes.count / rowBytes }

    /// Rows read back from an archive: `stored` must hold whole rows of this type.
    init(type: CacheType, dimension: Int, rotated: Bool, stored: ContiguousArray<UInt8>) throws {
        guard type.fits(dimension: dimension), !rotated || HadamardRotation.supports(dimension: dimension) else {
            throw CacheArchiveError.corrupted("\(type) rows of \(dimension) values")
        }
        self.init(type: type, dimension: dimension, rotated: rotated)
        guard stored.count % rowBytes == 0 else { throw CacheArchiveError.corrupted("a partial \(type) row") }
        bytes = stored
    }

    mutating func reserveCapacity(_ rows: Int) { bytes.reserveCapacity(rows * rowBytes) }

    /// Appends `rows` rows read at `source + r·stride`.
    mutating func append(_ source: UnsafePointer<Float>, stride: Int, rows: Int) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: rows * rowBytes))
        let (type, d, rowBytes, rotated) = (self.type, dimension, self.rowBytes, self.rotated)
        bytes.withUnsafeMutableBytes { buffer in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: d) { row in
                for r in 0 ..< rows {
                    row.baseAddress!.update(from: source + r * stride, count: d)
                    if rotated { HadamardRotation.rotate(row.baseAddress!, count: d) }
                    Self.encode(row.baseAddress!, type: type, dimension: d, into: buffer.baseAddress! + start + r * rowBytes)
                }
            }
        }
    }

    /// Inserts one row before row `index`.
    mutating func insert(_ row: [Float], at index: Int) {
        bytes.insert(contentsOf: encoded(row), at: index * rowBytes)
    }

    /// Overwrites row `index`.
    mutating func replace(_ index: Int, with row: [Float]) {
        let encoded = encoded(row)
        bytes.replaceSubrange(index * rowBytes ..< (index + 1) * rowBytes, with: encoded)
    }

    /// Keeps the rows at `indices` (ascending).
    mutating func retain(_ indices: [Int]) {
        var kept = ContiguousArray<UInt8>()
        kept.reserveCapacity(indices.count * rowBytes)
        for i in indices { kept.append(contentsOf: bytes[i * rowBytes ..< (i + 1) * rowBytes]) }
        bytes = kept
    }

    /// Row `index` decoded to floats (rotated back when stored rotated).
    func row(_ index: Int) -> [Float] {
        rotated ? HadamardRotation.rotated(storedRow(index)) : storedRow(index)
    }

    private func storedRow(_ index: Int) -> [Float] {
        guard let format = type.format else {
            return bytes.withUnsafeBytes { raw in
                let halves = raw.baseAddress!.assumingMemoryBound(to: UInt16.self) + index * dimension
                return (0 ..< dimension).map { HalfConversion.float(fromBits: halves[$0]) }
            }
        }
        return BlockRows.row(index, of: bytes, dimension: dimension, format: format)
    }

    func logits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder, kernel: AttentionKernel,
                scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        guard !tokens.isEmpty else { return }
        let d = dimension
        guard !rotated else {
            HadamardRotation.withRotatedCopy(of: query, count: 1, dimension: d) { turned in
                unrotatedLogits(query: turned, tokens: tokens, order: order, kernel: kernel, scratch: scratch,
                                into: logits)
            }
            return
        }
        unrotatedLogits(query: query, tokens: tokens, order: order, kernel: kernel, scratch: scratch, into: logits)
    }

    private func unrotatedLogits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                                 kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                                 into logits: UnsafeMutablePointer<Float>) {
        let d = dimension
        bytes.withUnsafeBytes { raw in
            let first = raw.baseAddress! + tokens.lowerBound * rowBytes
            if let format = type.format {
                BlockRows.logits(query: query, rows: first, count: tokens.count, dimension: d, format: format,
                                 kernel: kernel, scratch: scratch, into: logits)
            } else {
                F16Rows.logits(query: query, rows: first.assumingMemoryBound(to: Float16.self), count: tokens.count,
                               dimension: d, order: order, kernel: kernel, scratch: scratch, into: logits)
            }
        }
    }

    func weightedSum(weights: UnsafeMutablePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                     kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                     into output: UnsafeMutablePointer<Float>) {
        let d = dimension
        guard !tokens.isEmpty else {
            output.update(repeating: 0, count: d)
            return
        }
        bytes.withUnsafeBytes { raw in
            let first = raw.baseAddress! + tokens.lowerBound * rowBytes
            if let format = type.format {
                BlockRows.weightedSum(weights: weights, rows: first, count: tokens.count, dimension: d, format: format,
                                      kernel: kernel, scratch: scratch, lanes: lanes, into: output)
            } else {
                F16Rows.weightedSum(weights: weights, rows: first.assumingMemoryBound(to: Float16.self),
                                    count: tokens.count, dimension: d, order: order, kernel: kernel, lanes: lanes,
                                    scratch: scratch, into: output)
            }
        }
        if rotated { HadamardRotation.rotate(output, count: d) }
    }

    /// Whether `groupLogits` and `groupWeightedSum` apply: block formats, stored unrotated (a rotation mixes
    /// channels, so value sums could not be split by channel).
    var attendsGroups: Bool { type.format != nil && !rotated }

    func groupLogits(queries: UnsafePointer<Float>, count: Int, tokens: Range<Int>, kernel: AttentionKernel,
                     scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>, stride: Int) {
        guard let format = type.format, !rotated else { preconditionFailure("grouped logits need unrotated block rows") }
        guard !tokens.isEmpty else { return }
        bytes.withUnsafeBytes { raw in
            BlockRows.groupLogits(queries: queries, queryCount: count, rows: raw.baseAddress! + tokens.lowerBound * rowBytes,
                                  count: tokens.count, dimension: dimension, format: format, kernel: kernel,
                                  scratch: scratch, into: logits, stride: stride)
        }
    }

    func groupWeightedSum(weights: UnsafePointer<Float>, stride: Int, count: Int, tokens: Range<Int>,
                          channels: Range<Int>, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                          into output: UnsafeMutablePointer<Float>) {
        guard let format = type.format, !rotated, channels.lowerBound % 32 == 0, channels.upperBound % 32 == 0 else {
            preconditionFailure("grouped value sums need unrotated block rows and whole blocks")
        }
        bytes.withUnsafeBytes { raw in
            // No rows (an empty first segment) still writes its zero sums.
            let first = (raw.baseAddress ?? UnsafeRawPointer(bitPattern: 16)!) + tokens.lowerBound * rowBytes
            BlockRows.groupWeightedSum(weights: weights, stride: stride, queryCount: count, rows: first,
                                       count: tokens.count, blocks: channels.lowerBound / 32 ..< channels.upperBound / 32,
                                       dimension: dimension, format: format, kernel: kernel, scratch: scratch,
                                       into: output)
        }
    }

    private func encoded(_ row: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rowBytes)
        let row = rotated ? HadamardRotation.rotated(row) : row
        row.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBytes { bytes in
                Self.encode(source.baseAddress!, type: type, dimension: dimension, into: bytes.baseAddress!)
            }
        }
        return out
    }

    private static func encode(_ source: UnsafePointer<Float>, type: CacheType, dimension d: Int,
                               into destination: UnsafeMutableRawPointer) {
        guard let format = type.format else {
            let halves = destination.assumingMemoryBound(to: UInt16.self)
            for i in 0 ..< d { halves[i] = HalfConversion.bits(fromFloat: source[i]) }
            return
        }
        BlockQuantizer.quantize(source, count: d, as: format, into: destination)
    }
}
