import Engine
import Foundation

/// Tables from `EvaluationResults`: a summary row per (press, ratio), the full cache first, then details.
public struct EvaluationReport: Sendable {
    public struct Row: Sendable, Codable, Equatable {
        public var press: String
        public var ratio: Double
        /// Mean over contexts and samples of PPL / PPL of the full cache on the same text, and its 95% bootstrap
        /// interval over the stretches scored (`perplexitySamples` of them).
        public var perplexityRatio: Double?
        public var perplexityRatioInterval: [Double]?
        public var meanKL: Double?
        public var meanKLInterval: [Double]?
        public var perplexitySamples: Int
        /// llama.cpp's KL summary over every scored token (`llama-perplexity --kl-divergence`).
        public var divergence: DivergenceStatistics?
        /// Mean score per "task/mode" (e.g. "needle/agnostic"), in [0, 1].
        public var scores: [String: Double]
        /// Samples behind each score, and its 95% Wilson interval [lower, upper].
        public var counts: [String: Int]
        public var intervals: [String: [Double]]
        /// Mean of the question tasks' scores in the first mode of the plan (agnostic when run), with its 95%
        /// bootstrap interval (each task's answers resampled within the task; at least the Wilson interval of all of
        /// them pooled) and the answers behind it.
        public var averageScore: Double?
        public var averageInterval: [Double]?
        public var averageSamples: Int
        /// Cache bytes at the longest context, and the saving against a dense f16 cache over every measurement.
        public var cacheBytes: Int
        public var saving: Double
        /// Bits per stored key or value element at the longest context (nil for results files that predate it).
        public var bitsPerElement: Double?
        /// The target allocator's predicted mean KL, averaged over the stretches (nil for other presses).
        public var predictedKL: Double?
    }

    public let results: EvaluationResults
    public let rows: [Row]

    public init(_ results: EvaluationResults) {
        self.results = results
        rows = results.plan.configurations.map { Self.row(results, press: $0.press, ratio: $0.ratio) }
    }

    static func row(_ results: EvaluationResults, press: String, ratio: Double) -> Row {
        let plan = results.plan
        let longest = plan.contexts.max() ?? 0
        let questionTasks = plan.tasks.filter { $0 != .perplexity }
        let ppl = results.perplexity.filter { $0.press == press && $0.ratio == ratio }
        let answers = results.answers.filter { $0.press == press && $0.ratio == ratio }
        let ratios = ppl.compactMap { r in
            results.perplexity.first { $0.press == "none" && $0.context == r.context && $0.sample == r.sample }.map { r.ppl / $0.ppl }
        }
        var scores: [String: Double] = [:]
        var counts: [String: Int] = [:]
        var intervals: [String: [Double]] = [:]
        var firstModeGroups: [[Double]] = []
        for task in questionTasks {
            for mode in plan.modes {
                let cell = answers.filter { $0.task == task && $0.mode == mode }
                guard !cell.isEmpty else { continue }
                let key = "\(task.rawValue)/\(mode.rawValue)"
                let mean = cell.reduce(0) { $0 + $1.score } / Double(cell.count)
                let interval = ConfidenceInterval.wilson(mean: mean, count: cell.count)
                scores[key] = mean
                counts[key] = cell.count
                intervals[key] = [interval.lowerBound, interval.upperBound]
                if mode == plan.modes.first { firstModeGroups.append(cell.map(\.score)) }
            }
        }
        let averaged = firstModeGroups.map { $0.reduce(0, +) / Double($0.count) }
        let bytes = ppl.map { ($0.context, $0.cacheBytes, $0.denseBytes) } + answers.map { ($0.context, $0.cacheBytes, $0.denseBytes) }
        let atLongest = bytes.filter { $0.0 == longest }.map(\.1)
        let bits = (ppl.filter { $0.context == longest }.compactMap(\.bitsPerElement)
            + answers.filter { $0.context == longest }.compactMap(\.bitsPerElement))
        let total = bytes.reduce(0) { $0 + $1.1 }, dense = bytes.reduce(0) { $0 + $1.2 }
        func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
        func bootstrap(_ values: [Double]) -> [Double]? {
            guard !values.isEmpty else { return nil }
            let interval = ConfidenceInterval.bootstrapMean(values)
            return [interval.lowerBound, interval.upperBound]
        }
        // A bootstrap of a few samples that agree within each task has no width; the Wilson interval of all the
        // answers pooled is the floor.
        var averageInterval: ClosedRange<Double>?
        if let average = mean(averaged) {
            let bootstrap = ConfidenceInterval.bootstrapMeanOfMeans(firstModeGroups)
            let pooled = ConfidenceInterval.wilson(mean: average, count: firstModeGroups.reduce(0) { $0 + $1.count })
            averageInterval = min(bootstrap.lowerBound, pooled.lowerBound) ... max(bootstrap.upperBound, pooled.upperBound)
        }
        return Row(press: press, ratio: ratio,
                   perplexityRatio: mean(ratios), perplexityRatioInterval: bootstrap(ratios),
                   meanKL: mean(ppl.map(\.kl)), meanKLInterval: bootstrap(ppl.map(\.kl)), perplexitySamples: ppl.count,
                   divergence: PerplexityRecord.divergence(ppl),
                   scores: scores, counts: counts, intervals: intervals,
                   averageScore: mean(averaged), averageInterval: averageInterval.map { [$0.lowerBound, $0.upperBound] },
                   averageSamples: firstModeGroups.reduce(0) { $0 + $1.count },
                   cacheBytes: atLongest.isEmpty ? 0 : atLongest.reduce(0, +) / atLongest.count,
                   saving: dense > 0 ? 1 - Double(total) / Double(dense) : 0,
                   bitsPerElement: mean(bits), predictedKL: mean(ppl.compactMap(\.predictedKL)))
    }

