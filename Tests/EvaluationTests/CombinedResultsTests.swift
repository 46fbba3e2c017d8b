import Engine
@testable import Evaluation
import Foundation
import TestSupport
import XCTest

/// `tokenpress report`'s two halves: runs combined into one report, and the allocator against the best fixed
/// configuration at each budget with the fixed configurations' Pareto frontier.
final class CombinedResultsTests: XCTestCase {
    static let haystack = (0 ..< 400).map { "Verse \($0) tells of the field and the well. " }.joined()

    func plan(_ presses: [String]) -> EvaluationPlan {
        var plan = EvaluationPlan(presses: presses, ratios: [0.5, 0.75])
        plan.contexts = [256]
        plan.depths = [0.5]
        plan.continuation = 8
        plan.answerTokens = 4
        plan.tasks = [.perplexity, .needle]
        plan.modes = [.agnostic]
        return plan
    }

    /// The plan file `eval --jobs` hands its shard processes reads back as the very plan, targets and per-task
    /// sample counts included.
    func testAPlanFileReadsBackAsThePlan() throws {
        var original = plan(["snapkv", "target:memory=0.25", "razor+kivi:bits=4"])
        original.taskSamples = ["niah_single_1": 7]
        original.split = .calibration
        original.pressLayers = "all"
        let path = NSTemporaryDirectory() + "/plan-\(UUID().uuidString).json"
        try original.write(to: path)
        XCTAssertEqual(try EvaluationPlan.read(path), original)
        try original.write(to: path)  // written again over the first
        XCTAssertEqual(try EvaluationPlan.read(path), original)
    }

    /// Two runs of one press each, combined, report what one run of both presses reports.
    func testTwoRunsCombinedEqualOneRunOfBoth() throws {
        var tiny = TinyModel()
        tiny.context = 1024
        let engine = try InferenceEngine(modelPath: try tiny.write())
        func run(_ presses: [String]) throws -> EvaluationResults {
            try Evaluator(engine: engine, plan: plan(presses), haystack: Self.haystack) { $0 }.run(model: "tiny")
        }
        let both = EvaluationReport(try run(["knorm", "streaming"]))
        let combination = try EvaluationResults.combining([("a", try run(["knorm"])), ("b", try run(["streaming"]))])
        XCTAssertEqual(combination.notes, [], "the same engine: the full caches agree")
        let combined = EvaluationReport(combination.results)
        XCTAssertEqual(combined.rows, both.rows)
        let presses = combined.results.plan.configurations.map(\.press)
        XCTAssertEqual(presses, ["none", "knorm", "knorm", "streaming", "streaming"])
        // A combined report survives its own JSON: the configurations travel with the plan.
        let reread = try EvaluationReport.results(fromJSON: try combined.json())
        XCTAssertEqual(EvaluationReport(reread).rows, both.rows)
    }

