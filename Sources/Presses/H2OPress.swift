// Based on: H2O: Heavy-Hitter Oracle for Efficient Generative Inference of Large Language Models (arXiv 2306.14048).
import KVCache

/// Keeps the "heavy hitters": tokens with the largest attention accumulated over every query so far
/// (summed over the query heads of the group), plus the most recent `window` tokens.
public struct H2OPress: HeadScorerPress {
    public let compressionRatio: Double
    public let window: Int
    public var description: String { "h2o@\(compressionRatio)" }
    public var scoreKey: String? { "h2o window=\(window)" }
    public var needs: AttentionNeeds { AttentionNeeds(accumulations: [.attention(decay: 1)]) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let window = 32
    }

    public init(compressionRatio: Double, window: Int = Defaults.window) throws {
        guard window >= 0 else { throw PressError.invalidParameter(name: "window", reason: "must be ≥ 0, got \(window)") }
        self.compressionRatio = compressionRatio
        self.window = window
    }

    public func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        let statistics = try AttentionScoring.statistics(cache, for: self)
        var scores = statistics.accumulated(.attention(decay: 1), layer: layer, head: head, count: cache.layers[layer].heads[head].count)
        AttentionScoring.protectRecent(&scores, window: window)
        return scores
    }
}

extension H2OPress {
    public static let declaration = PressDeclaration(
        name: "h2o", family: .scorer, summary: "attention accumulated over every query so far; last `window` kept",
        statistics: "running sums", paper: "H2O: Heavy-Hitter Oracle",
        parameters: [.integer("window", Defaults.window, "recent tokens always kept")],
        factory: .scorer { try H2OPress(compressionRatio: $0.ratio, window: $0.integer("window")) })
}
