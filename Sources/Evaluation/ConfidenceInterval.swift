import Engine
import Foundation
import Sampling

/// 95% confidence intervals for the scores of a report.
public enum ConfidenceInterval {
    /// z for a two-sided 95% interval.
    static let z = 1.959964
    /// Resamples of every bootstrap interval (enough for stable 2.5% and 97.5% percentiles).
    public static let resamples = 2000

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

    /// Percentile bootstrap interval of a statistic of several groups of measurements (tasks, say), each
    /// resampled with replacement within itself, so every resample keeps each group's size.
    /// - Parameters:
    ///   - sizes: the number of measurements in each group.
    ///   - statistic: the statistic of one resample, given the indices drawn for each group.
    /// - Returns: the 2.5% and 97.5% percentiles of the statistic over `resamples` resamples; seeded, so a report
    ///   is reproducible.
    public static func bootstrap(sizes: [Int], seed: UInt64 = 0, statistic: ([[Int]]) -> Double) -> ClosedRange<Double> {
        guard sizes.contains(where: { $0 > 0 }) else { return 0 ... 0 }
        var generator = SeededGenerator(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        for _ in 0 ..< resamples {
            let drawn = sizes.map { size in (0 ..< size).map { _ in Int(generator.next() % UInt64(size)) } }
            values.append(statistic(drawn))
        }
        values.sort()
        return Quantile.of(values, 0.025) ... Quantile.of(values, 0.975)
    }

    /// Bootstrap interval of the mean of `values`.
    public static func bootstrapMean(_ values: [Double], seed: UInt64 = 0) -> ClosedRange<Double> {
        bootstrap(sizes: [values.count], seed: seed) { drawn in drawn[0].reduce(0) { $0 + values[$1] } / Double(drawn[0].count) }
    }

    /// Bootstrap interval of the mean over groups of each group's mean (an average of task scores, each task
    /// resampled within itself).
    public static func bootstrapMeanOfMeans(_ groups: [[Double]], seed: UInt64 = 0) -> ClosedRange<Double> {
        let kept = groups.filter { !$0.isEmpty }
        return bootstrap(sizes: kept.map(\.count), seed: seed) { drawn in
            let means = zip(kept, drawn).map { group, indices in indices.reduce(0) { $0 + group[$1] } / Double(indices.count) }
            return means.reduce(0, +) / Double(means.count)
        }
    }
}
