/// Sliding-window layers hold for real only what a later query can still see: once every layer has run a batch,
/// tokens before the next query's window are released (bytes freed, statistics dropped with them). They go in
/// runs of `releaseRun` so that compacting a head costs little per token; a layer with window w therefore holds
/// at most w − 1 + releaseRun − 1 tokens between batches.
extension KVCache {
    public static let releaseRun = 32

    /// Advances `nextPosition` by `tokens` (the model calls this once every layer has seen the batch) and releases
    /// the tokens sliding-window layers no longer need.
    public func advance(by tokens: Int) {
        nextPosition += tokens
        guard releasesOutsideWindows else { return }
        for (l, layer) in layers.enumerated() {
            guard let window = layer.spec.slidingWindow else { continue }
            let firstNeeded = nextPosition - window + 1
            for (h, head) in layer.heads.enumerated() {
                let positions = head.positions
                let stale = positions.prefix { Int($0) < firstNeeded }.count
                guard stale >= Self.releaseRun || (stale > 0 && stale == positions.count) else { continue }
                let kept = positions.indices.filter { Int(positions[$0]) >= firstNeeded }
                retain(layer: l, head: h, indices: kept)
                windowReleasedTokens += positions.count - kept.count
            }
        }
    }

    /// Bytes the released tokens would hold in a dense f16 cache: what the sliding windows saved.
    public var windowSavedBytes: Int { windowReleasedTokens * headDimension * 2 * 2 }
}
