import Kernels

/// A head's own tokens in f16 (keys after RoPE), each with its original position, as llama.cpp's f16 cache
/// stores them: the segment every head appends to, and the one presses score and compact.
public final class F16Segment: AppendableSegment {
    public let headDimension: Int
    private var keys: ContiguousArray<Float16> = []      // [count, headDimension]
    private var values: ContiguousArray<Float16> = []    // [count, headDimension]
    public private(set) var positions: PositionRuns = []

    public init(headDimension: Int) {
        self.headDimension = headDimension
    }

    public var count: Int { positions.count }
    public var isPressable: Bool { true }
    public var sharedStorage: AnyObject? { nil }

    /// Keys, values and positions.
    public var byteCount: Int {
        (keys.count + values.count) * MemoryLayout<Float16>.size + positions.byteCount
    }

    public func logits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder, kernel: AttentionKernel,
                       scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        let d = headDimension
        keys.withUnsafeBufferPointer { k in
            guard let base = k.baseAddress else { return }
            F16Rows.logits(query: query, rows: base + tokens.lowerBound * d, count: tokens.count, dimension: d,
                           order: order, kernel: kernel, scratch: scratch, into: logits)
        }
    }

    public func weightedSum(weights: UnsafeMutablePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                            kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let d = headDimension
        values.withUnsafeBufferPointer { v in
            // An empty segment still writes its (zero) sum: the C kernel accepts a dangling pointer for no rows.
            let base = v.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Float16>.alignment)!
            F16Rows.weightedSum(weights: weights, rows: base + tokens.lowerBound * d, count: tokens.count, dimension: d,
                                order: order, kernel: kernel, lanes: lanes, scratch: scratch, into: output)
        }
    }

    public func key(_ index: Int) -> [Float] { F16Rows.row(index, of: keys, dimension: headDimension) }
    public func value(_ index: Int) -> [Float] { F16Rows.row(index, of: values, dimension: headDimension) }

    public func reserveCapacity(_ tokens: Int) {
        keys.reserveCapacity(tokens * headDimension)
        values.reserveCapacity(tokens * headDimension)
    }

    public func append(key: UnsafePointer<Float>, value: UnsafePointer<Float>, position: Int) {
        for i in 0 ..< headDimension { keys.append(HalfConversion.half(key[i])) }
        for i in 0 ..< headDimension { values.append(HalfConversion.half(value[i])) }
        positions.append(Int32(position))
    }

    public func append(keys keyRows: UnsafePointer<Float>, values valueRows: UnsafePointer<Float>, stride: Int,
                       tokens: Int, firstPosition: Int) {
        // Whole batch per array: one exclusivity check and uniqueness test each, not one per element.
        Self.appendConverted(keyRows, stride: stride, tokens: tokens, dimension: headDimension, to: &keys)
        Self.appendConverted(valueRows, stride: stride, tokens: tokens, dimension: headDimension, to: &values)
        positions.append(contentsOf: (0 ..< tokens).lazy.map { Int32(firstPosition + $0) })
    }

    private static func appendConverted(_ rows: UnsafePointer<Float>, stride: Int, tokens: Int, dimension d: Int,
                                        to storage: inout ContiguousArray<Float16>) {
        let start = storage.count
        storage.append(contentsOf: repeatElement(0, count: tokens * d))
        storage.withUnsafeMutableBufferPointer { buffer in
            let destination = buffer.baseAddress! + start
            for t in 0 ..< tokens {
                let source = rows + t * stride
                let row = destination + t * d
                for i in 0 ..< d { row[i] = HalfConversion.half(source[i]) }
            }
        }
    }

    @discardableResult
    public func insert(key: [Float], value: [Float], position: Int) -> Int {
        let index = positions.firstIndex { Int($0) > position } ?? positions.count
        keys.insert(contentsOf: key.map { HalfConversion.half($0) }, at: index * headDimension)
        values.insert(contentsOf: value.map { HalfConversion.half($0) }, at: index * headDimension)
        positions.insert(Int32(position), at: index)
        return index
    }

    public func replace(_ index: Int, key: [Float], value: [Float]) {
        // Through buffers: element by element, every store checked the arrays' uniqueness and exclusive access
        // (EMS rewrites every kept token of every head).
        let first = index * headDimension
        keys.withUnsafeMutableBufferPointer { keys in
            for i in 0 ..< headDimension { keys[first + i] = HalfConversion.half(key[i]) }
        }
        values.withUnsafeMutableBufferPointer { values in
            for i in 0 ..< headDimension { values[first + i] = HalfConversion.half(value[i]) }
        }
    }

    public func retain(indices: [Int]) {
        keys = F16Rows.retain(indices, of: keys, dimension: headDimension)
        values = F16Rows.retain(indices, of: values, dimension: headDimension)
        positions = PositionRuns(indices.map { positions[$0] })
    }

    public func reposition(_ newPositions: [Int32], rope: RoPE) {
        let delta = (0 ..< count).map { newPositions[$0] - positions[$0] }
        F16Rows.rotate(&keys, by: delta, dimension: headDimension, rope: rope)
        positions = PositionRuns(newPositions)
    }

    public func copy(sharing copies: SharedStorageCopies) -> any KVSegment {
        let c = F16Segment(headDimension: headDimension)
        c.keys = keys
        c.values = values
        c.positions = positions
        return c
    }
}

