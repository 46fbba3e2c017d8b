/// Nucleus sampling: keeps the smallest set of most likely tokens whose probability reaches `p`.
public struct TopPFilter: LogitProcessor {
    public let p: Float
    public init(p: Float) { self.p = p }

    public func process(_ candidates: inout TokenCandidates, history: [Int]) {
        guard p < 1, candidates.count > 1 else { return }
        candidates.sortDescending()
        let probabilities = candidates.probabilities()
        var cumulative: Float = 0
        for (i, probability) in probabilities.enumerated() {
            cumulative += probability
            if cumulative >= p {
                candidates.truncate(to: i + 1)
                return
            }
        }
    }
}
