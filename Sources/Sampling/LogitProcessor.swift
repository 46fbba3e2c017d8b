/// One step of the sampling chain: reshapes or narrows the candidates.
public protocol LogitProcessor: Sendable {
    /// - Parameters:
    ///   - candidates: the candidates to adjust in place.
    ///   - history: tokens seen so far (prompt and generated), most recent last.
    func process(_ candidates: inout TokenCandidates, history: [Int])
}
