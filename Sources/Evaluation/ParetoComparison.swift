import Foundation
import Presses

/// The target allocator against every fixed configuration (a press at a ratio, a cache type, a precision press):
/// at each of the allocator's memory budgets, the best fixed configuration that fits in the budget, and the paired
/// difference between the two on the same questions or stretches — the claim "the allocator is at least tied with
/// the best fixed configuration at every budget" as the data can support it. Also the Pareto frontier of the fixed
/// configurations: those no other fixed configuration beats in both quality and bytes.
struct ParetoComparison {
    /// What quality means: the average task score (higher is better) or the mean KL to the full cache (lower).
    enum Quality {
        case score
        case kl

        func value(_ row: EvaluationReport.Row) -> Double? {
            switch self {
            case .score: return row.averageScore
            case .kl: return row.meanKL
            }
        }

        func interval(_ row: EvaluationReport.Row) -> [Double]? {
            switch self {
            case .score: return row.averageInterval
            case .kl: return row.meanKLInterval
            }
        }

        /// Whether quality a is better than b.
        func better(_ a: Double, than b: Double) -> Bool { self == .score ? a > b : a < b }
    }

    /// One memory target of the allocator and what it is compared with.
    struct Budget {
        var allocator: EvaluationReport.Row
        /// The bytes the target allows at the longest context.
        var bytes: Int
        var bestFixed: EvaluationReport.Row?
        /// Allocator minus best fixed (points of score, or nats of KL), with its 95% paired bootstrap interval.
        var difference: Double?
        var interval: ClosedRange<Double>?
        var verdict: String
    }

    let quality: Quality
    let frontier: [EvaluationReport.Row]
    let budgets: [Budget]

    /// Nil when the report has no memory target of the allocator, or no fixed configuration measured for `quality`.
    init?(_ report: EvaluationReport, quality: Quality) {
        let measured = report.rows.filter { quality.value($0) != nil }
        let targets = measured.filter { Self.isMemoryTarget($0.press) }
        let fixed = measured.filter { $0.press != "none" && !$0.press.hasPrefix("target:") }
        guard !targets.isEmpty, !fixed.isEmpty else { return nil }
        self.quality = quality
        frontier = Self.frontier(fixed, quality: quality)
        budgets = targets.compactMap { target in
            guard let bytes = Self.budgetBytes(target.press, results: report.results) else { return nil }
            return Self.compare(target, budget: bytes, fixed: fixed, quality: quality, results: report.results)
        }
    }

    static func isMemoryTarget(_ press: String) -> Bool {
        press.hasPrefix("target:memory=") || press.hasPrefix("target:bytes=")
    }

    /// Fixed configurations in order of bytes, each kept when it is better than every one with fewer bytes.
    static func frontier(_ rows: [EvaluationReport.Row], quality: Quality) -> [EvaluationReport.Row] {
        var kept: [EvaluationReport.Row] = []
        let ordered = rows.sorted { a, b in
            guard a.cacheBytes == b.cacheBytes else { return a.cacheBytes < b.cacheBytes }
            return quality.better(quality.value(a) ?? 0, than: quality.value(b) ?? 0)
        }
        for row in ordered {
            guard let value = quality.value(row) else { continue }
            if let last = kept.last, let best = quality.value(last), !quality.better(value, than: best) { continue }
            kept.append(row)
        }
        return kept
    }

    /// The target's bytes at the longest context (`CompressionTarget.budget`, from the press's own parsing): a share
    /// of the dense f16 cache there, or the bytes named.
    static func budgetBytes(_ press: String, results: EvaluationResults) -> Int? {
        guard let target = (try? PressRegistry.make(press, ratio: 0, profile: .placeholder) as? TargetPress)?.target
        else { return nil }
        let longest = results.plan.contexts.max()
        let dense = results.answers.filter { $0.press == press && $0.context == longest }.map(\.denseBytes)
            + results.perplexity.filter { $0.press == press && $0.context == longest }.map(\.denseBytes)
        guard !dense.isEmpty else { return nil }
        return target.budget(dense: dense.reduce(0, +) / dense.count)
    }

    static func compare(_ target: EvaluationReport.Row, budget: Int, fixed: [EvaluationReport.Row], quality: Quality,
                        results: EvaluationResults) -> Budget {
        let fitting = fixed.filter { $0.cacheBytes <= budget }
        let best = fitting.min { a, b in
            let x = quality.value(a) ?? 0
            let y = quality.value(b) ?? 0
            return x == y ? a.cacheBytes < b.cacheBytes : quality.better(x, than: y)
        }
        guard let best else {
            return Budget(allocator: target, bytes: budget, verdict: "no fixed configuration fits")
        }
        let paired = pairedDifference(target, best, quality: quality, results: results)
        var verdict = "tied"
        if let difference = paired.difference, let interval = paired.interval {
            let apart = interval.lowerBound > 0 || interval.upperBound < 0
            if PairedComparison.separation(interval: interval, signTestP: paired.signTestP ?? 0) != .tied {
                verdict = quality.better(difference, than: 0) ? "allocator better" : "fixed configuration better"
            } else if apart, let p = paired.signTestP {
                // The bootstrap of a few samples can exclude 0 where the questions themselves cannot tell.
                verdict = "tied (sign test p = \(String(format: "%.2f", p)))"
            }
        }
        return Budget(allocator: target, bytes: budget, bestFixed: best, difference: paired.difference,
                      interval: paired.interval, verdict: verdict)
    }

