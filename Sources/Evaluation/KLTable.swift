import Engine
import Foundation

/// The KL table of a report: one row per configuration, with the fields `llama-perplexity --kl-divergence` prints,
/// so TokenPress's figures can be set beside llama.cpp's KV-quantization ones.
enum KLTable {
    static let header = ["press", "ratio", "tokens", "mean KL [95%]", "median KL", "KL 99%", "KL 99.9%", "max KL",
                         "same top-1", "RMS Δp", "cache bytes"]
    static let alignment = ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]

    static func cells(_ row: EvaluationReport.Row, _ d: DivergenceStatistics) -> [String] {
        func f(_ x: Double) -> String { String(format: "%.5f", x) }
        var mean = f(d.meanKL)
        if let interval = row.meanKLInterval, interval.count == 2 { mean += " [\(f(interval[0]))–\(f(interval[1]))]" }
        return [row.press, String(format: "%.3f", row.ratio), "\(d.tokens)", mean, f(d.medianKL), f(d.kl99), f(d.kl999), f(d.maxKL),
                String(format: "%.2f%%", 100 * d.sameTopShare), String(format: "%.3f%%", 100 * d.rmsDeltaP),
                String(format: "%.2f MiB", Double(row.cacheBytes) / 1_048_576)]
    }
}
