import Foundation

/// SVG plots of a report: quality against measured cache bytes (one line per press, the full cache as a star)
/// and heatmaps of every question task (context × depth) per press and ratio.
extension EvaluationReport {
    /// File name → SVG text.
    public var plots: [String: String] {
        var files: [String: String] = [:]
        let plan = results.plan
        let presses = plan.presses
        let full = rows.first { $0.press == "none" }
        func series(_ value: (Row) -> Double?) -> [SVGChart.Series] {
            presses.map { p in
                SVGChart.Series(name: p, points: rows.filter { $0.press == p }.compactMap { r in value(r).map { (Double(r.cacheBytes) / 1_048_576, $0) } })
            }.filter { !$0.points.isEmpty }
        }
        let longest = plan.contexts.max() ?? 0
        if rows.contains(where: { $0.averageScore != nil }) {
            let mode = plan.modes.first?.rawValue ?? ""
            files["quality-vs-bytes.svg"] = SVGChart.lines(
                title: "Average task score vs cache size (\(mode), \(longest) tokens)", xLabel: "cache MiB at \(longest) tokens",
                yLabel: "average score", series: series(\.averageScore),
                reference: full.flatMap { r in r.averageScore.map { ("full cache", Double(r.cacheBytes) / 1_048_576, $0) } }, yRange: 0 ... 1)
        }
        if rows.contains(where: { $0.perplexityRatio != nil }) {
            files["perplexity-vs-bytes.svg"] = SVGChart.lines(
                title: "Perplexity ratio vs cache size (\(longest) tokens)", xLabel: "cache MiB at \(longest) tokens",
                yLabel: "PPL / PPL of the full cache", series: series(\.perplexityRatio),
                reference: full.flatMap { r in r.perplexityRatio.map { ("full cache", Double(r.cacheBytes) / 1_048_576, $0) } })
        }
        let mode = plan.modes.first ?? .agnostic
        for task in plan.tasks where task != .perplexity {
            let configurations = plan.configurations
            let names = ["none"] + presses
            let cells = names.map { p in
                plan.ratios.map { ratio in
                    plan.contexts.map { context in
                        plan.depths.map { depth -> Double? in
                            let r = p == "none" ? 0 : ratio
                            guard configurations.contains(where: { $0.press == p && $0.ratio == r }) else { return nil }
                            return results.answers.first {
                                $0.task == task && $0.press == p && $0.ratio == r && $0.context == context && $0.depth == depth && $0.mode == mode
                            }?.score
                        }
                    }
                }
            }
            files["heatmap-\(task.rawValue).svg"] = SVGChart.heatmaps(
                title: "\(task.rawValue) (\(mode.rawValue)): score by context and depth", rows: names,
                columns: plan.ratios.map { "ratio \(String(format: "%.3g", $0))" },
                innerRows: plan.contexts.map(String.init), innerColumns: plan.depths.map { String(format: "%.2g", $0) }, cells: cells)
        }
        return files
    }
}
