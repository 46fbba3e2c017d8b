/// Divides logits by the temperature (below 1 sharpens, above 1 flattens).
public struct TemperatureScaling: LogitProcessor {
    public let temperature: Float
    public init(temperature: Float) { self.temperature = temperature }

    public func process(_ candidates: inout TokenCandidates, history: [Int]) {
        guard temperature > 0, temperature != 1 else { return }
        for i in candidates.logits.indices { candidates.logits[i] /= temperature }
    }
}
