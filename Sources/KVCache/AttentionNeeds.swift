/// What a press asks the model to record while it runs (collecting costs time, so only what is asked is kept).
public struct AttentionNeeds: Sendable, Equatable {
    /// Keep the last `window` queries of every layer (after RoPE), e.g. SnapKV's observation window.
    public var window = 0
    /// Running sums of the attention every retained key receives (H2O, A2SF, Keyformer).
    public var accumulations: [Accumulation] = []
    /// Mean and covariance of every layer's queries before RoPE (Expected Attention).
    public var queryMoments = false

    public init(window: Int = 0, accumulations: [Accumulation] = [], queryMoments: Bool = false) {
        self.window = window
        self.accumulations = accumulations
        self.queryMoments = queryMoments
    }

    public static let none = AttentionNeeds()

    public var isEmpty: Bool { self == .none }

    /// Everything either side needs (composed presses collect once for all).
    public func union(_ other: AttentionNeeds) -> AttentionNeeds {
        AttentionNeeds(window: max(window, other.window),
                       accumulations: accumulations + other.accumulations.filter { !accumulations.contains($0) },
                       queryMoments: queryMoments || other.queryMoments)
    }
}

/// How attention rows are summed into a per-key score.
public enum Accumulation: Hashable, Sendable {
    /// Σ over queries q of decay^(age of q) · softmax row (H2O: decay 1; A2SF: decay < 1).
    case attention(decay: Float)
    /// Σ over queries of softmax((logits + Gumbel noise) / temperature), one noise value per key (Keyformer).
    case gumbel(temperature: Float, seed: UInt64)
}
