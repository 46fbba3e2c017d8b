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
    /// Which sample of a RULER task (nil for the home-made tasks, which are told apart by depth).
    public var sample: Int?
    public var mode: EvaluationPlan.Mode
    public var expected: [String]
    public var answer: String
    /// Share of the expected strings found in the answer (1: all).
    public var score: Double
    public var cacheBytes: Int
    public var denseBytes: Int
}

extension AnswerRecord {
    /// Identifies the cell this answer fills: one per task, context, depth or sample, mode and configuration.
    var cellKey: String { "\(task) \(context) \(depth) \(sample ?? -1) \(mode) \(press) \(ratio)" }
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

extension EvaluationResults {
    /// The measurements of `parts` (shards of one plan, or a run and its resumption) as one result, each cell
    /// once and in the order a single run records them.
    public static func merged(_ parts: [EvaluationResults], model: String, plan: EvaluationPlan) -> EvaluationResults {
        var merged = EvaluationResults(model: model, plan: plan)
        let configurations = plan.configurations
        func configuration(_ press: String, _ ratio: Double) -> Int {
            configurations.firstIndex { $0.press == press && $0.ratio == ratio } ?? configurations.count
        }
        var seenPerplexity = Set<String>(), seenAnswers = Set<String>()
        for part in parts where part.plan == plan {
            for r in part.perplexity where seenPerplexity.insert("\(r.context) \(r.sample) \(r.press) \(r.ratio)").inserted {
                merged.perplexity.append(r)
            }
            for r in part.answers where seenAnswers.insert(r.cellKey).inserted {
                merged.answers.append(r)
            }
        }
        func key(_ r: PerplexityRecord) -> [Int] {
            [plan.contexts.firstIndex(of: r.context) ?? 0, r.sample, configuration(r.press, r.ratio)]
        }
        merged.perplexity.sort { key($0).lexicographicallyPrecedes(key($1)) }
        func key(_ r: AnswerRecord) -> [Double] {
            [Double(plan.tasks.firstIndex(of: r.task) ?? 0), Double(plan.contexts.firstIndex(of: r.context) ?? 0),
             Double(plan.depths.firstIndex(of: r.depth) ?? 0), Double(r.sample ?? 0),
             Double(plan.modes.firstIndex(of: r.mode) ?? 0), Double(configuration(r.press, r.ratio))]
        }
        merged.answers.sort { key($0).lexicographicallyPrecedes(key($1)) }
        return merged
    }
}
