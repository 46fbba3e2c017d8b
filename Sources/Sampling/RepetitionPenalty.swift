/// Divides positive logits (multiplies negative ones) of tokens seen in the last `window` tokens by `penalty`
/// (CTRL's repetition penalty, as llama.cpp's `penalty_repeat`).
public struct RepetitionPenalty: LogitProcessor {
    public let penalty: Float
    public let window: Int

    public init(penalty: Float, window: Int = 64) {
        self.penalty = penalty
        self.window = window
    }

    public func process(_ candidates: inout TokenCandidates, history: [Int]) {
        guard penalty != 1 else { return }
        let seen = Set(history.suffix(window))
        for i in candidates.ids.indices where seen.contains(candidates.ids[i]) {
            candidates.logits[i] = candidates.logits[i] > 0 ? candidates.logits[i] / penalty : candidates.logits[i] * penalty
        }
    }
}
