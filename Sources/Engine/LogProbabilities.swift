import Foundation

/// Log-softmax rows of logits, in double, and how two next-token distributions differ.
public enum LogProbabilities {
    /// log softmax(logits[row]).
    public static func row(_ logits: [Float], row: Int, vocabulary: Int) -> [Double] {
        let base = row * vocabulary
        var maximum = -Float.infinity
        for j in 0 ..< vocabulary { maximum = max(maximum, logits[base + j]) }
        var sum = 0.0
        for j in 0 ..< vocabulary { sum += exp(Double(logits[base + j] - maximum)) }
        let shift = Double(maximum) + log(sum)
        return (0 ..< vocabulary).map { Double(logits[base + $0]) - shift }
    }

    /// KL(p ‖ q) for log-probabilities (terms with p below e⁻⁴⁰ add nothing measurable).
    public static func divergence(_ p: [Double], _ q: [Double]) -> Double {
        var kl = 0.0
        for j in p.indices where p[j] > -40 { kl += exp(p[j]) * (p[j] - q[j]) }
        return max(0, kl)
    }

    /// The index of the largest entry (the first one on ties).
    public static func top(_ row: [Double]) -> Int {
        var best = 0
        for j in row.indices where row[j] > row[best] { best = j }
        return best
    }
}

/// How a configuration's next-token distribution differs from the reference's at one scored token, as
/// `llama-perplexity --kl-divergence` measures it.
public struct TokenDivergence: Sendable, Equatable {
    /// KL(reference ‖ tested), nats.
    public var kl: Double
    /// Probability of the actual next token under the tested distribution minus under the reference.
    public var deltaP: Double
    /// Whether both distributions put their largest probability on the same token.
    public var sameTop: Bool

    public init(reference: [Double], tested: [Double], target: Int) {
        kl = LogProbabilities.divergence(reference, tested)
        deltaP = exp(tested[target]) - exp(reference[target])
        sameTop = LogProbabilities.top(reference) == LogProbabilities.top(tested)
    }
}

/// The summary `llama-perplexity --kl-divergence` prints, over every scored token: mean, median, 99th and 99.9th
/// percentile and maximum KL, the share of tokens with the same top-1 token, and the RMS of Δp.
public struct DivergenceStatistics: Sendable, Codable, Equatable {
    public var tokens: Int
    public var meanKL: Double
    public var medianKL: Double
    public var kl99: Double
    public var kl999: Double
    public var maxKL: Double
    public var sameTopShare: Double
    public var rmsDeltaP: Double

    /// - Parameters: per scored token, its KL, its Δp and whether the top-1 tokens agree.
    public init(kl: [Double], deltaP: [Double], sameTop: Int) {
        tokens = kl.count
        let sorted = kl.sorted()
        let n = Double(max(1, kl.count))
        meanKL = kl.reduce(0, +) / n
        medianKL = Quantile.of(sorted, 0.5)
        kl99 = Quantile.of(sorted, 0.99)
        kl999 = Quantile.of(sorted, 0.999)
        maxKL = sorted.last ?? 0
        sameTopShare = Double(sameTop) / n
        rmsDeltaP = (deltaP.reduce(0) { $0 + $1 * $1 } / Double(max(1, deltaP.count))).squareRoot()
    }

    public init(_ tokens: [TokenDivergence]) {
        self.init(kl: tokens.map(\.kl), deltaP: tokens.map(\.deltaP), sameTop: tokens.filter(\.sameTop).count)
    }
}

/// Quantiles of sorted values, interpolated linearly between neighbours (numpy's default).
public enum Quantile {
    public static func of(_ sorted: [Double], _ q: Double) -> Double {
        guard let first = sorted.first else { return 0 }
        guard sorted.count > 1 else { return first }
        let position = q * Double(sorted.count - 1)
        let low = Int(position.rounded(.down))
        let high = min(low + 1, sorted.count - 1)
        return sorted[low] + (position - Double(low)) * (sorted[high] - sorted[low])
    }
}
