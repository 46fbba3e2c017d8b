import Foundation

/// A leaderboard from a report: for each ratio, the presses ranked by average task score, with each task's
/// score, the perplexity ratio when measured, and the measured cache bytes; the full cache heads every table.
extension EvaluationReport {
    public func leaderboard(command: String) -> String {
        let plan = results.plan
        let mode = plan.modes.first?.rawValue ?? ""
        var lines = ["# TokenPress leaderboard", "",
                     "Model `\(results.model)`; contexts \(plan.contexts.map(String.init).joined(separator: ", ")) tokens; depths "
                     + plan.depths.map { String(format: "%.2g", $0) }.joined(separator: ", ") + "; questions \(mode) "
                     + "(\(mode == "agnostic" ? "asked after compression: the press never sees them" : "inside the compressed prompt")); seed \(plan.seed).",
                     "Scores are the share of expected answers found, averaged over contexts and depths. Bytes are measured at "
                     + "\(plan.contexts.max() ?? 0) tokens (keys, values, positions), against a dense f16 cache.", "",
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
            lines += ["", "## At \(longest) tokens only", ""] + longTables + ["### Best quality per byte at \(longest) tokens", ""] + longBest
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One table per ratio (the full cache first, then the presses ranked by average score, fewer bytes first on
    /// ties) and the best press of each ratio.
    func rankedTables(level: String = "##") -> (tables: [String], best: [String]) {
        let plan = results.plan
        let mode = plan.modes.first?.rawValue ?? ""
        let tasks = plan.tasks.filter { $0 != .perplexity }
        let hasPerplexity = plan.tasks.contains(.perplexity)
        guard let full = rows.first(where: { $0.press == "none" }) else { return ([], []) }
        var header = ["rank", "press", "average"] + tasks.map(\.rawValue)
        if hasPerplexity { header.append("PPL ratio") }
        header += ["cache bytes", "saved vs f16"]
        func cells(_ r: Row, rank: String) -> [String] {
            var c = [rank, r.press, r.averageScore.map { percent($0) } ?? "—"] + tasks.map { r.scores["\($0.rawValue)/\(mode)"].map { percent($0) } ?? "—" }
            if hasPerplexity { c.append(r.perplexityRatio.map { format($0, 3) } ?? "—") }
            return c + [mebibytes(r.cacheBytes), format(100 * r.saving, 1) + "%"]
        }
        var lines: [String] = [], best: [String] = []
        for ratio in plan.ratios {
            let ranked = rows.filter { $0.press != "none" && $0.ratio == ratio }
                .sorted { ($0.averageScore ?? -1, -$0.cacheBytes) > ($1.averageScore ?? -1, -$1.cacheBytes) }
            lines += ["\(level) Ratio \(String(format: "%.3g", ratio)) (\(format(100 * ratio, 1))% of tokens removed)", "",
                      row(header), row(header.map { _ in "---" }), row(cells(full, rank: "—"))]
            for (i, r) in ranked.enumerated() { lines.append(row(cells(r, rank: "\(i + 1)"))) }
            lines.append("")
            if let top = ranked.first, let score = top.averageScore {
                best.append("- ratio \(String(format: "%.3g", ratio)): **\(top.press)**, average \(percent(score)) "
                            + "(full cache \(full.averageScore.map { percent($0) } ?? "—")) in \(mebibytes(top.cacheBytes))")
            }
        }
        return (lines, best)
    }
}
