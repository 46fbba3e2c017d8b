// Based on: A2SF: Accumulative Attention Scoring with Forgetting Factor for Token Pruning in Transformer Decoder (arXiv 2407.20485).
import KVCache

/// H2O's accumulated attention with a forgetting factor: score = Σ_q λ^(age of q) · attention(q → token),
/// so tokens that arrived late are not out-voted by tokens that were simply seen by more queries.
public struct A2SFPress: HeadScorerPress {
    public let compressionRatio: Double
    public let forgetting: Float
    public let window: Int
    public var description: String { "a2sf@\(compressionRatio)" }
    public var scoreKey: String? { "a2sf forgetting=\(forgetting) window=\(window)" }
    public var needs: AttentionNeeds { AttentionNeeds(accumulations: [.attention(decay: forgetting)]) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let forgetting: Float = 0.99
        public static let window = 0
    }

    public init(compressionRatio: Double, forgetting: Float = Defaults.forgetting, window: Int = Defaults.window) throws {
        guard forgetting > 0, forgetting <= 1 else {
            throw PressError.invalidParameter(name: "forgetting", reason: "must be in (0, 1], got \(forgetting)")
        }
        guard window >= 0 else { throw PressError.invalidParameter(name: "window", reason: "must be ≥ 0, got \(window)") }
        self.compressionRatio = compressionRatio
        self.forgetting = forgetting
        self.window = window
    }

    public func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        let statistics = try AttentionScoring.statistics(cache, for: self)
        var scores = statistics.accumulated(.attention(decay: forgetting), layer: layer, head: head,
                                            count: cache.layers[layer].heads[head].count)
        AttentionScoring.protectRecent(&scores, window: window)
        return scores
    }
}

extension A2SFPress {
    public static let declaration = PressDeclaration(
        name: "a2sf", family: .scorer, summary: "the same sums with a forgetting factor λ per step",
        statistics: "running sums", paper: "A2SF: Accumulative Attention Scoring with Forgetting Factor",
        parameters: [
            .real("forgetting", Defaults.forgetting, "forgetting factor λ in (0, 1]"),
            .integer("window", Defaults.window, "recent tokens always kept"),
        ],
        factory: .scorer { arguments in
            try A2SFPress(compressionRatio: arguments.ratio, forgetting: arguments.float("forgetting"),
                          window: arguments.integer("window"))
        })
}
