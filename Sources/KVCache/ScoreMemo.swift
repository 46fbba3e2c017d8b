import Foundation

/// Token scores a scorer made for one layer, kept for the presses that later score the same layer of a copy of the
/// same cache with the same scorer. A sweep compresses copies of one prefilled prompt at several ratios and with
/// presses that share a scorer (`snapkv`, `pyramid`, `adakv` and `layer-adaptive` all score with SnapKV), and a
/// scorer's scores do not depend on the ratio: made once, they serve every copy.
///
/// Whoever attaches a memo to a cache (`KVCache.scoreMemo`; its copies share it, its views do not) promises that
/// every cache it reaches is a copy of that one cache. An entry is then used only while the layer still has the
/// shape it had when the scores were made (`LayerCache.scoringShape`: every head's segment kinds, counts and
/// positions), so a layer another press already changed is scored afresh.
public final class ScoreMemo: @unchecked Sendable {
    private struct Entry {
        let shape: [Int]
        let scores: [[Float]]
    }

    private var entries: [String: Entry] = [:]
    private let lock = NSLock()
    /// Scores made and scores reused since the memo began (for tests and reports).
    public private(set) var computed = 0
    public private(set) var reused = 0

    public init() {}

    /// The scores `scorer` (a key naming the scorer and every setting its scores depend on) gives layer `index`:
    /// the memo's when the layer's shape is the one they were made for, else `compute()`'s, remembered.
    func scores(scorer: String, layer: LayerCache, index: Int,
                compute: () throws -> [[Float]]) rethrows -> [[Float]] {
        let key = "\(scorer)#\(index)"
        let shape = layer.scoringShape
        let kept: [[Float]]? = lock.withLock {
            guard let entry = entries[key], entry.shape == shape else { return nil }
            reused += 1
            return entry.scores
        }
        if let kept { return kept }
        let made = try compute()
        lock.withLock {
            entries[key] = Entry(shape: shape, scores: made)
            computed += 1
        }
        return made
    }
}

extension KVCache {
    /// `compute()`'s scores for layer `layer`, or the ones it gave for that layer of a copy of this cache under the
    /// same `key` (see `ScoreMemo`; no memo attached or no key: always `compute()`).
    public func sharedScores(_ key: String?, layer: Int, compute: () throws -> [[Float]]) rethrows -> [[Float]] {
        guard let key, let scoreMemo else { return try compute() }
        return try scoreMemo.scores(scorer: key, layer: layers[layer], index: layer, compute: compute)
    }
}

extension LayerCache {
    /// What a layer's scores depend on besides the values in it: per head, each segment's kind, count and whether
    /// presses may evict from it, and an FNV-1a hash of the positions the head holds. Copies of one cache have equal
    /// shapes; a press that evicts, merges or re-stores tokens changes it.
    var scoringShape: [Int] {
        var shape: [Int] = [heads.count]
        for head in heads {
            shape.append(head.segments.count)
            for segment in head.segments {
                shape.append(ObjectIdentifier(type(of: segment)).hashValue)
                shape.append(segment.count)
                shape.append(segment.isPressable ? 1 : 0)
            }
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for position in head.positions {
                hash = (hash ^ UInt64(UInt32(bitPattern: position))) &* 0x100_0000_01b3
            }
            shape.append(Int(truncatingIfNeeded: hash))
        }
        return shape
    }
}
