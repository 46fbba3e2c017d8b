import KVCache

/// Decides what a KV cache keeps. A press runs after prefill (the whole prompt is in the cache) and frees
/// real bytes: heads are compacted, not masked.
public protocol KVPress: Sendable {
    /// A short name for statistics and reports (e.g. "knorm@0.5").
    var description: String { get }
    /// Compresses `cache` in place.
    func compress(_ cache: KVCache) throws
    /// Called after every generated token (`step` counts them from 1); most presses act only after prefill.
    func compressDuringDecoding(_ cache: KVCache, step: Int) throws
}

extension KVPress {
    public func compressDuringDecoding(_ cache: KVCache, step: Int) throws {}
}

/// A press that only scores tokens; the shared selection keeps, in every KV head, the highest-scoring
/// `n − ⌊n·compressionRatio⌋` tokens (kvpress's `compression_ratio` is the fraction removed).
public protocol ScorerPress: KVPress {
    var compressionRatio: Double { get }
    /// One score per token the head retains (higher is kept first).
    /// - Parameters:
    ///   - head: the KV head's storage.
    ///   - layer: its layer index; `index`: its KV-head index in the layer.
    func scores(head: HeadCache, layer: Int, index: Int) -> [Float]
}

extension ScorerPress {
    public func compress(_ cache: KVCache) throws {
        keep(in: cache) { n in n - Int((Double(n) * compressionRatio).rounded(.down)) }
    }

    /// Keeps, in every head, the `budget(count)` highest-scoring tokens.
    public func keep(in cache: KVCache, budget: (Int) -> Int) {
        for (l, layer) in cache.layers.enumerated() {
            for (h, head) in layer.heads.enumerated() {
                let keep = budget(head.count)
                guard keep < head.count else { continue }
                head.retain(indices: TopK.indices(of: scores(head: head, layer: l, index: h), count: keep))
            }
        }
    }
}

/// Selection shared by scorer presses.
public enum TopK {
    /// Indices of the `count` largest scores (earlier tokens first on ties), in ascending index order.
    public static func indices(of scores: [Float], count: Int) -> [Int] {
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        return order.prefix(max(0, count)).sorted()
    }
}
