import Engine
import Evaluation
import Foundation
import TestSupport
import XCTest

/// The evaluation harness on the tiny random model: shape of the sweep, baselines, bytes, reproducibility.
final class EvaluationTests: XCTestCase {
    static let haystack = (0 ..< 400).map { "Verse \($0) tells of the field and the well. " }.joined()

    func makeEngine() throws -> InferenceEngine {
        var tiny = TinyModel()
        tiny.context = 2048
        return try InferenceEngine(modelPath: try tiny.write())
    }

    func smallPlan() -> EvaluationPlan {
        var plan = EvaluationPlan(presses: ["knorm", "snapkv:window=8"], ratios: [0.5, 0.75])
        plan.contexts = [256, 320]
        plan.depths = [0, 0.5, 1]
        plan.continuation = 16
        plan.answerTokens = 4
        return plan
    }

    func testSweepHasTheFullCacheFirstAndMeasuredBytes() throws {
        let engine = try makeEngine()
        let plan = smallPlan()
        let evaluator = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }
        var calls: [(Int, Int)] = []
        let results = try evaluator.run(model: "tiny") { calls.append(($0, $1)) }
        XCTAssertEqual(calls.last?.0, evaluator.totalSteps, "the progress bar reaches its end")
        XCTAssertEqual(results.perplexity.count, 5 * 2, "(none + 2 presses × 2 ratios) × 2 contexts")
        XCTAssertEqual(results.needle.count, 5 * 2 * 3 * 2, "configurations × contexts × depths × modes")
        let report = EvaluationReport(results)
        XCTAssertEqual(report.rows.map(\.press), ["none", "knorm", "knorm", "snapkv:window=8", "snapkv:window=8"])
        let none = report.rows[0]
        XCTAssertEqual(none.perplexityRatio, 1)
        XCTAssertEqual(none.meanKL, 0)
        for r in results.perplexity {
            // Each KV head keeps n − ⌊n·ratio⌋ tokens: 2 layers × 2 heads × 68 bytes per token.
            let kept = r.context - Int((Double(r.context) * r.ratio).rounded(.down))
            XCTAssertEqual(r.cacheBytes, 4 * kept * 68, "\(r.press)@\(r.ratio)")
            XCTAssertEqual(r.denseBytes, 4 * r.context * 64)
            XCTAssertEqual(r.tokens, 15)
            if r.ratio > 0 { XCTAssertGreaterThan(r.kl, 0, "compression changes the distributions") }
        }
        XCTAssertEqual(report.rows[2].saving, 1 - Double(4 * 68) / Double(4 * 64 * 4), accuracy: 0.02, "knorm@0.75 saves about 73%")
        let markdown = report.markdown
        XCTAssertTrue(markdown.contains("| press | ratio | PPL ratio | mean KL | needle, query-agnostic | needle, query-aware |"))
        XCTAssertTrue(markdown.contains("| none | 0.000 | 1.000 | 0.0000 |"), markdown)
        let json = try JSONSerialization.jsonObject(with: try report.json()) as? [String: Any]
        XCTAssertEqual((json?["summary"] as? [Any])?.count, 5)
    }

    func testSameSeedSameResultsOtherSeedOtherNeedles() throws {
        let engine = try makeEngine()
        var plan = smallPlan()
        plan.tasks = [.needle]
        plan.contexts = [256]
        let a = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny")
        let b = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny")
        XCTAssertEqual(a.needle, b.needle)
        plan.seed = 9
        let c = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny")
        XCTAssertNotEqual(a.needle.map(\.expected), c.needle.map(\.expected))
    }

    func testNeedleIsPlacedAtItsDepthAndFillsTheContext() throws {
        let engine = try makeEngine()
        let filler = engine.tokenizer.encode(Self.haystack, addSpecial: false)
        for depth in [0.0, 0.5, 1.0] {
            let task = try NeedleTask(engine: engine, filler: filler, tokens: 300, depth: depth, seed: 4) { $0 }
            let context = task.prompt.contextPart
            let at = context.range(of: "The special magic number is \(task.magicNumber).")!
            let fraction = Double(context.distance(from: context.startIndex, to: at.lowerBound))
                / Double(context.count - context.distance(from: at.lowerBound, to: at.upperBound))
            XCTAssertEqual(fraction, depth, accuracy: 0.1, "depth \(depth)")
            let total = engine.tokenizer.encode(task.prompt.contextPart + task.prompt.questionPart).count
            XCTAssertEqual(Double(total), 300, accuracy: 6)
            XCTAssertTrue(task.isCorrect(" \(task.magicNumber)."))
            XCTAssertFalse(task.isCorrect(" 12."))
        }
    }

    func testImpossiblePlansAreRefused() throws {
        let engine = try makeEngine()
        var plan = smallPlan()
        plan.contexts = [4000]
        XCTAssertThrowsError(try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }) {
            XCTAssertTrue("\($0)".contains("must fit the model's 2048 tokens"), "\($0)")
        }
        plan.contexts = [1500]
        XCTAssertThrowsError(try Evaluator(engine: engine, plan: plan, haystack: "too short") { $0 }) {
            XCTAssertTrue("\($0)".contains("at least"), "\($0)")
        }
        plan = smallPlan()
        plan.presses = ["magic"]
        XCTAssertThrowsError(try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 })
    }
}
