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
        // The target allocator's memory targets are one line (each target is a press of its own in the plan).
        let allocator = "target allocator"
        func line(_ press: String) -> String { press.hasPrefix("target:memory") || press.hasPrefix("target:bytes") ? allocator : press }
        let lineNames = presses.map(line).enumerated().filter { i, name in !presses.prefix(i).map(line).contains(name) }.map(\.1)
        func series(_ value: (Row) -> Double?, _ interval: (Row) -> [Double]?) -> [SVGChart.Series] {
            lineNames.map { p in
                let measured = rows.filter { line($0.press) == p && value($0) != nil }.sorted { $0.cacheBytes < $1.cacheBytes }
                let points = measured.map { r in (x: Double(r.cacheBytes) / 1_048_576, y: value(r) ?? 0) }
                let intervals = measured.map { r in interval(r).flatMap { $0.count == 2 ? $0[0] ... $0[1] : nil } }
                return SVGChart.Series(name: p, points: points, intervals: intervals)
            }.filter { !$0.points.isEmpty }
        }
        let answersPerPoint = full?.averageSamples ?? 0
        let stretches = full?.perplexitySamples ?? 0
        let longest = plan.contexts.max() ?? 0
        if rows.contains(where: { $0.averageScore != nil }) {
            let mode = plan.modes.first?.rawValue ?? ""
            files["quality-vs-bytes.svg"] = SVGChart.lines(
                title: "Average task score vs cache size (\(mode), \(longest) tokens; bars: 95%, n=\(answersPerPoint) per point)",
                xLabel: "cache MiB at \(longest) tokens",
                yLabel: "average score", series: series(\.averageScore, \.averageInterval),
                reference: full.flatMap { r in r.averageScore.map { ("full cache", Double(r.cacheBytes) / 1_048_576, $0) } },
                yRange: 0 ... 1)
        }
        if rows.contains(where: { $0.perplexityRatio != nil }) {
            files["perplexity-vs-bytes.svg"] = SVGChart.lines(
                title: "Perplexity ratio vs cache size (\(longest) tokens; bars: 95%, n=\(stretches) stretches)",
                xLabel: "cache MiB at \(longest) tokens",
                yLabel: "PPL / PPL of the full cache", series: series(\.perplexityRatio, \.perplexityRatioInterval),
                reference: full.flatMap { r in r.perplexityRatio.map { ("full cache", Double(r.cacheBytes) / 1_048_576, $0) } })
        }
        if rows.contains(where: { $0.press != "none" && $0.meanKL != nil }) {
            files["kl-vs-bytes.svg"] = SVGChart.lines(
                title: "Mean KL to the full cache vs cache size (\(longest) tokens; bars: 95%, n=\(stretches) stretches)",
                xLabel: "cache MiB at \(longest) tokens",
                yLabel: "mean KL (nats)", series: series(\.meanKL, \.meanKLInterval),
                reference: full.flatMap { r in r.meanKL.map { ("full cache", Double(r.cacheBytes) / 1_048_576, $0) } })
        }
        for (name, svg) in paretoPlots() { files[name] = svg }
        for (name, svg) in planHeatmaps() { files[name] = svg }
        let mode = plan.modes.first ?? .agnostic
        if let matrix = rulerMatrix(mode: mode) { files["ruler-scores.svg"] = matrix }
        for task in plan.tasks where task != .perplexity && !task.isRuler {
            let configurations = plan.configurations
            let names = ["none"] + presses
            let cells = names.map { p in
                plan.ratios.map { ratio in
                    plan.contexts.map { context in
                        plan.depths.map { depth -> Double? in
                            let r = p == "none" ? 0 : ratio
                            guard configurations.contains(where: { $0.press == p && $0.ratio == r }) else { return nil }
                            return results.answers.first {
                                $0.task == task && $0.press == p && $0.ratio == r && $0.context == context
                                    && $0.depth == depth && $0.mode == mode
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

    /// The allocator against the fixed configurations (`ParetoComparison`): one plot for the task average and one
    /// for the mean KL, each when measured.
    func paretoPlots() -> [String: String] {
        var files: [String: String] = [:]
        let longest = results.plan.contexts.max() ?? 0
        let full = rows.first { $0.press == "none" }
        func mebibytes(_ bytes: Int) -> Double { Double(bytes) / 1_048_576 }
        for quality in [ParetoComparison.Quality.score, .kl] {
            guard let pareto = ParetoComparison(self, quality: quality) else { continue }
            let fixed = rows.filter { $0.press != "none" && !$0.press.hasPrefix("target:") }.compactMap { r in
                quality.value(r).map { (x: mebibytes(r.cacheBytes), y: $0) }
            }
            let frontier = pareto.frontier.map { r in
                (name: configurationName(r), x: mebibytes(r.cacheBytes), y: quality.value(r) ?? 0)
            }
            let targets = pareto.budgets.map(\.allocator)
            let allocator = SVGChart.Series(
                name: "target allocator",
                points: targets.map { (x: mebibytes($0.cacheBytes), y: quality.value($0) ?? 0) },
                intervals: targets.map { r in quality.interval(r).flatMap { $0.count == 2 ? $0[0] ... $0[1] : nil } })
            let isScore = quality == .score
            let samples = isScore ? "n=\(full?.averageSamples ?? 0) answers"
                : "n=\(full?.perplexitySamples ?? 0) stretches"
            let star = full.flatMap { r in r.averageScore.map { ("full cache", mebibytes(r.cacheBytes), $0) } }
            let what = isScore ? "Average task score" : "Mean KL to the full cache"
            files[isScore ? "pareto-score.svg" : "pareto-kl.svg"] = SVGChart.pareto(
                title: "\(what) vs cache size: the target allocator against \(fixed.count) fixed configurations",
                subtitle: "\(longest) tokens; \(samples) per point; bars: 95%; labels: the fixed configurations' "
                    + "Pareto frontier",
                xLabel: "cache MiB at \(longest) tokens (log scale)",
                yLabel: isScore ? "average score" : "mean KL (nats, log scale)",
                fixed: fixed, frontier: frontier, allocator: allocator,
                budgets: pareto.budgets.map { mebibytes($0.bytes) },
                reference: isScore ? star : nil,
                yRange: isScore ? 0 ... 1 : nil, logY: !isScore)
        }
        return files
    }

    /// The target allocator's plans: layer × KV head, each cell the share of its dense f16 bytes the head keeps
    /// (averaged over the stretches), one file per target.
    func planHeatmaps() -> [String: String] {
        var files: [String: String] = [:]
        for press in results.plan.presses where press.hasPrefix("target:") {
            let shares = results.perplexity.filter { $0.press == press }.compactMap(\.headShares)
            guard let first = shares.first, !first.isEmpty else { continue }
            let mean = first.indices.map { l in
                first[l].indices.map { h in shares.reduce(0) { $0 + $1[l][h] } / Double(shares.count) }
            }
            let name = press.replacingOccurrences(of: "target:", with: "").replacingOccurrences(of: "=", with: "-")
            files["plan-\(name).svg"] = SVGChart.matrix(
                title: "Target allocator plan, \(press): bytes each KV head keeps (% of its dense f16 bytes)",
                subtitle: "rows: layers, columns: KV heads; mean over \(shares.count) prompt(s); colour saturates at 50%",
                rows: mean.indices.map { "layer \($0)" }, columns: first[0].indices.map { "head \($0)" },
                values: mean.map { $0.map { min(1, $0 * 2) } }, labels: mean.map { $0.map { format(100 * $0, 0) } },
                tooltips: mean.enumerated().map { l, row in
                    row.enumerated().map { h, share in "layer \(l), head \(h): \(format(100 * share, 1))%" }
                })
        }
        return files
    }

    /// RULER's tasks at a glance: every configuration (rows, by ratio) × task and the average (columns), each cell
    /// its score; hover shows the 95% interval and sample count.
    func rulerMatrix(mode: EvaluationPlan.Mode) -> String? {
        let tasks = results.plan.tasks.filter(\.isRuler)
        guard !tasks.isEmpty else { return nil }
        let ordered = rows.filter { $0.press == "none" } + results.plan.ratios.flatMap { ratio in
            rows.filter { $0.press != "none" && $0.ratio == ratio }
        }
        var values: [[Double?]] = [], labels: [[String]] = [], tooltips: [[String]] = []
        for r in ordered {
            var rowValues: [Double?] = [], rowLabels: [String] = [], rowTips: [String] = []
            for task in tasks {
                let key = "\(task.rawValue)/\(mode.rawValue)"
                let score = r.scores[key]
                rowValues.append(score)
                rowLabels.append(score.map { format(100 * $0, 0) } ?? "—")
                rowTips.append(score.map { withInterval($0, r.intervals[key], r.counts[key]) } ?? "not measured")
            }
            rowValues.append(r.averageScore)
            rowLabels.append(r.averageScore.map { format(100 * $0, 0) } ?? "—")
            rowTips.append(r.averageScore.map { withInterval($0, r.averageInterval, r.averageSamples) } ?? "not measured")
            values.append(rowValues)
            labels.append(rowLabels)
            tooltips.append(rowTips)
        }
        let counts = Set(ordered.flatMap { r in tasks.compactMap { r.counts["\($0.rawValue)/\(mode.rawValue)"] } })
        let range = "n from \(counts.min() ?? 0) to \(counts.max() ?? 0) per cell"
        let n = counts.count == 1 ? "n=\(counts.first ?? 0) per task and row" : range
        return SVGChart.matrix(
            title: "RULER scores (%, \(mode.rawValue)) at \(results.plan.contexts.map(String.init).joined(separator: ", ")) tokens",
            subtitle: "\(n); hover a cell for its 95% interval (Wilson; bootstrap for the average)",
            rows: ordered.map { $0.press == "none" ? "none (full cache)" : "\($0.press) @\(String(format: "%.3g", $0.ratio))" },
            columns: tasks.map(\.rawValue) + ["average"], values: values, labels: labels, tooltips: tooltips)
    }
}
