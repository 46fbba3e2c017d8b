import KVCache

/// Decides what a KV cache keeps. A press runs after prefill (the whole prompt is in the cache) and frees
/// real bytes: heads are compacted, not masked.
public protocol KVPress: Sendable {
    /// A short name for statistics and reports (e.g. "knorm@0.5").
    var description: String { get }
    /// Compresses `cache` in place.
    func compress(_ cache: KVCache) throws
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
        for (l, layer) in cache.layers.enumerated() {
            for (h, head) in layer.heads.enumerated() {
                let n = head.count
                let keep = n - Int((Double(n) * compressionRatio).rounded(.down))
                guard keep < n else { continue }
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
