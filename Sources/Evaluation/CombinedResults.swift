import Presses

/// Several runs' results as one report (`tokenpress report a.json b.json`), so that configurations measured in
/// different sessions — fixed presses in one, the target allocator in another — share one table, one Pareto
/// comparison and one plot. Only runs that asked the same questions combine: the same model, tasks, contexts,
/// samples, seed and split; only their presses and ratios may differ — and RULER runs their sample counts, combined
/// on the samples they share.
extension EvaluationResults {
    /// The combined results, and notes on what was dropped or looks inconsistent (for stderr).
    public struct Combination: Sendable {
        public var results: EvaluationResults
        public var notes: [String]
    }

    /// Combines `sources` (a name for messages, and the results it holds). A configuration measured in more than
    /// one source is taken from the first that lists it.
    public static func combining(_ given: [(name: String, results: EvaluationResults)]) throws -> Combination {
        var notes: [String] = []
        let sources = onSharedSamples(given, notes: &notes)
        guard let first = sources.first else { throw EvaluationError.nothingToCombine }
        for source in sources.dropFirst() {
            guard source.results.model == first.results.model else {
                let models = "model (\(first.results.model) against \(source.results.model))"
                throw EvaluationError.incompatibleResults(first: first.name, other: source.name, field: models)
            }
            if let field = first.results.plan.questionDifference(source.results.plan) {
                throw EvaluationError.incompatibleResults(first: first.name, other: source.name, field: field)
            }
        }
        var plan = first.results.plan
        plan.presses = []
        plan.ratios = []
        var configurations: [EvaluationPlan.Configuration] = []
        var origin: [String: String] = [:]
        var combined = EvaluationResults(model: first.results.model, plan: plan)
        for (name, results) in sources {
            for c in results.plan.configurations {
                let key = Self.configurationKey(c.press, c.ratio)
                if let earlier = origin[key] {
                    if c.press != "none" { notes.append("\(key): taken from \(earlier), not from \(name)") }
                    continue
                }
                origin[key] = name
                if c.press != "none" {
                    configurations.append(.init(press: c.press, ratio: c.ratio))
                    if !plan.presses.contains(c.press) { plan.presses.append(c.press) }
                    if !plan.ratios.contains(c.ratio) { plan.ratios.append(c.ratio) }
                }
                combined.perplexity += results.perplexity.filter { $0.press == c.press && $0.ratio == c.ratio }
                combined.answers += results.answers.filter { $0.press == c.press && $0.ratio == c.ratio }
            }
            if name != first.name { notes += fullCacheDisagreement(first, (name, results)) }
        }
        plan.combinedConfigurations = configurations
        combined.plan = plan
        return Combination(results: combined, notes: notes)
    }

    /// Runs of RULER's tasks alone that took different numbers of samples combine on the samples all of them have:
    /// a task's first N samples are the same questions whatever count a run asked for (a 6-sample leaderboard with a
    /// 3-sample run of other presses). Other runs are returned as they are, for `questionDifference` to judge.
    static func onSharedSamples(_ sources: [(name: String, results: EvaluationResults)],
                                notes: inout [String]) -> [(name: String, results: EvaluationResults)] {
        let plans = sources.map(\.results.plan)
        guard let tasks = plans.first?.tasks, plans.allSatisfy({ $0.tasks == tasks && $0.tasks.allSatisfy(\.isRuler) })
        else { return sources }
        var shared: [String: Int] = [:]
        for task in tasks { shared[task.rawValue] = plans.map { $0.samples(for: task) }.min() }
        var reduced = sources
        for (index, source) in sources.enumerated() {
            var plan = source.results.plan
            plan.taskSamples = shared
            guard tasks.contains(where: { source.results.plan.samples(for: $0) != plan.samples(for: $0) }),
                  let fewer = source.results.reusedFor(plan) else { continue }
            reduced[index].results = fewer
            let counts = tasks.map { "\($0.rawValue)=\(plan.samples(for: $0))" }.joined(separator: ",")
            notes.append("\(source.name): only the samples every file has (\(counts))")
        }
        return reduced
    }