    func testIncompatibleRunsAreNamedAndDuplicatesTakenFromTheFirst() throws {
        let a = EvaluationResults(model: "m", plan: plan(["knorm"]))
        var other = plan(["knorm", "snapkv"])
        other.contexts = [512]
        let b = EvaluationResults(model: "m", plan: other)
        XCTAssertThrowsError(try EvaluationResults.combining([("a.json", a), ("b.json", b)])) {
            XCTAssertEqual("\($0)", "b.json cannot be combined with a.json: they differ in contexts (256 against 512)")
        }
        let otherModel = EvaluationResults(model: "n", plan: plan([]))
        XCTAssertThrowsError(try EvaluationResults.combining([("a.json", a), ("b.json", otherModel)])) {
            XCTAssertEqual("\($0)", "b.json cannot be combined with a.json: they differ in model (m against n)")
        }
        XCTAssertThrowsError(try EvaluationResults.combining([])) { XCTAssertEqual("\($0)", "no results files given") }
        // Modes and depths do not change a perplexity-only plan's stretches: such runs combine.
        var perplexity = plan(["knorm"])
        perplexity.tasks = [.perplexity]
        var otherModes = plan(["snapkv"])
        otherModes.tasks = [.perplexity]
        otherModes.modes = [.agnostic, .aware]
        otherModes.depths = [0.25]
        let scored = [("a.json", EvaluationResults(model: "m", plan: perplexity)),
                      ("b.json", EvaluationResults(model: "m", plan: otherModes))]
        XCTAssertEqual(try EvaluationResults.combining(scored).results.plan.configurations.count, 5)
        let c = EvaluationResults(model: "m", plan: plan(["knorm", "snapkv"]))
        let combination = try EvaluationResults.combining([("a.json", a), ("c.json", c)])
        XCTAssertEqual(combination.results.plan.configurations.map { "\($0.press)@\($0.ratio)" },
                       ["none@0.0", "knorm@0.5", "knorm@0.75", "snapkv@0.5", "snapkv@0.75"])
        XCTAssertEqual(combination.notes, ["knorm@0.5: taken from a.json, not from c.json",
                                           "knorm@0.75: taken from a.json, not from c.json"])
    }

    /// A RULER run with 6 samples of one task and a 3-sample run of other presses combine on the first 3 samples.
    func testRulerRunsWithMoreSamplesCombineOnTheSamplesAllHave() throws {
        func run(_ presses: [String], samples: Int, taskSamples: [String: Int] = [:]) -> EvaluationResults {
            var plan = EvaluationPlan(presses: presses, ratios: [0.5])
            plan.tasks = [.niahSingle1, .niahSingle2]
            plan.contexts = [1000]
            plan.modes = [.agnostic]
            plan.samples = samples
            plan.taskSamples = taskSamples
            var results = EvaluationResults(model: "m", plan: plan)
            for press in ["none"] + presses {
                for task in plan.tasks {
                    for sample in 0 ..< plan.samples(for: task) {
                        results.answers.append(AnswerRecord(
                            task: task, press: press, ratio: press == "none" ? 0 : 0.5, context: 1000, depth: 0,
                            sample: sample, mode: .agnostic, expected: ["1"], answer: "1", score: 1,
                            cacheBytes: 500, denseBytes: 1000))
                    }
                }
            }
            return results
        }
        let six = run(["knorm"], samples: 3, taskSamples: ["niah_single_1": 6])
        let three = run(["snapkv"], samples: 3)
        let combination = try EvaluationResults.combining([("six.json", six), ("three.json", three)])
        XCTAssertEqual(combination.notes, ["six.json: only the samples every file has (niah_single_1=3,niah_single_2=3)"])
        let plan = combination.results.plan
        XCTAssertEqual(plan.samples(for: .niahSingle1), 3)
        XCTAssertEqual(combination.results.answers.count, 3 * 2 * 3, "none, knorm, snapkv × 2 tasks × 3 samples")
        XCTAssertTrue(combination.results.answers.allSatisfy { ($0.sample ?? 0) < 3 })
        // Different tasks still do not combine.
        var otherTasks = three
        otherTasks.plan.tasks = [.niahSingle1]
        XCTAssertThrowsError(try EvaluationResults.combining([("six.json", six), ("other.json", otherTasks)]))
    }

