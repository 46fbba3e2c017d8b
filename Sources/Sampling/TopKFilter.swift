/// Keeps the `k` highest logits.
public struct TopKFilter: LogitProcessor {
    public let k: Int
    public init(k: Int) { self.k = k }

    public func process(_ candidates: inout TokenCandidates, history: [Int]) {
        guard k > 0, k < candidates.count else { return }
        candidates.keepLargest(k)
    }
}
