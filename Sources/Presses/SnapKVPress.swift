// Based on: SnapKV: LLM Knows What You are Looking for Before Generation (arXiv 2404.14469).
import KVCache

/// Scores each token by the mean attention it gets from the last `window` prompt queries (the observation
/// window), smoothed by average pooling over neighbouring tokens; the window itself is always kept.
public struct SnapKVPress: HeadScorerPress {
    public let compressionRatio: Double
    public let window: Int
    public let kernel: Int
    public var description: String { "snapkv@\(compressionRatio)" }
    public var needs: AttentionNeeds { AttentionNeeds(window: window) }

    public init(compressionRatio: Double, window: Int = 64, kernel: Int = 5) throws {
        guard window > 0 else { throw PressError.invalidParameter(name: "window", reason: "must be positive, got \(window)") }
        guard kernel > 0, kernel % 2 == 1 else { throw PressError.invalidParameter(name: "kernel", reason: "must be a positive odd number, got \(kernel)") }
        self.compressionRatio = compressionRatio
        self.window = window
        self.kernel = kernel
    }

    public func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        try AttentionScoring.pooledWindowScores(cache, layer: layer, head: head, queryHeads: cache.layers[layer].spec.queryHeads(of: head),
                                                window: window, kernel: kernel, press: self)
    }
}