    /// Hand-made answers: 20 questions; the full cache finds all. snapkv@0.5 (500 bytes) finds 15, snapkv@0.75 (250)
    /// finds 5, knorm@0.5 (500) finds 10 (dominated), the 25% target (240 of 1,000 bytes) finds all.
    func answersResults() -> EvaluationResults {
        var plan = EvaluationPlan(presses: ["snapkv", "knorm", "target:memory=0.25"], ratios: [0.5, 0.75])
        plan.tasks = [.niahSingle1]
        plan.contexts = [1000]
        plan.modes = [.agnostic]
        plan.samples = 20
        var results = EvaluationResults(model: "m", plan: plan)
        func add(_ press: String, _ ratio: Double, bytes: Int, found: Int) {
            for sample in 0 ..< 20 {
                results.answers.append(AnswerRecord(
                    task: .niahSingle1, press: press, ratio: ratio, context: 1000, depth: 0, sample: sample,
                    mode: .agnostic,
                    expected: ["1"], answer: sample < found ? "1" : "", score: sample < found ? 1 : 0,
                    cacheBytes: bytes, denseBytes: 1000))
            }
        }
        add("none", 0, bytes: 1000, found: 20)
        add("snapkv", 0.5, bytes: 500, found: 15)
        add("snapkv", 0.75, bytes: 250, found: 5)
        add("knorm", 0.5, bytes: 500, found: 10)
        add("knorm", 0.75, bytes: 260, found: 4)
        add("target:memory=0.25", 0.5, bytes: 240, found: 20)
        return results
    }

    func testParetoFrontierAndBestFixedWithinTheBudget() throws {
        let report = EvaluationReport(answersResults())
        let pareto = try XCTUnwrap(ParetoComparison(report, quality: .score))
        XCTAssertEqual(pareto.frontier.map { "\($0.press)@\($0.ratio)" }, ["snapkv@0.75", "snapkv@0.5"],
                       "knorm is beaten by snapkv at fewer or equal bytes")
        let budget = try XCTUnwrap(pareto.budgets.first)
        XCTAssertEqual(budget.bytes, 250, "25% of the dense 1,000 bytes")
        XCTAssertEqual(budget.bestFixed?.press, "snapkv", "knorm@0.75 (260 bytes) does not fit")
        XCTAssertEqual(budget.bestFixed?.ratio, 0.75)
        XCTAssertEqual(try XCTUnwrap(budget.difference), 0.75, accuracy: 1e-12)
        XCTAssertEqual(budget.verdict, "allocator better", "15 questions won, none lost")
        XCTAssertNil(ParetoComparison(report, quality: .kl), "no perplexity measured")
        let markdown = report.markdown
        let expected = "| target:memory=0.25 | 0.00 MiB | 100% [84–100] n=20 | 0.00 MiB | snapkv @0.7500 |"
        XCTAssertTrue(markdown.contains(expected), markdown)
        XCTAssertNotNil(report.plots["pareto-score.svg"])
    }

    /// KL: lower is better; a few stretches that all agree are still tied by the sign test.
    func testKLComparisonNeedsEnoughStretchesToSeparate() throws {
        func results(stretches: Int) -> EvaluationResults {
            var plan = EvaluationPlan(presses: ["snapkv", "target:memory=0.5"], ratios: [0.5])
            plan.tasks = [.perplexity]
            plan.contexts = [1000]
            plan.samples = stretches
            var results = EvaluationResults(model: "m", plan: plan)
            for sample in 0 ..< stretches {
                let rows = [("none", 0.0, 1000), ("snapkv", 0.02, 500), ("target:memory=0.5", 0.01, 480)]
                for (press, kl, bytes) in rows {
                    let jitter = Double(sample) * 0.0001
                    results.perplexity.append(PerplexityRecord(
                        press: press, ratio: press == "none" ? 0 : 0.5, context: 1000, sample: sample, tokens: 8,
                        nll: 1,
                        ppl: 2, kl: kl + jitter, cacheBytes: bytes, denseBytes: 1000))
                }
            }
            return results
        }
        let few = try XCTUnwrap(ParetoComparison(EvaluationReport(results(stretches: 4)), quality: .kl))
        XCTAssertEqual(few.budgets.first?.verdict, "tied (sign test p = 0.12)")
        let many = try XCTUnwrap(ParetoComparison(EvaluationReport(results(stretches: 8)), quality: .kl))
        XCTAssertEqual(many.budgets.first?.verdict, "allocator better")
        XCTAssertEqual(try XCTUnwrap(many.budgets.first?.difference), -0.01, accuracy: 1e-12)
    }
}
