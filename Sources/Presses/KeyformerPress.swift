// Based on: Keyformer: KV Cache Reduction through Key Tokens Selection for Efficient Generative Inference (arXiv 2403.09054).
import KVCache

/// Accumulates a Gumbel-softmax–regularized attention score per key: softmax((logits + g) / τ) with one Gumbel
/// sample g per key (seeded), which spreads the score over keys that softmax alone would starve; the most
/// recent `window` tokens are always kept.
public struct KeyformerPress: HeadScorerPress {
    public let compressionRatio: Double
    public let temperature: Float
    public let window: Int
    public let seed: UInt64
    public var description: String { "keyformer@\(compressionRatio)" }
    public var scoreKey: String? { "keyformer temperature=\(temperature) window=\(window) seed=\(seed)" }
    public var needs: AttentionNeeds { AttentionNeeds(accumulations: [.gumbel(temperature: temperature, seed: seed)]) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let temperature: Float = 1
        public static let window = 32
        public static let seed: UInt64 = 0
    }

    public init(compressionRatio: Double, temperature: Float = Defaults.temperature, window: Int = Defaults.window,
                seed: UInt64 = Defaults.seed) throws {
        guard temperature > 0, temperature.isFinite else {
            throw PressError.invalidParameter(name: "temperature", reason: "must be positive, got \(temperature)")
        }
        guard window >= 0 else { throw PressError.invalidParameter(name: "window", reason: "must be ≥ 0, got \(window)") }
        self.compressionRatio = compressionRatio
        self.temperature = temperature
        self.window = window
        self.seed = seed
    }

    public func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        let statistics = try AttentionScoring.statistics(cache, for: self)
        var scores = statistics.accumulated(.gumbel(temperature: temperature, seed: seed), layer: layer, head: head,
                                            count: cache.layers[layer].heads[head].count)
        AttentionScoring.protectRecent(&scores, window: window)
        return scores
    }
}

extension KeyformerPress {
    public static let declaration = PressDeclaration(
        name: "keyformer", family: .scorer,
        summary: "accumulated softmax((logits + Gumbel noise)/τ); last `window` kept",
        statistics: "running sums", paper: "Keyformer: KV Cache Reduction through Key Tokens Selection",
        parameters: [
            .real("temperature", Defaults.temperature, "Gumbel-softmax temperature τ"),
            .integer("window", Defaults.window, "recent tokens always kept"),
            .integer("seed", Int(Defaults.seed), "noise seed"),
        ],
        factory: .scorer { arguments in
            try KeyformerPress(compressionRatio: arguments.ratio, temperature: arguments.float("temperature"),
                               window: arguments.integer("window"), seed: arguments.seed("seed"))
        })
}
