import Kernels

/// One layer's view of tokens it shares with the same head of the adjacent layer (MiniCache): token j reads as key
/// `keyMagnitude(j, slot) · keyDirection(j)` and value `valueMagnitude(j, slot) · valueDirection(j)`. The view
/// of slot 0 charges the shared bytes; the other reads them for free. Presses do not drop shared tokens.
public final class SharedTokenView: KVSegment {
    public let storage: SharedTokens
    /// 0 for the first layer of the pair, 1 for the second.
    public let slot: Int

    public init(_ storage: SharedTokens, slot: Int) {
        precondition(slot == 0 || slot == 1, "a shared segment has two slots")
        self.storage = storage
        self.slot = slot
    }

    public var headDimension: Int { storage.headDimension }
    public var count: Int { storage.count }
    public var positions: PositionRuns { storage.positions }
    public var byteCount: Int { slot == 0 ? storage.byteCount : 0 }
    public var isPressable: Bool { false }
    public var sharedStorage: AnyObject? { storage }

    /// A logit is this layer's key magnitude times the direction's logit.
    public func logits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder, kernel: AttentionKernel,
                       scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        let d = headDimension
        storage.withDirections { keys, _ in
            F16Rows.logits(query: query, rows: keys + tokens.lowerBound * d, count: tokens.count, dimension: d,
                           order: order, kernel: kernel, scratch: scratch, into: logits)
        }
        for (i, j) in tokens.enumerated() { logits[i] *= storage.keyMagnitude(j, slot: slot) }
    }

    /// A weight is multiplied by this layer's value magnitude, then applied to the direction.
    public func weightedSum(weights: UnsafeMutablePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                            kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let d = headDimension
        for (i, j) in tokens.enumerated() { weights[i] *= storage.valueMagnitude(j, slot: slot) }
        storage.withDirections { _, values in
            F16Rows.weightedSum(weights: weights, rows: values + tokens.lowerBound * d, count: tokens.count,
                                dimension: d, order: order, kernel: kernel, lanes: lanes, scratch: scratch, into: output)
        }
    }

    public func key(_ index: Int) -> [Float] { storage.token(index, slot: slot).key }
    public func value(_ index: Int) -> [Float] { storage.token(index, slot: slot).value }

    /// Drops shared tokens from both layers of the pair.
    public func retain(indices: [Int]) { storage.retain(indices: indices) }

    /// Moves the shared tokens for both layers of the pair (`KVCache.reindex` calls this once per storage).
    public func reposition(_ newPositions: [Int32], rope: RoPE) { storage.reposition(newPositions, rope: rope) }

    public func copy(sharing copies: SharedStorageCopies) -> any KVSegment {
        SharedTokenView(copies.copy(of: storage) { $0.copy() }, slot: slot)
    }
}

/// The first view of a storage writes it; the other view of the pair names it by number. On reading, a storage is
/// read by at most one view per slot, and its rows must match its tokens.
extension SharedTokenView: ArchivableSegment {
    static var archiveKind: UInt8 { 6 }

    func archive(into writer: inout ArchiveWriter) {
        writer.u8(UInt8(slot))
        if let number = writer.sharedStorage[ObjectIdentifier(storage)] {
            writer.u8(1)
            writer.int(number)
            return
        }
        writer.sharedStorage[ObjectIdentifier(storage)] = writer.sharedStorage.count
        writer.u8(0)
        storage.archive(into: &writer)
    }

    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> SharedTokenView {
        let slot = Int(try reader.u8())
        guard slot == 0 || slot == 1 else { throw CacheArchiveError.corrupted("shared tokens of slot \(slot)") }
        let number: Int
        switch try reader.u8() {
        case 0:
            reader.sharedTokens.append((try SharedTokens.unarchive(from: &reader, headDimension: headDimension), []))
            number = reader.sharedTokens.count - 1
        case 1:
            guard !reader.sharedTokens.isEmpty else { throw CacheArchiveError.corrupted("shared tokens never written") }
            number = try reader.count(limit: reader.sharedTokens.count - 1)
        case let flag:
            throw CacheArchiveError.corrupted("shared tokens flag \(flag)")
        }
        let tokens = reader.sharedTokens[number].tokens
        guard tokens.headDimension == headDimension, reader.sharedTokens[number].slots.insert(slot).inserted else {
            throw CacheArchiveError.corrupted("shared tokens read twice by slot \(slot) or by another head size")
        }
        return SharedTokenView(tokens, slot: slot)
    }
}
