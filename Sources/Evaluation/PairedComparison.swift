import Foundation

/// Whether one configuration scores better than another on the same questions: a paired bootstrap of the
/// difference of their average scores (each task's questions resampled within the task, the same draw for both),
/// which separates presses that independent intervals would call overlapping.
struct PairedComparison {
    /// Per task, the questions both configurations answered, as (score of a, score of b).
    let pairs: [[(a: Double, b: Double)]]

    /// - Parameters: the answers of two configurations, in the first mode of the plan.
    init(_ a: [AnswerRecord], _ b: [AnswerRecord], tasks: [EvaluationPlan.Task]) {
        var scoresOfB: [String: Double] = [:]
        for r in b { scoresOfB[r.questionKey] = r.score }
        pairs = tasks.map { task in
            a.filter { $0.task == task }.compactMap { r in scoresOfB[r.questionKey].map { (r.score, $0) } }
        }.filter { !$0.isEmpty }
    }

    /// Average score of a minus that of b.
    var difference: Double {
        let means = pairs.map { task in task.reduce(0) { $0 + $1.a - $1.b } / Double(task.count) }
        return means.isEmpty ? 0 : means.reduce(0, +) / Double(means.count)
    }

    /// 95% bootstrap interval of `difference`.
    var interval: ClosedRange<Double> {
        let pairs = self.pairs
        return ConfidenceInterval.bootstrap(sizes: pairs.map(\.count)) { drawn in
            let means = zip(pairs, drawn).map { task, indices in
                indices.reduce(0) { $0 + task[$1].a - task[$1].b } / Double(indices.count)
            }
            return means.reduce(0, +) / Double(means.count)
        }
    }
}

extension PairedComparison {
    /// Two-sided exact sign test on the per-question differences (questions answered equally are left out): the
    /// chance of a split at least this lopsided if neither configuration were better. Unlike a bootstrap of a few
    /// samples that happen to agree, it cannot call 3 wins out of 3 significant (p = 0.25).
    var signTestP: Double {
        let differences = pairs.flatMap { $0.map { $0.a - $0.b } }
        return Self.signTest(differences)
    }

    /// Two-sided exact sign test of paired differences (zeros left out).
    static func signTest(_ differences: [Double]) -> Double {
        let wins = differences.filter { $0 > 0 }.count, losses = differences.filter { $0 < 0 }.count
        let n = wins + losses
        guard n > 0 else { return 1 }
        var tail = 0.0
        var term = pow(0.5, Double(n))  // C(n, 0) / 2^n
        for k in 0 ... min(wins, losses) {
            if k > 0 { term *= Double(n - k + 1) / Double(k) }
            tail += term
        }
        return min(1, 2 * tail)
    }

    /// Whether a scores higher than b: the paired bootstrap interval lies above 0 and the sign test agrees at 5%.
    var aIsBetter: Bool { Self.separation(interval: interval, signTestP: signTestP) == .aHigher }
    var bIsBetter: Bool { Self.separation(interval: interval, signTestP: signTestP) == .bHigher }

    enum Separation { case aHigher, bHigher, tied }

    /// The one rule by which every report tells two configurations apart (the leaderboard's ranks, the Pareto
    /// comparison's verdicts): the bootstrap interval of the paired difference a − b excludes 0 *and* the exact sign
    /// test agrees at 5%; otherwise they are tied.
    static func separation(interval: ClosedRange<Double>, signTestP: Double) -> Separation {
        guard signTestP < 0.05 else { return .tied }
        if interval.lowerBound > 0 { return .aHigher }
        if interval.upperBound < 0 { return .bHigher }
        return .tied
    }
}

extension AnswerRecord {
    /// Identifies the question, whatever configuration answered it.
    var questionKey: String { "\(task) \(context) \(depth) \(sample ?? -1) \(mode)" }
}
