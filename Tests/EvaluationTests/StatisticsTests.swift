import Engine
import Evaluation
import Foundation
import XCTest

/// Bootstrap intervals, llama.cpp's KL statistics, and the leaderboard's ranking by paired bootstrap, on cases
/// worked out by hand.
final class StatisticsTests: XCTestCase {
    func testQuantilesInterpolateAsNumpy() {
        let sorted = [1.0, 2, 3, 4, 5]
        XCTAssertEqual(Quantile.of(sorted, 0.5), 3)
        XCTAssertEqual(Quantile.of(sorted, 0.99), 4.96, accuracy: 1e-12, "numpy.quantile([1..5], 0.99)")
        XCTAssertEqual(Quantile.of(sorted, 0), 1)
        XCTAssertEqual(Quantile.of(sorted, 1), 5)
        XCTAssertEqual(Quantile.of([7], 0.3), 7)
    }

    func testBootstrapIntervalsOnKnownCases() {
        let constant = ConfidenceInterval.bootstrapMean(Array(repeating: 0.25, count: 30))
        XCTAssertEqual(constant.lowerBound, 0.25)
        XCTAssertEqual(constant.upperBound, 0.25)
        // 50 zeros and 50 ones: the mean's standard error is 0.05, so the 95% interval is about 0.5 ± 0.098.
        let coin = ConfidenceInterval.bootstrapMean(Array(repeating: 0.0, count: 50) + Array(repeating: 1.0, count: 50))
        XCTAssertEqual(coin.lowerBound, 0.402, accuracy: 0.02)
        XCTAssertEqual(coin.upperBound, 0.598, accuracy: 0.02)
        XCTAssertEqual(coin, ConfidenceInterval.bootstrapMean(Array(repeating: 0.0, count: 50) + Array(repeating: 1.0, count: 50)),
                       "seeded: the same report twice")
        // Groups resampled within themselves: a task always right and one always wrong average exactly 0.5.
        let strata = ConfidenceInterval.bootstrapMeanOfMeans([Array(repeating: 1, count: 10), Array(repeating: 0, count: 10)])
        XCTAssertEqual(strata.lowerBound, 0.5)
        XCTAssertEqual(strata.upperBound, 0.5)
    }

    func testDivergenceStatisticsAreLlamaCppsFields() {
        // p = (0.5, 0.5), q = (0.25, 0.75): KL(p ‖ q) = 0.5 ln 2 + 0.5 ln(2/3).
        let p = [log(0.5), log(0.5)], q = [log(0.25), log(0.75)]
        let token = TokenDivergence(reference: p, tested: q, target: 1)
        XCTAssertEqual(token.kl, 0.5 * log(2) + 0.5 * log(2.0 / 3), accuracy: 1e-12)
        XCTAssertEqual(token.deltaP, 0.25, accuracy: 1e-12)
        XCTAssertFalse(token.sameTop, "p's tie goes to token 0, q's top is token 1")
        let same = TokenDivergence(reference: p, tested: p, target: 0)
        XCTAssertEqual(same.kl, 0)
        XCTAssertEqual(same.deltaP, 0)
        let flipped = TokenDivergence(reference: [log(0.9), log(0.1)], tested: [log(0.2), log(0.8)], target: 0)
        XCTAssertFalse(flipped.sameTop)
        let stats = DivergenceStatistics(kl: [0.1, 0.2, 0.3, 0.4, 1.0], deltaP: [0.1, -0.1, 0.2, -0.2, 0], sameTop: 4)
        XCTAssertEqual(stats.tokens, 5)
        XCTAssertEqual(stats.meanKL, 0.4, accuracy: 1e-12)
        XCTAssertEqual(stats.medianKL, 0.3, accuracy: 1e-12)
        XCTAssertEqual(stats.kl99, 0.4 + 0.96 * 0.6, accuracy: 1e-12)
        XCTAssertEqual(stats.maxKL, 1.0)
        XCTAssertEqual(stats.sameTopShare, 0.8)
        XCTAssertEqual(stats.rmsDeltaP, (0.1 / 5).squareRoot(), accuracy: 1e-12, "sqrt(mean(0.01, 0.01, 0.04, 0.04, 0))")
    }

