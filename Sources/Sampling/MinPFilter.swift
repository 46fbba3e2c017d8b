import Foundation

/// Keeps tokens whose probability is at least `p` times the most likely token's.
public struct MinPFilter: LogitProcessor {
    public let p: Float
    public init(p: Float) { self.p = p }

    public func process(_ candidates: inout TokenCandidates, history: [Int]) {
        guard p > 0, let maximum = candidates.logits.max() else { return }
        // p_i ≥ p·p_max  ⇔  logit_i ≥ logit_max + ln p
        let threshold = maximum + log(p)
        var kept = TokenCandidates(logits: [])
        for (id, logit) in zip(candidates.ids, candidates.logits) where logit >= threshold {
            kept.ids.append(id)
            kept.logits.append(logit)
        }
        candidates = kept
    }
}
