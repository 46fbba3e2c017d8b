import CKernels
import Kernels

/// Tokens whose keys and values keep only their largest-magnitude elements (Mustafar's unstructured pruning):
/// each row holds `kept` of its `headDimension` values, stored as a bitmap of where they are and the values
/// themselves in f16, in channel order. Attention reads that form directly: a logit sums the query at the kept
/// channels times the kept values; a weighted sum adds each kept value into its channel. The C kernels
/// (`tp_sparse_logits`, `tp_sparse_weighted_sum`; scalar: gathers at 64 channels gain nothing from 8-lane vectors)
/// and the Swift twin add in the same order and give the same bits.
public final class SparseSegment: KVSegment, RewritableSegment {
    public let headDimension: Int
    /// Values kept per row.
    public let kept: Int
    private let words: Int
    private var keyMasks: ContiguousArray<UInt64> = []      // [count, words]
    private var keyValues: ContiguousArray<UInt16> = []     // f16 bits, [count, kept]
    private var valueMasks: ContiguousArray<UInt64> = []
    private var valueValues: ContiguousArray<UInt16> = []
    public private(set) var positions: PositionRuns = []

    public init(headDimension: Int, kept: Int) {
        precondition(kept >= 1 && kept <= headDimension)
        self.headDimension = headDimension
        self.kept = kept
        words = (headDimension + 63) / 64
    }

    public var count: Int { positions.count }
    public var isPressable: Bool { true }
    public var sharedStorage: AnyObject? { nil }

    /// Bitmaps (one bit per channel, whole bytes), kept values in f16, positions.
    public var byteCount: Int {
        let maskBytes = (headDimension + 7) / 8
        return count * (2 * maskBytes + 2 * kept * 2) + positions.byteCount
    }

    /// Appends one token, pruning its key and value to their `kept` largest magnitudes.
    public func append(key: [Float], value: [Float], position: Int32) {
        precondition((positions.last ?? Int32.min) < position, "positions ascend within a segment")
        keyMasks.append(contentsOf: repeatElement(0, count: words))
        valueMasks.append(contentsOf: repeatElement(0, count: words))
        keyValues.append(contentsOf: repeatElement(0, count: kept))
        valueValues.append(contentsOf: repeatElement(0, count: kept))
        positions.append(position)
        write(count - 1, key: key, value: value)
    }