    /// A press that ignores the ratio is one configuration whatever ratio its run recorded.
    static func configurationKey(_ press: String, _ ratio: Double) -> String {
        press == "none" || PressRegistry.ignoresRatio(press) ? press : "\(press)@\(ratio)"
    }

    /// Where two runs' full caches differ — answers or bytes — the engine changed between them, and comparisons
    /// across the two files carry that change too.
    static func fullCacheDisagreement(_ a: (name: String, results: EvaluationResults),
                                      _ b: (name: String, results: EvaluationResults)) -> [String] {
        var notes: [String] = []
        var scores: [String: Double] = [:]
        for r in a.results.answers where r.press == "none" { scores[r.questionKey] = r.score }
        let shared = b.results.answers.filter { $0.press == "none" && scores[$0.questionKey] != nil }
        let differing = shared.filter { scores[$0.questionKey] != $0.score }.count
        if differing > 0 {
            notes.append("the full cache scores \(differing) of \(shared.count) questions differently in \(b.name) "
                         + "than in \(a.name): the engine changed between the runs")
        }
        var nll: [String: Double] = [:]
        for r in a.results.perplexity where r.press == "none" { nll["\(r.context) \(r.sample)"] = r.nll }
        let stretches = b.results.perplexity.filter { $0.press == "none" && nll["\($0.context) \($0.sample)"] != nil }
        let moved = stretches.filter { nll["\($0.context) \($0.sample)"] != $0.nll }.count
        if moved > 0 {
            notes.append("the full cache's perplexity differs on \(moved) of \(stretches.count) stretches in \(b.name) "
                         + "and \(a.name): the engine changed between the runs")
        }
        func fullBytes(_ results: EvaluationResults) -> Int? {
            let longest = results.plan.contexts.max()
            let records = results.answers.filter { $0.press == "none" && $0.context == longest }.map(\.cacheBytes)
                + results.perplexity.filter { $0.press == "none" && $0.context == longest }.map(\.cacheBytes)
            return records.isEmpty ? nil : records.reduce(0, +) / records.count
        }
        if let bytesA = fullBytes(a.results), let bytesB = fullBytes(b.results), bytesA != bytesB {
            notes.append("the full cache measures \(bytesB) bytes in \(b.name) and \(bytesA) in \(a.name): byte "
                         + "accounting changed between the runs; each configuration keeps its own run's bytes")
        }
        return notes
    }
}

extension EvaluationPlan {
    /// The first field, other than presses and ratios, in which `other` asks different questions (nil: none). A field
    /// only counts where the tasks read it: modes and answer tokens for questions, depths for the home-made ones,
    /// the continuation for perplexity.
    func questionDifference(_ other: EvaluationPlan) -> String? {
        let asks = tasks.contains { $0 != .perplexity }
        let hidesAtDepths = tasks.contains { $0 != .perplexity && !$0.isRuler }
        let scoresText = tasks.contains(.perplexity)
        let fields: [(String, Bool, (EvaluationPlan) -> String)] = [
            ("tasks", true, { $0.tasks.map(\.rawValue).joined(separator: ",") }),
            ("modes", asks, { $0.modes.map(\.rawValue).joined(separator: ",") }),
            ("contexts", true, { $0.contexts.map(String.init).joined(separator: ",") }),
            ("depths", hidesAtDepths, { $0.depths.map { "\($0)" }.joined(separator: ",") }),
            ("samples", true, { plan in
                plan.tasks.map { "\($0.rawValue)=\(plan.samples(for: $0))" }.joined(separator: ",")
            }),
            ("continuation", scoresText, { "\($0.continuation)" }),
            ("answer tokens", asks, { "\($0.answerTokens)" }),
            ("seed", true, { "\($0.seed)" }),
            ("split", true, { $0.split.rawValue }),
            ("press layers", true, { $0.pressLayers }),
        ]
        for (name, read, value) in fields where read && value(self) != value(other) {
            return "\(name) (\(value(self)) against \(value(other)))"
        }
        return nil
    }
}
