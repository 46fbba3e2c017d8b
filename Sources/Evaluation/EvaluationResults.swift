/// One perplexity measurement: a continuation scored with a (compressed) cache.
public struct PerplexityRecord: Sendable, Codable, Equatable {
    public var press: String
    public var ratio: Double
    public var context: Int
    public var sample: Int
    public var tokens: Int
    /// Mean negative log-likelihood of the continuation, nats.
    public var nll: Double
    public var ppl: Double
    /// Mean KL(full cache ‖ this cache) of the next-token distributions, nats.
    public var kl: Double
    public var cacheBytes: Int
    public var denseBytes: Int
}

/// One question answered from a (compressed) cache.
public struct AnswerRecord: Sendable, Codable, Equatable {
    public var task: EvaluationPlan.Task
    public var press: String
    public var ratio: Double
    public var context: Int
    public var depth: Double
    public var mode: EvaluationPlan.Mode
    public var expected: [String]
    public var answer: String
    /// Share of the expected strings found in the answer (1: all).
    public var score: Double
    public var cacheBytes: Int
    public var denseBytes: Int
}

/// Everything one run measured, with the plan that produced it.
public struct EvaluationResults: Sendable, Codable {
    public var model: String
    public var plan: EvaluationPlan
    public var perplexity: [PerplexityRecord] = []
    public var answers: [AnswerRecord] = []

    public init(model: String, plan: EvaluationPlan) {
        self.model = model
        self.plan = plan
    }
}
