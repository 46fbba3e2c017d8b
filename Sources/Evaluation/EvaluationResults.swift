import Engine
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
    /// Bits per key or value element the cache spends after the press (codes, scales, positions: all of it), and
    /// each layer's exact bytes (older result files have neither).
    public var bitsPerElement: Double?
    public var layerBytes: [Int]?
    /// For the target allocator: its predicted mean KL, and each layer × KV head's bytes as a share of that head's
    /// dense f16 bytes (the plan's heatmap).
    public var predictedKL: Double?
    public var headShares: [[Double]]?
    /// Per scored token: KL(full ‖ this), and Δp of the actual next token (`TokenDivergence`); how many tokens
    /// kept the full cache's top-1 token. Absent in results written before they were recorded.
    public var tokenKL: [Double]?
    public var tokenDeltaP: [Double]?
    public var sameTop: Int?

    /// llama.cpp's KL summary over the tokens of `records` (nil when a record lacks its per-token values).
    public static func divergence(_ records: [PerplexityRecord]) -> DivergenceStatistics? {
        guard !records.isEmpty, records.allSatisfy({ $0.tokenKL != nil && $0.tokenDeltaP != nil && $0.sameTop != nil }) else { return nil }
        let kl = records.flatMap { $0.tokenKL ?? [] }
        let deltaP = records.flatMap { $0.tokenDeltaP ?? [] }
        return DivergenceStatistics(kl: kl, deltaP: deltaP, sameTop: records.reduce(0) { $0 + ($1.sameTop ?? 0) })
    }
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
    /// Bits per key or value element the cache spends after the press (codes, scales, positions: all of it), and
    /// each layer's exact bytes (older result files have neither).
    public var bitsPerElement: Double?
    public var layerBytes: [Int]?

    public init(task: EvaluationPlan.Task, press: String, ratio: Double, context: Int, depth: Double, sample: Int?,
                mode: EvaluationPlan.Mode, expected: [String], answer: String, score: Double, cacheBytes: Int, denseBytes: Int) {
        self.task = task
        self.press = press
        self.ratio = ratio
        self.context = context
        self.depth = depth
        self.sample = sample
        self.mode = mode
        self.expected = expected
        self.answer = answer
        self.score = score
        self.cacheBytes = cacheBytes
        self.denseBytes = denseBytes
    }
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
        // The sweep's order: home-made tasks task by task, then RULER's sample by sample (see `Evaluator.run`).
        func key(_ r: AnswerRecord) -> [Int] {
            let task = plan.tasks.firstIndex(of: r.task) ?? 0, context = plan.contexts.firstIndex(of: r.context) ?? 0
            let mode = plan.modes.firstIndex(of: r.mode) ?? 0, press = configuration(r.press, r.ratio)
            guard r.task.isRuler else { return [0, task, context, plan.depths.firstIndex(of: r.depth) ?? 0, mode, press] }
            return [1, context, r.sample ?? 0, task, mode, press]
        }
        merged.answers.sort { key($0).lexicographicallyPrecedes(key($1)) }
        return merged
    }
}

extension EvaluationResults {
    /// These results as results of `plan` when `plan` differs only in its sample counts and has RULER tasks only:
    /// RULER's samples of a seed are the same whatever their count (the generators draw them one after another), so
    /// the cells of the samples both plans share are kept and the others dropped. Nil for any other plan.
    public func reusedFor(_ plan: EvaluationPlan) -> EvaluationResults? {
        var same = self.plan
        same.samples = plan.samples
        same.taskSamples = plan.taskSamples
        guard same == plan, plan.tasks.allSatisfy(\.isRuler) else { return nil }
        var reused = EvaluationResults(model: model, plan: plan)
        reused.answers = answers.filter { ($0.sample ?? 0) < plan.samples(for: $0.task) }
        return reused
    }
}