    struct Paired {
        var difference: Double?
        var interval: ClosedRange<Double>?
        /// The exact sign test over the questions answered differently, or over the stretches.
        var signTestP: Double?
    }

    /// Allocator minus fixed on the same questions (paired bootstrap and sign test, as the leaderboard ranks) or the
    /// same stretches (paired bootstrap and sign test of the per-stretch KL differences).
    static func pairedDifference(_ a: EvaluationReport.Row, _ b: EvaluationReport.Row, quality: Quality,
                                 results: EvaluationResults) -> Paired {
        switch quality {
        case .score:
            let mode = results.plan.modes.first
            func answers(_ row: EvaluationReport.Row) -> [AnswerRecord] {
                results.answers.filter { $0.press == row.press && $0.ratio == row.ratio && $0.mode == mode }
            }
            let tasks = results.plan.tasks.filter { $0 != .perplexity }
            let paired = PairedComparison(answers(a), answers(b), tasks: tasks)
            guard !paired.pairs.isEmpty else { return Paired() }
            return Paired(difference: paired.difference, interval: paired.interval, signTestP: paired.signTestP)
        case .kl:
            var klOfB: [String: Double] = [:]
            for r in results.perplexity where r.press == b.press && r.ratio == b.ratio {
                klOfB["\(r.context) \(r.sample)"] = r.kl
            }
            let differences = results.perplexity.filter { $0.press == a.press && $0.ratio == a.ratio }.compactMap { r in
                klOfB["\(r.context) \(r.sample)"].map { r.kl - $0 }
            }
            guard !differences.isEmpty else { return Paired() }
            let mean = differences.reduce(0, +) / Double(differences.count)
            return Paired(difference: mean, interval: ConfidenceInterval.bootstrapMean(differences),
                          signTestP: PairedComparison.signTest(differences))
        }
    }
}

extension EvaluationReport {
    /// "press @ratio", or the press alone when it ignores the ratio.
    func configurationName(_ row: Row) -> String {
        let ratioFree = row.press == "none" || PressRegistry.ignoresRatio(row.press)
        return ratioFree ? row.press : "\(row.press) @\(format(row.ratio, 4))"
    }

    /// The Markdown sections of the Pareto comparison, for the task average and for the mean KL (each when measured).
    var paretoMarkdown: [String] {
        var lines: [String] = []
        for quality in [ParetoComparison.Quality.score, .kl] {
            guard let pareto = ParetoComparison(self, quality: quality) else { continue }
            lines += paretoMarkdown(pareto)
        }
        return lines
    }

    func paretoMarkdown(_ pareto: ParetoComparison) -> [String] {
        let isScore = pareto.quality == .score
        let what = isScore ? "average task score" : "mean KL"
        func value(_ row: Row) -> String {
            guard let v = pareto.quality.value(row) else { return "—" }
            let interval = pareto.quality.interval(row)
            return isScore ? withInterval(v, interval, row.averageSamples)
                : measured(v, interval, row.perplexitySamples, digits: 4)
        }
        func delta(_ budget: ParetoComparison.Budget) -> String {
            guard let d = budget.difference, let i = budget.interval else { return "—" }
            if isScore {
                return "\(signed(100 * d, 0)) [\(signed(100 * i.lowerBound, 0)), \(signed(100 * i.upperBound, 0))]"
            }
            return "\(signed(d, 4)) [\(signed(i.lowerBound, 4)), \(signed(i.upperBound, 4))]"
        }
        let pairing = isScore
            ? "paired bootstrap over the same questions (each task resampled within itself) and a sign test, as the "
                + "leaderboard ranks; points of score"
            : "paired bootstrap of the per-stretch KL differences over the same stretches and an exact sign test "
                + "over them (n stretches give p ≥ 2^(1−n)); nats"
        var lines = ["", "## Target allocator against the best fixed configuration (\(what))", "",
                     "At each memory target, the fixed configuration (a press at a ratio, a cache type, a precision "
                     + "press) with the best \(what) among those whose measured bytes fit in the target's bytes. Δ: "
                     + "allocator minus that configuration, \(pairing).", "",
                     row(["target", "target bytes", "allocator [95%]", "allocator bytes", "best fixed configuration",
                          "its \(what) [95%]", "its bytes", "Δ [95%]", "verdict"]),
                     row(["---", "---:", "---:", "---:", "---", "---:", "---:", "---:", "---"])]
        for b in pareto.budgets {
            let fixed = b.bestFixed
            let allocator = [b.allocator.press, mebibytes(b.bytes), value(b.allocator), mebibytes(b.allocator.cacheBytes)]
            let best = [fixed.map(configurationName) ?? "—", fixed.map(value) ?? "—",
                        fixed.map { mebibytes($0.cacheBytes) } ?? "—"]
            lines.append(row(allocator + best + [delta(b), b.verdict]))
        }
        lines += ["", "### Pareto frontier of the fixed configurations (\(what))", "",
                  "Each is better than every fixed configuration with fewer bytes.", "",
                  row(["configuration", "bytes", "saved vs f16", what + " [95%]"]),
                  row(["---", "---:", "---:", "---:"])]
        for r in pareto.frontier {
            let saved = format(100 * r.saving, 1) + "%"
            lines.append(row([configurationName(r), mebibytes(r.cacheBytes), saved, value(r)]))
        }
        return lines
    }

    func signed(_ x: Double, _ digits: Int) -> String { (x >= 0 ? "+" : "−") + format(abs(x), digits) }
}
