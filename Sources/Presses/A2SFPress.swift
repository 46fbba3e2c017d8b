// Based on: A2SF: Accumulative Attention Scoring with Forgetting Factor for Token Pruning in Transformer Decoder (arXiv 2407.20485).
import KVCache

/// H2O's accumulated attention with a forgetting factor: score = Σ_q λ^(age of q) · attention(q → token),
/// so tokens that arrived late are not out-voted by tokens that were simply seen by more queries.
public struct A2SFPress: HeadScorerPress {
    public let compressionRatio: Double
    public let forgetting: Float
    public let window: Int
    public var description: String { "a2sf@\(compressionRatio)" }
    public var needs: AttentionNeeds { AttentionNeeds(accumulations: [.attention(decay: forgetting)]) }

    public init(compressionRatio: Double, forgetting: Float = 0.99, window: Int = 0) throws {
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
