/// Sampling settings, as the CLI exposes them. Temperature 0 means greedy.
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float = 0.8
    public var topK: Int = 40
    public var topP: Float = 0.95
    public var minP: Float = 0.05
    public var repetitionPenalty: Float = 1.0
    public var repetitionWindow: Int = 64
    public var seed: UInt64 = 0

    public init() {}

    public static var greedy: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 0
        return p
    }
}

/// Processors in llama.cpp's default order (penalties → top-k → top-p → min-p → temperature), then a draw;
/// with temperature 0, the penalties then the most likely token.
public struct SamplerChain: Sendable {
    public let processors: [any LogitProcessor]
    public let greedy: Bool
    private var generator: SeededGenerator

    public init(_ parameters: SamplingParameters) {
        var chain: [any LogitProcessor] = []
        if parameters.repetitionPenalty != 1 {
            chain.append(RepetitionPenalty(penalty: parameters.repetitionPenalty, window: parameters.repetitionWindow))
        }
        greedy = parameters.temperature <= 0
        if !greedy {
            chain.append(TopKFilter(k: parameters.topK))
            chain.append(TopPFilter(p: parameters.topP))
            chain.append(MinPFilter(p: parameters.minP))
            chain.append(TemperatureScaling(temperature: parameters.temperature))
        }
        processors = chain
        generator = SeededGenerator(seed: parameters.seed)
    }

    /// Picks the next token from a row of logits.
    public mutating func sample(logits: [Float], history: [Int]) -> Int {
        if greedy && processors.isEmpty { return Self.argmax(logits) }
        var candidates = TokenCandidates(logits: logits)
        for p in processors { p.process(&candidates, history: history) }
        // Filters keep at least one candidate on finite logits; if none is left, the most likely token stands.
        guard !candidates.ids.isEmpty else { return Self.argmax(logits) }
        if greedy { return candidates.ids[Self.argmax(candidates.logits)] }
        let probabilities = candidates.probabilities()
        let draw = Float(Double(generator.next() >> 11) / Double(1 << 53))
        var cumulative: Float = 0
        for (i, probability) in probabilities.enumerated() {
            cumulative += probability
            if draw < cumulative { return candidates.ids[i] }
        }
        return candidates.ids[candidates.ids.count - 1]
    }

    /// Index of the largest value (the first on ties, as llama.cpp's greedy sampler).
    public static func argmax(_ values: [Float]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }
}
