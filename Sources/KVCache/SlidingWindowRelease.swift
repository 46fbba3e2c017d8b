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
                // Positions ascend over a head's tokens, so the stale ones lead: counted without building a list.
                let stale = head.visibleCount(upTo: firstNeeded - 1)
                let count = head.count
                guard stale >= Self.releaseRun || (stale > 0 && stale == count) else { continue }
                retain(layer: l, head: h, indices: Array(stale ..< count))
                windowReleasedTokens += stale
            }
        }
    }

    /// Bytes the released tokens would hold in a dense f16 cache: what the sliding windows saved.
    public var windowSavedBytes: Int { windowReleasedTokens * headDimension * 2 * 2 }
}
