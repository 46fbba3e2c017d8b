import Foundation

/// Tables from `EvaluationResults`: a summary row per (press, ratio), the full cache first, then details.
public struct EvaluationReport: Sendable {
    public struct Row: Sendable, Codable, Equatable {
        public var press: String
        public var ratio: Double
        /// Mean over contexts and samples of PPL / PPL of the full cache on the same text.
        public var perplexityRatio: Double?
        public var meanKL: Double?
        public var needleAgnostic: Accuracy?
        public var needleAware: Accuracy?
        /// Cache bytes at the longest context, and the saving against a dense f16 cache over every measurement.
        public var cacheBytes: Int
        public var saving: Double
    }

    public struct Accuracy: Sendable, Codable, Equatable {
        public var correct: Int
        public var total: Int
        public var fraction: Double { total > 0 ? Double(correct) / Double(total) : 0 }
    }

    public let results: EvaluationResults
    public let rows: [Row]

    public init(_ results: EvaluationResults) {
        self.results = results
        let longest = results.plan.contexts.max() ?? 0
        rows = results.plan.configurations.map { c in
            let ppl = results.perplexity.filter { $0.press == c.press && $0.ratio == c.ratio }
            let needles = results.needle.filter { $0.press == c.press && $0.ratio == c.ratio }
            let ratios = ppl.compactMap { r in
                results.perplexity.first { $0.press == "none" && $0.context == r.context && $0.sample == r.sample }.map { r.ppl / $0.ppl }
            }
            func accuracy(_ mode: EvaluationPlan.Mode) -> Accuracy? {
                let m = needles.filter { $0.mode == mode }
                return m.isEmpty ? nil : Accuracy(correct: m.filter(\.correct).count, total: m.count)
            }
            let bytes = ppl.map { ($0.context, $0.cacheBytes, $0.denseBytes) } + needles.map { ($0.context, $0.cacheBytes, $0.denseBytes) }
            let atLongest = bytes.filter { $0.0 == longest }.map(\.1)
            let total = bytes.reduce(0) { $0 + $1.1 }, dense = bytes.reduce(0) { $0 + $1.2 }
            return Row(press: c.press, ratio: c.ratio,
                       perplexityRatio: ratios.isEmpty ? nil : ratios.reduce(0, +) / Double(ratios.count),
                       meanKL: ppl.isEmpty ? nil : ppl.reduce(0) { $0 + $1.kl } / Double(ppl.count),
                       needleAgnostic: accuracy(.agnostic), needleAware: accuracy(.aware),
                       cacheBytes: atLongest.isEmpty ? 0 : atLongest.reduce(0, +) / atLongest.count,
                       saving: dense > 0 ? 1 - Double(total) / Double(dense) : 0)
        }
    }

    public var markdown: String {
        let plan = results.plan
        var lines = ["# TokenPress evaluation", "",
                     "Model: `\(results.model)`. Contexts: \(plan.contexts.map(String.init).joined(separator: ", ")) tokens; "
                     + "needle depths: \(plan.depths.map { format($0, 2) }.joined(separator: ", ")); perplexity continuation: "
                     + "\(plan.continuation) tokens × \(plan.samples) sample(s); seed \(plan.seed). "
                     + "Ratio = fraction of each head's tokens removed. Bytes are measured cache bytes (keys, values, positions) "
                     + "at the longest context; saving is against a dense f16 cache of keys and values.", "",
                     "## Summary", "",
                     "| press | ratio | PPL ratio | mean KL | needle, query-agnostic | needle, query-aware | cache bytes | saved vs f16 |",
                     "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in rows {
            lines.append("| \(r.press) | \(format(r.ratio, 3)) | \(r.perplexityRatio.map { format($0, 3) } ?? "—") | "
                         + "\(r.meanKL.map { format($0, 4) } ?? "—") | \(r.needleAgnostic.map(describe) ?? "—") | "
                         + "\(r.needleAware.map(describe) ?? "—") | \(mebibytes(r.cacheBytes)) | \(format(100 * r.saving, 1))% |")
        }
        if !results.perplexity.isEmpty {
            lines += ["", "## Perplexity by context", "",
                      "| press | ratio | context | PPL | PPL ratio | mean KL | cache bytes | saved vs f16 |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for r in results.perplexity {
                let full = results.perplexity.first { $0.press == "none" && $0.context == r.context && $0.sample == r.sample }
                lines.append("| \(r.press) | \(format(r.ratio, 3)) | \(r.context) | \(format(r.ppl, 3)) | \(full.map { format(r.ppl / $0.ppl, 3) } ?? "—") | "
                             + "\(format(r.kl, 4)) | \(mebibytes(r.cacheBytes)) | \(format(100 * (1 - Double(r.cacheBytes) / Double(r.denseBytes)), 1))% |")
            }
        }
        if !results.needle.isEmpty {
            let depths = plan.depths
            lines += ["", "## Needle by context and depth (✓ found, ✗ missed)", "",
                      "| press | ratio | mode | context | " + depths.map { "d=\(format($0, 2))" }.joined(separator: " | ") + " | found |",
                      "| --- | ---: | --- | ---: | " + depths.map { _ in ":---:" }.joined(separator: " | ") + " | ---: |"]
            for c in plan.configurations {
                for mode in plan.modes {
                    for context in plan.contexts {
                        let cells = results.needle.filter { $0.press == c.press && $0.ratio == c.ratio && $0.mode == mode && $0.context == context }
                        guard !cells.isEmpty else { continue }
                        let marks = depths.map { d in cells.first { $0.depth == d }.map { $0.correct ? "✓" : "✗" } ?? "—" }
                        lines.append("| \(c.press) | \(format(c.ratio, 3)) | \(mode.rawValue) | \(context) | \(marks.joined(separator: " | ")) | "
                                     + "\(cells.filter(\.correct).count)/\(cells.count) |")
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

    func describe(_ a: Accuracy) -> String { "\(a.correct)/\(a.total) (\(format(100 * a.fraction, 0))%)" }
    func mebibytes(_ bytes: Int) -> String { format(Double(bytes) / 1_048_576, 2) + " MiB" }
    func format(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
}