    public func logits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder, kernel: AttentionKernel,
                       scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        guard !tokens.isEmpty else { return }
        if kernel == .avx2 {
            keyMasks.withUnsafeBufferPointer { masks in
                keyValues.withUnsafeBufferPointer { values in
                    tp_sparse_logits(query, masks.baseAddress! + tokens.lowerBound * words,
                                     values.baseAddress! + tokens.lowerBound * kept, Int32(tokens.count), Int32(words),
                                     Int32(kept), logits)
                }
            }
            return
        }
        for j in tokens {
            var sum: Float = 0
            var n = 0
            forEachKept(keyMasks, row: j) { channel in
                let product = query[channel] * HalfConversion.float(fromBits: keyValues[j * kept + n])
                sum = sum + product
                n += 1
            }
            logits[j - tokens.lowerBound] = sum
        }
    }

    public func weightedSum(weights: UnsafeMutablePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                            kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        if kernel == .avx2, !tokens.isEmpty {
            valueMasks.withUnsafeBufferPointer { masks in
                valueValues.withUnsafeBufferPointer { values in
                    tp_sparse_weighted_sum(weights, masks.baseAddress! + tokens.lowerBound * words,
                                           values.baseAddress! + tokens.lowerBound * kept, Int32(tokens.count),
                                           Int32(words), Int32(kept), Int32(headDimension), output)
                }
            }
            return
        }
        output.update(repeating: 0, count: headDimension)
        for j in tokens {
            let weight = weights[j - tokens.lowerBound]
            var n = 0
            forEachKept(valueMasks, row: j) { channel in
                let product = weight * HalfConversion.float(fromBits: valueValues[j * kept + n])
                output[channel] = output[channel] + product
                n += 1
            }
        }
    }

    public func key(_ index: Int) -> [Float] { dense(keyMasks, keyValues, index) }
    public func value(_ index: Int) -> [Float] { dense(valueMasks, valueValues, index) }

    public func retain(indices: [Int]) {
        keyMasks = ContiguousArray(indices.flatMap { keyMasks[$0 * words ..< ($0 + 1) * words] })
        valueMasks = ContiguousArray(indices.flatMap { valueMasks[$0 * words ..< ($0 + 1) * words] })
        keyValues = ContiguousArray(indices.flatMap { keyValues[$0 * kept ..< ($0 + 1) * kept] })
        valueValues = ContiguousArray(indices.flatMap { valueValues[$0 * kept ..< ($0 + 1) * kept] })
        positions = PositionRuns(indices.map { positions[$0] })
    }

    /// A moved key is rotated densely and pruned again to its `kept` largest values.
    public func reposition(_ newPositions: [Int32], rope: RoPE) {
        for i in 0 ..< count where newPositions[i] != positions[i] {
            write(i, key: rope.rotated(key(i), by: Int(newPositions[i] - positions[i])), value: value(i))
        }
        positions = PositionRuns(newPositions)
    }

    public func replace(_ index: Int, key: [Float], value: [Float]) { write(index, key: key, value: value) }

    public func copy(sharing copies: SharedStorageCopies) -> any KVSegment {
        let c = SparseSegment(headDimension: headDimension, kept: kept)
        c.keyMasks = keyMasks
        c.keyValues = keyValues
        c.valueMasks = valueMasks
        c.valueValues = valueValues
        c.positions = positions
        return c
    }

    /// The channels of the `kept` largest magnitudes of `row` (the lower channel first on ties), ascending.
    static func largest(_ row: [Float], kept: Int) -> [Int] {
        let order = row.indices.sorted { abs(row[$0]) != abs(row[$1]) ? abs(row[$0]) > abs(row[$1]) : $0 < $1 }
        return order.prefix(kept).sorted()
    }

    private func write(_ index: Int, key: [Float], value: [Float]) {
        for (row, isKey) in [(key, true), (value, false)] {
            let channels = Self.largest(row, kept: kept)
            var mask = [UInt64](repeating: 0, count: words)
            for c in channels { mask[c / 64] |= 1 << UInt64(c % 64) }
            for w in 0 ..< words {
                if isKey { keyMasks[index * words + w] = mask[w] } else { valueMasks[index * words + w] = mask[w] }
            }
            for (n, c) in channels.enumerated() {
                let bits = HalfConversion.bits(fromFloat: row[c])
                if isKey { keyValues[index * kept + n] = bits } else { valueValues[index * kept + n] = bits }
            }
        }
    }

    @inline(__always)
    private func forEachKept(_ masks: ContiguousArray<UInt64>, row: Int, _ body: (Int) -> Void) {
        for w in 0 ..< words {
            var bits = masks[row * words + w]
            while bits != 0 {
                body(w * 64 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
    }

    private func dense(_ masks: ContiguousArray<UInt64>, _ values: ContiguousArray<UInt16>, _ index: Int) -> [Float] {
        var row = [Float](repeating: 0, count: headDimension)
        var n = 0
        forEachKept(masks, row: index) { channel in
            row[channel] = HalfConversion.float(fromBits: values[index * kept + n])
            n += 1
        }
        return row
    }
}

extension SparseSegment: ArchivableSegment {
    static var archiveKind: UInt8 { 5 }

    func archive(into writer: inout ArchiveWriter) {
        writer.int(kept)
        positions.archive(into: &writer)
        writer.array(keyMasks)
        writer.array(keyValues)
        writer.array(valueMasks)
        writer.array(valueValues)
    }

    /// Every row's bitmap must mark exactly `kept` channels below the head dimension: the kernels read `kept` values
    /// per row for the bits they find.
    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> SparseSegment {
        let kept = try reader.int()
        guard kept >= 1, kept <= headDimension else { throw CacheArchiveError.corrupted("sparse rows keeping \(kept)") }
        let segment = SparseSegment(headDimension: headDimension, kept: kept)
        segment.positions = try PositionRuns.unarchive(from: &reader)
        segment.keyMasks = try reader.array(of: UInt64.self)
        segment.keyValues = try reader.array(of: UInt16.self)
        segment.valueMasks = try reader.array(of: UInt64.self)
        segment.valueValues = try reader.array(of: UInt16.self)
        let rows = segment.positions.count
        let words = segment.words
        for (masks, values) in [(segment.keyMasks, segment.keyValues), (segment.valueMasks, segment.valueValues)] {
            guard masks.count == rows * words, values.count == rows * kept else {
                throw CacheArchiveError.corrupted("a sparse segment's rows do not match its tokens")
            }
            for row in 0 ..< rows {
                let mask = masks[row * words ..< (row + 1) * words]
                guard Self.marksExactly(kept, of: headDimension, mask) else {
                    throw CacheArchiveError.corrupted("sparse row \(row) does not mark \(kept) channels")
                }
            }
        }
        return segment
    }

    private static func marksExactly(_ kept: Int, of dimension: Int, _ mask: ArraySlice<UInt64>) -> Bool {
        var marked = 0
        for (word, bits) in mask.enumerated() {
            let channelsInWord = min(64, dimension - word * 64)
            if channelsInWord < 64, bits >> UInt64(channelsInWord) != 0 { return false }
            marked += bits.nonzeroBitCount
        }
        return marked == kept
    }
}
