import Foundation

/// A leaderboard from a report: for each ratio, the presses ranked by average task score — a press ranks below
/// another only when a paired bootstrap says it scores lower, otherwise they are tied — with every score's
/// interval and sample count, the difference to the full cache, the perplexity ratio when measured, and the
/// measured cache bytes; the full cache heads every table.
extension EvaluationReport {
    public func leaderboard(command: String) -> String {
        let plan = results.plan
        let mode = plan.modes.first?.rawValue ?? ""
        let agnostic = mode == "agnostic"
        let asked = agnostic ? "asked after compression: the press never sees them" : "inside the compressed prompt"
        let tasks = plan.tasks.filter { $0 != .perplexity }
        let depthList = plan.depths.map { String(format: "%.2g", $0) }.joined(separator: ", ")
        let depthText = tasks.allSatisfy(\.isRuler) ? "" : "; depths " + depthList
        var lines = ["# TokenPress leaderboard", "",
                     "Model `\(results.model)`; contexts \(plan.contexts.map(String.init).joined(separator: ", ")) tokens"
                     + depthText + "; questions \(mode) (\(asked)); seed \(plan.seed); \(plan.split.rawValue) split.",
                     "Scores are the share of expected answers found, with their 95% interval (Wilson for a task, bootstrap "
                     + "for the average: each task's questions resampled within it, widened to at least the Wilson interval "
                     + "of all its answers pooled) and sample count. The average is the mean "
                     + "of the task scores. **Rank**: a press ranks below another only when the paired bootstrap of their "
                     + "average difference (the same questions, resampled together, \(ConfidenceInterval.resamples) times) "
                     + "excludes 0 at 95% and an exact sign test on the questions they answer differently agrees (p < 0.05; "
                     + "a bootstrap of a few samples that happen to agree has no width); rank = 1 + the number of presses "
                     + "that score significantly higher, so presses "
                     + "marked *tied* share a rank that the data cannot split. **Δ full**: the paired difference to the "
                     + "full cache, in points. Bytes are measured at \(plan.contexts.max() ?? 0) tokens (keys, values, "
                     + "positions), against a dense f16 cache.", "",
                     "Reproduce: `\(command)`", ""]
        let (tables, best) = rankedTables()
        lines += tables + ["## Best quality per byte", ""] + best
        // With several contexts, the longest alone too: compression matters most there.
        if plan.contexts.count > 1, let longest = plan.contexts.max() {
            var only = results
            only.plan.contexts = [longest]
            only.answers = results.answers.filter { $0.context == longest }
            only.perplexity = results.perplexity.filter { $0.context == longest }
            let (longTables, longBest) = EvaluationReport(only).rankedTables(level: "###")
            lines += ["", "## At \(longest) tokens only", ""] + longTables
            lines += ["### Best quality per byte at \(longest) tokens", ""] + longBest
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One table per ratio (the full cache first, then the presses by rank, then average, then fewer bytes) and the
    /// best press of each ratio.
    func rankedTables(level: String = "##") -> (tables: [String], best: [String]) {
        let plan = results.plan
        guard let mode = plan.modes.first, let full = rows.first(where: { $0.press == "none" }) else { return ([], []) }
        let tasks = plan.tasks.filter { $0 != .perplexity }
        let hasPerplexity = plan.tasks.contains(.perplexity)
        func answers(_ r: Row) -> [AnswerRecord] {
            results.answers.filter { $0.press == r.press && $0.ratio == r.ratio && $0.mode == mode }
        }
        // A task's sample count goes in its header when every row has the same; otherwise in each cell.
        let keys = tasks.map { "\($0.rawValue)/\(mode.rawValue)" }
        let uniformCounts = keys.map { key in Set(rows.compactMap { $0.counts[key] }).count == 1 ? rows.first?.counts[key] : nil }
        var header = ["rank", "press", "average [95%]", "Δ full [95%]"]
        header += zip(tasks, uniformCounts).map { task, n in n.map { "\(task.rawValue) (n=\($0))" } ?? task.rawValue }
        if hasPerplexity { header.append("PPL ratio [95%]") }
        header += ["cache bytes", "saved vs f16"]
        func cells(_ r: Row, rank: String) -> [String] {
            var c = [rank, r.press, r.averageScore.map { withInterval($0, r.averageInterval, r.averageSamples) } ?? "—"]
            if r.press == "none" {
                c.append("—")
            } else {
                let comparison = PairedComparison(answers(r), answers(full), tasks: tasks)
                let interval = comparison.interval
                c.append("\(points(comparison.difference)) [\(points(interval.lowerBound)), \(points(interval.upperBound))]")
            }
            for (key, n) in zip(keys, uniformCounts) {
                guard let score = r.scores[key] else { c.append("—"); continue }
                let interval = r.intervals[key] ?? []
                let range = interval.count == 2 ? " [\(format(100 * interval[0], 0))–\(format(100 * interval[1], 0))]" : ""
                c.append(percent(score) + range + (n == nil ? " n=\(r.counts[key] ?? 0)" : ""))
            }
            if hasPerplexity {
                c.append(r.perplexityRatio.map { measured($0, r.perplexityRatioInterval, r.perplexitySamples, digits: 3) } ?? "—")
            }
            return c + [mebibytes(r.cacheBytes), format(100 * r.saving, 1) + "%"]
        }
        var lines: [String] = [], best: [String] = []
        for ratio in plan.ratios {
            let candidates = rows.filter { $0.press != "none" && $0.ratio == ratio }
            let ranks = significanceRanks(candidates, answers: answers, tasks: tasks)
            let ranked = candidates.indices.sorted {
                (ranks[$0], -(candidates[$0].averageScore ?? -1), candidates[$0].cacheBytes)
                    < (ranks[$1], -(candidates[$1].averageScore ?? -1), candidates[$1].cacheBytes)
            }
            lines += ["\(level) Ratio \(String(format: "%.3g", ratio)) (\(format(100 * ratio, 1))% of tokens removed)", "",
                      row(header), row(header.map { _ in "---" }), row(cells(full, rank: "—"))]
            for i in ranked {
                let shared = ranks.filter { $0 == ranks[i] }.count > 1
                lines.append(row(cells(candidates[i], rank: "\(ranks[i])" + (shared ? " (tied)" : ""))))
            }
            lines.append("")
            let leaders = ranked.filter { ranks[$0] == 1 }.map { candidates[$0] }
            if let top = leaders.first, let score = top.averageScore {
                let others = leaders.dropFirst().map(\.press)
                let tie = others.isEmpty ? "" : " (tied with \(others.joined(separator: ", ")))"
                best.append("- ratio \(String(format: "%.3g", ratio)): **\(top.press)**\(tie), average \(percent(score)) "
                            + "(full cache \(full.averageScore.map { percent($0) } ?? "—")) in \(mebibytes(top.cacheBytes))")
            }
        }
        return (lines, best)
    }

    /// For each row, 1 + the number of rows whose average is significantly higher (paired bootstrap at 95%).
    func significanceRanks(_ rows: [Row], answers: (Row) -> [AnswerRecord], tasks: [EvaluationPlan.Task]) -> [Int] {
        let records = rows.map(answers)
        var better = Array(repeating: 0, count: rows.count)
        for i in rows.indices {
            for j in rows.indices where j > i {
                let comparison = PairedComparison(records[i], records[j], tasks: tasks)
                if comparison.aIsBetter { better[j] += 1 }
                if comparison.bIsBetter { better[i] += 1 }
            }
        }
        return better.map { $0 + 1 }
    }

    /// A difference of scores in percentage points, signed.
    func points(_ x: Double) -> String { (x >= 0 ? "+" : "−") + format(abs(100 * x), 0) }
}