/// Grouped decoding over f16 rows (`F16Rows.groupLogits` / `groupWeightedSum`): keys and values are read once for
/// every query head of their KV head.
extension F16Segment: GroupedSegment {
    public var attendsGroups: Bool { headDimension % 32 == 0 }
    /// Not alone: f16 rows need no decoding, and their value sums are bound by the loads and stores of 32
    /// accumulators per channel, not by reading rows (1 thread, tg128@d4096: 49.7 and 50.6 t/s grouped against
    /// 52.5 and 50.6 query by query). They group beside codes, so that a KIVI head groups as a whole.
    public var gainsFromGroups: Bool { false }
    /// A 64-byte line of an f16 row.
    public var channelBlock: Int { 32 }

    /// A row's floats (logits); the 32 accumulators of every query over a channel run and a row (value sums).
    public func groupScratchCount(queries: Int) -> Int { (32 * queries + 1) * headDimension }

    public func groupLogits(queries: UnsafePointer<Float>, count: Int, tokens: Range<Int>, kernel: AttentionKernel,
                            scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>, stride: Int) {
        let d = headDimension
        keys.withUnsafeBufferPointer { k in
            guard let base = k.baseAddress else { return }
            F16Rows.groupLogits(queries: queries, queryCount: count, rows: base + tokens.lowerBound * d,
                                count: tokens.count, dimension: d, kernel: kernel, scratch: scratch, into: logits,
                                stride: stride)
        }
    }

    public func groupWeightedSum(weights: UnsafePointer<Float>, stride: Int, count: Int, tokens: Range<Int>,
                                 channels: Range<Int>, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                                 into output: UnsafeMutablePointer<Float>) {
        let d = headDimension
        values.withUnsafeBufferPointer { v in
            // No rows (an empty first segment) still writes its zero sums.
            let base = v.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Float16>.alignment)!
            F16Rows.groupWeightedSum(weights: weights, stride: stride, queryCount: count,
                                     rows: base + tokens.lowerBound * d, count: tokens.count, channels: channels,
                                     dimension: d, kernel: kernel, scratch: scratch, into: output)
        }
    }
}

extension F16Segment: ArchivableSegment {
    static var archiveKind: UInt8 { 1 }

    func archive(into writer: inout ArchiveWriter) {
        positions.archive(into: &writer)
        writer.array(keys)
        writer.array(values)
    }

    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> F16Segment {
        let segment = F16Segment(headDimension: headDimension)
        segment.positions = try PositionRuns.unarchive(from: &reader)
        segment.keys = try reader.array(of: Float16.self)
        segment.values = try reader.array(of: Float16.self)
        let expected = segment.positions.count * headDimension
        guard segment.keys.count == expected, segment.values.count == expected else {
            throw CacheArchiveError.corrupted("an f16 segment's rows do not match its \(segment.positions.count) tokens")
        }
        return segment
    }
}
