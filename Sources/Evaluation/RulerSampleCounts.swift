import Foundation

/// Default samples per RULER task for `--suite ruler`, derived from measured rates: each task gets the fewest
/// samples at which the full cache's 95% Wilson interval and `random@0.5`'s would be apart, planned at the bottom
/// of the full cache's measured interval (the measured rate is itself uncertain), never fewer than `floor`. A task
/// the model cannot do at all (the full cache no better than `random@0.5`), or could only be told apart with more
/// than `ceiling` samples, gets `floor`: the samples would buy nothing the report could show.
public enum RulerSampleCounts {
    /// Fewest samples any task gets: a score is then known to about ±30 points.
    public static let floor = 10
    /// Most samples a task may need and still get them by default.
    public static let ceiling = 200

    /// What a rate was measured as: the share of expected answers found by the full cache and by `random@0.5`,
    /// over `samples` samples each.
    public struct MeasuredRates: Sendable, Equatable {
        public let fullCache: Double
        public let random: Double
        public let samples: Int
    }

    /// SmolLM2-135M-Instruct Q4_1, RULER at 4,096 tokens, test split, query-agnostic, 30 samples per task:
    /// docs/eval/ruler-samples.md (six needle tasks) and docs/eval/ruler-samples-rest.md (the other seven).
    public static let measured: [EvaluationPlan.Task: MeasuredRates] = [
        .niahSingle1: MeasuredRates(fullCache: 1.0, random: 0, samples: 30),
        .niahSingle2: MeasuredRates(fullCache: 26.0 / 30, random: 0, samples: 30),
        .niahSingle3: MeasuredRates(fullCache: 0.6, random: 0, samples: 30),
        .niahMultikey1: MeasuredRates(fullCache: 14.0 / 30, random: 0, samples: 30),
        .niahMultivalue: MeasuredRates(fullCache: 11.0 / 30, random: 0, samples: 30),
        .niahMultiquery: MeasuredRates(fullCache: 6.25 / 30, random: 0, samples: 30),
        .niahMultikey2: MeasuredRates(fullCache: 1.0 / 30, random: 0, samples: 30),
        .niahMultikey3: MeasuredRates(fullCache: 0, random: 0, samples: 30),
        .vt: MeasuredRates(fullCache: 3.6 / 30, random: 0, samples: 30),
        .cwe: MeasuredRates(fullCache: 1.3 / 30, random: 0.2 / 30, samples: 30),
        .fwe: MeasuredRates(fullCache: 5.0 / 30, random: 2.0 / 30, samples: 30),
        .qa1: MeasuredRates(fullCache: 0, random: 0, samples: 30),
        .qa2: MeasuredRates(fullCache: 0, random: 3.0 / 30, samples: 30),
    ]

    /// The default count of `task`: `samplesToSeparate` at its planned rates, `floor` without a measurement or when
    /// no count up to `ceiling` separates them.
    public static func defaultSamples(_ task: EvaluationPlan.Task) -> Int {
        guard let rates = measured[task] else { return floor }
        let plannedRate = ConfidenceInterval.wilson(mean: rates.fullCache, count: rates.samples).lowerBound
        return min(ceiling, max(floor, samplesToSeparate(rates: plannedRate, rates.random) ?? floor))
    }

    /// Defaults of every RULER task, by raw name (`EvaluationPlan.taskSamples`), computed once.
    public static let defaults: [String: Int] =
        Dictionary(uniqueKeysWithValues: EvaluationPlan.Task.ruler.map { ($0.rawValue, defaultSamples($0)) })

    /// The fewest samples n at which the Wilson intervals of rates `high` and `low`, each over n samples, do not
    /// overlap; nil when `high` is not above `low` or when more than `ceiling` would be needed.
    public static func samplesToSeparate(rates high: Double, _ low: Double) -> Int? {
        guard high > low else { return nil }
        return (1 ... ceiling).first { n in
            ConfidenceInterval.wilson(mean: low, count: n).upperBound
                < ConfidenceInterval.wilson(mean: high, count: n).lowerBound
        }
    }
}
