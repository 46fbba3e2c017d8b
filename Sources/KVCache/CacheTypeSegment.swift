import Kernels

/// A head's own tokens with keys and values each stored as a llama.cpp cache type (`--cache-type-k q8_0
/// --cache-type-v q4_0`): rows are encoded as they are appended, so the cache never holds them in f16, and
/// attention reads the stored blocks. An f16/f16 head uses `F16Segment` instead (llama.cpp's exact f16 path).
public final class CacheTypeSegment: AppendableSegment, GroupedSegment {
    public let headDimension: Int
    private var keys: TypedRows
    private var values: TypedRows
    public private(set) var positions: PositionRuns = []

    /// - Parameter rotated: quantized rows are stored Hadamard-rotated (see `TypedRows`); f16 rows never are.
    public init(headDimension: Int, keyType: CacheType, valueType: CacheType, rotated: Bool = false) {
        self.headDimension = headDimension
        keys = TypedRows(type: keyType, dimension: headDimension, rotated: rotated && keyType != .f16)
        values = TypedRows(type: valueType, dimension: headDimension, rotated: rotated && valueType != .f16)
    }

    public var keyType: CacheType { keys.type }
    public var valueType: CacheType { values.type }
    public var count: Int { positions.count }
    public var isPressable: Bool { true }
    public var sharedStorage: AnyObject? { nil }

    /// Key blocks, value blocks (scales and minimums inside them) and positions.
    public var byteCount: Int {
        keys.bytes.count + values.bytes.count + positions.byteCount
    }

    public func logits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder, kernel: AttentionKernel,
                       scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        keys.logits(query: query, tokens: tokens, order: order, kernel: kernel, scratch: scratch, into: logits)
    }

    public func weightedSum(weights: UnsafeMutablePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                            kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        values.weightedSum(weights: weights, tokens: tokens, order: order, kernel: kernel, lanes: lanes,
                           scratch: scratch, into: output)
    }

    /// Both sides stored as unrotated blocks (f16 sides keep llama.cpp's exact f16 path, query by query).
    public var attendsGroups: Bool { keys.attendsGroups && values.attendsGroups }
    public var channelBlock: Int { 32 }
    public var gainsFromGroups: Bool { true }
    /// The queries' quantized forms (logits), a decoded block's values (value sums).
    public func groupScratchCount(queries: Int) -> Int { (queries + 1) * headDimension }

    public func groupLogits(queries: UnsafePointer<Float>, count: Int, tokens: Range<Int>, kernel: AttentionKernel,
                            scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>, stride: Int) {
        keys.groupLogits(queries: queries, count: count, tokens: tokens, kernel: kernel, scratch: scratch, into: logits,
                         stride: stride)
    }

    public func groupWeightedSum(weights: UnsafePointer<Float>, stride: Int, count: Int, tokens: Range<Int>,
                                 channels: Range<Int>, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                                 into output: UnsafeMutablePointer<Float>) {
        values.groupWeightedSum(weights: weights, stride: stride, count: count, tokens: tokens, channels: channels,
                                kernel: kernel, scratch: scratch, into: output)
    }

    public func key(_ index: Int) -> [Float] { keys.row(index) }
    public func value(_ index: Int) -> [Float] { values.row(index) }

    public func reserveCapacity(_ tokens: Int) {
        keys.reserveCapacity(tokens)
        values.reserveCapacity(tokens)
    }

    public func append(key: UnsafePointer<Float>, value: UnsafePointer<Float>, position: Int) {
        append(keys: key, values: value, stride: headDimension, tokens: 1, firstPosition: position)
    }

    public func append(keys keyRows: UnsafePointer<Float>, values valueRows: UnsafePointer<Float>, stride: Int,
                       tokens: Int, firstPosition: Int) {
        keys.append(keyRows, stride: stride, rows: tokens)
        values.append(valueRows, stride: stride, rows: tokens)
        positions.append(contentsOf: (0 ..< tokens).lazy.map { Int32(firstPosition + $0) })
    }

    @discardableResult
    public func insert(key: [Float], value: [Float], position: Int) -> Int {
        let index = positions.firstIndex { Int($0) > position } ?? positions.count
        keys.insert(key, at: index)
        values.insert(value, at: index)
        positions.insert(Int32(position), at: index)
        return index
    }

    public func replace(_ index: Int, key: [Float], value: [Float]) {
        keys.replace(index, with: key)
        values.replace(index, with: value)
    }

    public func retain(indices: [Int]) {
        keys.retain(indices)
        values.retain(indices)
        positions = PositionRuns(indices.map { positions[$0] })
    }

    /// Decodes each moved key, rotates it and encodes it again (a second rounding: re-indexing a quantized cache
    /// costs a little precision, as llama.cpp's context shift of a quantized cache does).
    public func reposition(_ newPositions: [Int32], rope: RoPE) {
        for i in 0 ..< count where newPositions[i] != positions[i] {
            keys.replace(i, with: rope.rotated(keys.row(i), by: Int(newPositions[i] - positions[i])))
        }
        positions = PositionRuns(newPositions)
    }

    public func copy(sharing copies: SharedStorageCopies) -> any KVSegment {
        let c = CacheTypeSegment(headDimension: headDimension, keyType: keys.type, valueType: values.type)
        c.keys = keys
        c.values = values
        c.positions = positions
        return c
    }
}

extension CacheTypeSegment: ArchivableSegment {
    static var archiveKind: UInt8 { 2 }

    func archive(into writer: inout ArchiveWriter) {
        positions.archive(into: &writer)
        for side in [keys, values] {
            writer.u8(UInt8(CacheType.allCases.firstIndex(of: side.type)!))
            writer.u8(side.rotated ? 1 : 0)
            writer.raw(side.bytes)
        }
    }

    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> CacheTypeSegment {
        let positions = try PositionRuns.unarchive(from: &reader)
        var sides: [TypedRows] = []
        for _ in 0 ..< 2 {
            let index = Int(try reader.u8())
            guard CacheType.allCases.indices.contains(index) else {
                throw CacheArchiveError.corrupted("cache type \(index)")
            }
            let rotated = try reader.u8() == 1
            let rows = try TypedRows(type: CacheType.allCases[index], dimension: headDimension, rotated: rotated,
                                     stored: ContiguousArray(try reader.raw()))
            guard rows.count == positions.count else {
                throw CacheArchiveError.corrupted("a cache-type segment's rows do not match its tokens")
            }
            sides.append(rows)
        }
        let segment = CacheTypeSegment(headDimension: headDimension, keyType: sides[0].type, valueType: sides[1].type)
        segment.keys = sides[0]
        segment.values = sides[1]
        segment.positions = positions
        return segment
    }
}