    func testKLBaseFilesRoundTripAndRefuseDamage() throws {
        let base = KLDivergenceBase(vocabulary: 3, window: 8, scoredPerWindow: 2, windows: 1, tokenHash: KLDivergenceBase.hash(tokens: [1, 2]),
                                    negativeLogLikelihood: 1.25, targets: [2, 0], logProbabilities: [-1, -2, -0.5, -0.1, -3, -4])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("base-\(UUID().uuidString).kld")
        defer { try? FileManager.default.removeItem(at: file) }
        let data = base.encoded()
        try data.write(to: file)
        let read = try KLDivergenceBase.read(file.path)
        XCTAssertEqual(read.targets, [2, 0])
        XCTAssertEqual(read.logProbabilities, base.logProbabilities)
        XCTAssertEqual(read.negativeLogLikelihood, 1.25)
        XCTAssertEqual(read.row(1), [-0.1, -3, -4].map { Double(Float($0)) })
        for cut in [0, 8, 20, data.count - 1] {
            try data.prefix(cut).write(to: file)
            XCTAssertThrowsError(try KLDivergenceBase.read(file.path), "cut at \(cut)")
        }
        var flipped = data
        flipped[60] ^= 1
        try flipped.write(to: file)
        XCTAssertThrowsError(try KLDivergenceBase.read(file.path)) { XCTAssertTrue("\($0)".contains("checksum"), "\($0)") }
    }

    /// Four presses on 20 questions of two tasks: a and c answer the same, b misses every one, d is a with 3 more
    /// misses. a, c and d tie for first (3 questions out of 20 are no evidence: the sign test's p is 0.25); b ranks
    /// fourth, below all three.
    func testTheLeaderboardRanksOnlyWhereThePairedBootstrapSeparates() {
        var plan = EvaluationPlan(presses: ["a", "b", "c", "d"], ratios: [0.5])
        plan.tasks = [.niahSingle1, .vt]
        plan.contexts = [4096]
        plan.modes = [.agnostic]
        plan.samples = 10
        var results = EvaluationResults(model: "m", plan: plan)
        for task in plan.tasks {
            for sample in 0 ..< 10 {
                for (press, ratio) in [("none", 0.0), ("a", 0.5), ("b", 0.5), ("c", 0.5), ("d", 0.5)] {
                    let extraMiss = press == "d" && task == .niahSingle1 && (1 ... 3).contains(sample)
                    let right = press != "b" && (sample % 5 != 0 || press == "none") && !extraMiss
                    results.answers.append(AnswerRecord(task: task, press: press, ratio: ratio, context: 4096, depth: 0, sample: sample,
                                                        mode: .agnostic, expected: ["x"], answer: right ? "x" : "y",
                                                        score: right ? 1 : 0, cacheBytes: 1, denseBytes: 2))
                }
            }
        }
        let board = EvaluationReport(results).leaderboard(command: "tokenpress eval")
        XCTAssertTrue(board.contains("| 1 (tied) | a | 80% [58–95] n=20 | −20 [−35, −5] | 80% [49–94] | 80% [49–94] |"), board)
        XCTAssertTrue(board.contains("| 1 (tied) | c |"), board)
        XCTAssertTrue(board.contains("| 1 (tied) | d | 65% ["), board)
        XCTAssertTrue(board.contains("| 4 | b | 0% [0–16] n=20 | −100 [−100, −100] | 0% [0–28] |"), board)
        XCTAssertTrue(board.contains("niah_single_1 (n=10)"), board)
        XCTAssertTrue(board.contains("**a** (tied with c, d)"), board)
    }
}
