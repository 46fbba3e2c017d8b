// Based on: SnapKV: LLM Knows What You are Looking for Before Generation (arXiv 2404.14469).
import KVCache

/// Scores each token by the mean attention it gets from the last `window` prompt queries (the observation
/// window), smoothed by average pooling over neighbouring tokens; the window itself is always kept.
public struct SnapKVPress: HeadScorerPress {
    public let compressionRatio: Double
    public let window: Int
    public let kernel: Int
    public var description: String { "snapkv@\(compressionRatio)" }
    public var scoreKey: String? { "snapkv window=\(window) kernel=\(kernel)" }
    public var needs: AttentionNeeds { AttentionNeeds(window: window) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let window = 64
        public static let kernel = 5
    }

    public init(compressionRatio: Double, window: Int = Defaults.window, kernel: Int = Defaults.kernel) throws {
        guard window > 0 else { throw PressError.invalidParameter(name: "window", reason: "must be positive, got \(window)") }
        guard kernel > 0, kernel % 2 == 1 else {
            throw PressError.invalidParameter(name: "kernel", reason: "must be a positive odd number, got \(kernel)")
        }
        self.compressionRatio = compressionRatio
        self.window = window
        self.kernel = kernel
    }

    public func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        try AttentionScoring.pooledWindowScores(cache, layer: layer, head: head,
                                                queryHeads: cache.layers[layer].spec.queryHeads(of: head),
                                                window: window, kernel: kernel, press: self)
    }
}

extension SnapKVPress {
    public static let declaration = PressDeclaration(
        name: "snapkv", family: .scorer,
        summary: "mean attention of the last `window` prompt queries, average-pooled; the window kept",
        statistics: "last queries", paper: "SnapKV: LLM Knows What You are Looking for Before Generation",
        parameters: [
            .integer("window", Defaults.window, "observation window: last prompt queries"),
            .integer("kernel", Defaults.kernel, "pooling kernel, odd"),
        ],
        factory: .scorer { arguments in
            try SnapKVPress(compressionRatio: arguments.ratio, window: arguments.integer("window"),
                            kernel: arguments.integer("kernel"))
        })
}
