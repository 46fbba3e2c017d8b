import Foundation

/// 95% confidence intervals for the scores of a report.
public enum ConfidenceInterval {
    /// z for a two-sided 95% interval.
    static let z = 1.959964

    /// Wilson's score interval for a proportion: `mean` of n scores in [0, 1]. For scores that are shares
    /// (RULER's string_match_all over several expected strings) the mean stands in for the proportion of successes,
    /// which is what RULER's own averages are.
    public static func wilson(mean: Double, count n: Int) -> ClosedRange<Double> {
        guard n > 0 else { return 0 ... 1 }
        let count = Double(n)
        let p = min(1, max(0, mean))
        let denominator = 1 + z * z / count
        let centre = (p + z * z / (2 * count)) / denominator
        let halfWidth = z * (p * (1 - p) / count + z * z / (4 * count * count)).squareRoot() / denominator
        return max(0, centre - halfWidth) ... min(1, centre + halfWidth)
    }
}