    /// "task/mode" keys of the score columns, in plan order.
    var scoreColumns: [String] {
        results.plan.tasks.filter { $0 != .perplexity }.flatMap { t in results.plan.modes.map { "\(t.rawValue)/\($0.rawValue)" } }
    }

    public var markdown: String {
        let plan = results.plan
        let hasPerplexity = plan.tasks.contains(.perplexity), columns = scoreColumns
        var lines = ["# TokenPress evaluation", "",
                     "Model: `\(results.model)`. Contexts: \(plan.contexts.map(String.init).joined(separator: ", ")) tokens; "
                     + "depths: \(plan.depths.map { format($0, 2) }.joined(separator: ", ")); perplexity continuation: "
                     + "\(plan.continuation) tokens × \(plan.samples) sample(s); seed \(plan.seed). "
                     + "Ratio = fraction of each head's tokens removed. Task scores are the share of expected answers found "
                     + "(agnostic: the question comes after compression; aware: the press sees it). Bytes are measured cache bytes "
                     + "(keys, values, scales, positions) at the longest context; saving is against a dense f16 cache of "
                     + "keys and values; "
                     + "bits/element: bits the cache spends per key or value element it holds, everything counted. "
                     + "Scores show their 95% Wilson interval and sample count: [low–high] n=…; averages, PPL ratios and KL their "
                     + "95% bootstrap interval (\(ConfidenceInterval.resamples) resamples). Split: \(plan.split.rawValue).", "",
                     "## Summary", ""]
        var header = ["press", "ratio"], align = ["---", "---:"]
        if hasPerplexity { header += ["PPL ratio", "mean KL"]; align += ["---:", "---:"] }
        header += columns.map { $0.replacingOccurrences(of: "/", with: ", ") }
        align += columns.map { _ in "---:" }
        if columns.count > 1 { header.append("average (\(plan.modes.first?.rawValue ?? ""))"); align.append("---:") }
        header += ["cache bytes", "saved vs f16", "bits/element"]
        align += ["---:", "---:", "---:"]
        // On models with sliding-window layers the full cache saves already: split each saving into its two parts.
        let windowSaving = rows.first { $0.press == "none" }?.saving ?? 0
        let splitsSaving = windowSaving > 0.001
        if splitsSaving {
            header += ["saved by windows", "saved by press"]
            align += ["---:", "---:"]
            let note = "Presses compress the \(plan.pressLayers) layers (`--press-layers`); sliding-window layers "
                + "hold only their window in every row, the full cache's included."
            lines.insert(note, at: lines.count - 2)
            lines.insert("", at: lines.count - 2)
        }
        lines += [row(header), row(align)]
        for r in rows {
            var cells = [r.press, format(r.ratio, 3)]
            if hasPerplexity {
                cells.append(r.perplexityRatio.map { measured($0, r.perplexityRatioInterval, r.perplexitySamples, digits: 3) } ?? "—")
                cells.append(r.meanKL.map { measured($0, r.meanKLInterval, r.perplexitySamples, digits: 4) } ?? "—")
            }
            cells += columns.map { key in r.scores[key].map { withInterval($0, r.intervals[key], r.counts[key]) } ?? "—" }
            if columns.count > 1 { cells.append(r.averageScore.map { withInterval($0, r.averageInterval, r.averageSamples) } ?? "—") }
            cells += [mebibytes(r.cacheBytes), format(100 * r.saving, 1) + "%", r.bitsPerElement.map { format($0, 2) } ?? "—"]
            if splitsSaving {
                cells += [format(100 * windowSaving, 1) + "%", format(100 * (r.saving - windowSaving), 1) + "%"]
            }
            lines.append(row(cells))
        }
        if hasPerplexity {
            lines += ["", "## Perplexity by context", "",
                      "| press | ratio | context | PPL | PPL ratio | mean KL | cache bytes | saved vs f16 |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for r in results.perplexity.sorted(by: { ($0.context, $0.sample) < ($1.context, $1.sample) }) {
                let full = results.perplexity.first { $0.press == "none" && $0.context == r.context && $0.sample == r.sample }
                let ratio = full.map { format(r.ppl / $0.ppl, 3) } ?? "—"
                let saved = format(100 * (1 - Double(r.cacheBytes) / Double(r.denseBytes)), 1) + "%"
                let cells = [r.press, format(r.ratio, 3), "\(r.context)", format(r.ppl, 3), ratio, format(r.kl, 4),
                             mebibytes(r.cacheBytes), saved]
                lines.append(row(cells))
            }
        }
        if hasPerplexity && rows.contains(where: { $0.divergence != nil }) {
            lines += ["", "## KL divergence to the full cache (the fields of `llama-perplexity --kl-divergence`)", "",
                      "Over every scored token of every stretch; the mean's interval is a bootstrap over stretches. Δp: the "
                      + "probability of the actual next token with this cache minus with the full cache.", "",
                      row(KLTable.header), row(KLTable.alignment)]
            lines += rows.compactMap { r in r.divergence.map { row(KLTable.cells(r, $0)) } }
        }
        let planned = rows.filter { $0.predictedKL != nil }
        if !planned.isEmpty {
            lines += ["", "## Target allocator: predicted against measured KL", "",
                      "The allocator's prediction (per-head rates from the calibration split × this prompt's attention mass, "
                      + "× the calibration's scale) beside the KL measured on the same continuation.", "",
                      "| target | predicted mean KL | measured mean KL [95%] | measured / predicted | cache bytes | saved vs f16 |",
                      "| --- | ---: | ---: | ---: | ---: | ---: |"]
            for r in planned {
                let predicted = r.predictedKL ?? 0
                let measuredKL = r.meanKL.map { measured($0, r.meanKLInterval, r.perplexitySamples, digits: 4) } ?? "—"
                let ratio = r.meanKL.map { predicted > 0 ? format($0 / predicted, 2) : "—" } ?? "—"
                lines.append(row([r.press, format(predicted, 4), measuredKL, ratio, mebibytes(r.cacheBytes),
                                  format(100 * r.saving, 1) + "%"]))
            }
        }
        lines += paretoMarkdown
        for task in plan.tasks where task.isRuler {
            lines += ["", "## \(task.rawValue) (RULER) by context: score, 95% interval, samples", "",
                      "| press | ratio | mode | context | score | 95% interval | n |", "| --- | ---: | --- | ---: | ---: | :---: | ---: |"]
            for c in plan.configurations {
                for mode in plan.modes {
                    for context in plan.contexts {
                        let cells = results.answers.filter {
                            $0.task == task && $0.press == c.press && $0.ratio == c.ratio && $0.mode == mode && $0.context == context
                        }
                        guard !cells.isEmpty else { continue }
                        let mean = cells.reduce(0) { $0 + $1.score } / Double(cells.count)
                        let interval = ConfidenceInterval.wilson(mean: mean, count: cells.count)
                        let range = "\(percent(interval.lowerBound))–\(percent(interval.upperBound))"
                        let line = [c.press, format(c.ratio, 3), mode.rawValue, "\(context)", percent(mean), range, "\(cells.count)"]
                        lines.append(row(line))
                    }
                }
            }
        }
        for task in plan.tasks where task != .perplexity && !task.isRuler {
            let depths = plan.depths
            lines += ["", "## \(task.rawValue) by context and depth (✓ all found, ✗ none, else the share found)", "",
                      "| press | ratio | mode | context | " + depths.map { "d=\(format($0, 2))" }.joined(separator: " | ") + " | score |",
                      "| --- | ---: | --- | ---: | " + depths.map { _ in ":---:" }.joined(separator: " | ") + " | ---: |"]
            for c in plan.configurations {
                for mode in plan.modes {
                    for context in plan.contexts {
                        let cells = results.answers.filter {
                            $0.task == task && $0.press == c.press && $0.ratio == c.ratio && $0.mode == mode && $0.context == context
                        }
                        guard !cells.isEmpty else { continue }
                        let marks = depths.map { d -> String in
                            guard let cell = cells.first(where: { $0.depth == d }) else { return "—" }
                            return cell.score == 1 ? "✓" : cell.score == 0 ? "✗" : format(cell.score, 2)
                        }
                        let mean = cells.reduce(0) { $0 + $1.score } / Double(cells.count)
                        let interval = ConfidenceInterval.wilson(mean: mean, count: cells.count)
                        let score = withInterval(mean, [interval.lowerBound, interval.upperBound], cells.count)
                        lines.append(row([c.press, format(c.ratio, 3), mode.rawValue, "\(context)"] + marks + [score]))
                    }
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The results and the summary rows, as JSON.
    public func json() throws -> Data {
        struct Document: Codable {
            var summary: [Row]
            var results: EvaluationResults
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(Document(summary: rows, results: results))
    }

    /// Reads the results back from `json()` output (to resume a sweep).
    public static func results(fromJSON data: Data) throws -> EvaluationResults {
        struct Document: Codable { var results: EvaluationResults }
        return try JSONDecoder().decode(Document.self, from: data).results
    }

    func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }
    func percent(_ x: Double) -> String { format(100 * x, 0) + "%" }
    func withInterval(_ score: Double, _ interval: [Double]?, _ count: Int?) -> String {
        guard let interval, interval.count == 2, let count else { return percent(score) }
        return "\(percent(score)) [\(format(100 * interval[0], 0))–\(format(100 * interval[1], 0))] n=\(count)"
    }
    /// A measured value with its 95% interval and the samples behind it: `1.022 [1.010–1.035] n=4`.
    func measured(_ value: Double, _ interval: [Double]?, _ count: Int, digits: Int) -> String {
        guard let interval, interval.count == 2 else { return format(value, digits) }
        return "\(format(value, digits)) [\(format(interval[0], digits))–\(format(interval[1], digits))] n=\(count)"
    }
    func mebibytes(_ bytes: Int) -> String { format(Double(bytes) / 1_048_576, 2) + " MiB" }
    func format(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
}
