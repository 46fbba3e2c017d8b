import Engine
import Evaluation
import Foundation
import TestSupport
import XCTest

/// RULER's scoring, the split of its prompts, the 95% intervals, and a RULER sweep on the tiny model
/// (samples written by hand here; the real ones come from RULER's generators through `RulerSamples`).
final class RulerSuiteTests: XCTestCase {
    func sample(_ task: String, index: Int, context: String, question: String, outputs: [String], metric: String = "all") -> RulerSample {
        let input = context + question
        let fields: [String: Any] = ["task": task, "index": index, "input": input, "question_start": context.utf8.count,
                                     "outputs": outputs, "tokens_to_generate": 4, "metric": metric]
        let json = try! JSONSerialization.data(withJSONObject: fields)
        return try! JSONDecoder().decode(RulerSample.self, from: json)
    }

    /// Hand-checked against RULER's string_match_all / string_match_part (per sample, divided by 100).
    func testScoringMatchesRULERs() throws {
        let all = try sample("vt", index: 0, context: "x", question: "?", outputs: ["ABC", "DEF", "GHI"]).question(task: .vt)
        XCTAssertEqual(all.score("they are: abc, ghi"), 2.0 / 3.0, accuracy: 1e-12, "string_match_all: 66.67")
        XCTAssertEqual(all.score("none"), 0)
        let part = try sample("qa_1", index: 0, context: "x", question: "?", outputs: ["France", "Normandy"], metric: "part").question(task: .qa1)
        XCTAssertEqual(part.score("In northern FRANCE."), 1, "string_match_part: any reference counts fully")
        XCTAssertEqual(part.score("Spain"), 0)
    }

    func testAPromptSplitsWhereItsQuestionStarts() throws {
        let context = "Some text with é and 😀 in it.\n"
        let question = "\nWhat is the special magic number for x? The special magic number for x is"
        let q = try sample("niah_single_1", index: 3, context: context, question: question, outputs: ["1234567"]).question(task: .niahSingle1)
        XCTAssertEqual(q.prompt.contextPart, context)
        XCTAssertEqual(q.prompt.questionPart, question)
        XCTAssertEqual(q.sample, 3)
        XCTAssertEqual(q.answerTokens, 4)
        XCTAssertFalse(q.matchAny)
    }

    func testWilsonIntervalsOnKnownCases() {
        let half = ConfidenceInterval.wilson(mean: 0.5, count: 10)
        XCTAssertEqual(half.lowerBound, 0.2366, accuracy: 1e-4)
        XCTAssertEqual(half.upperBound, 0.7634, accuracy: 1e-4)
        let none = ConfidenceInterval.wilson(mean: 0, count: 10)
        XCTAssertEqual(none.lowerBound, 0)
        XCTAssertEqual(none.upperBound, 0.2775, accuracy: 1e-4)
        let all = ConfidenceInterval.wilson(mean: 1, count: 2)
        XCTAssertEqual(all.lowerBound, 0.3424, accuracy: 1e-4)
        XCTAssertEqual(all.upperBound, 1)
    }

    /// RULER's budget counts the answer inside the context, so a RULER-only plan may use the whole context (8k on
    /// SmolLM2); a plan with perplexity still needs room for its continuation.
    func testARULEROnlyPlanMayFillTheContext() throws {
        var tiny = TinyModel()
        tiny.context = 512
        let engine = try InferenceEngine(modelPath: try tiny.write())
        var plan = EvaluationPlan(presses: ["knorm"], ratios: [0.5])
        plan.tasks = [.niahSingle1, .vt]
        plan.contexts = [512]
        XCTAssertNoThrow(try Evaluator.validate(plan, for: engine))
        plan.contexts = [513]
        XCTAssertThrowsError(try Evaluator.validate(plan, for: engine)) { XCTAssertTrue("\($0)".contains("RULER"), "\($0)") }
        plan.tasks = [.niahSingle1, .perplexity]
        plan.contexts = [512]
        XCTAssertThrowsError(try Evaluator.validate(plan, for: engine)) {
            XCTAssertTrue("\($0)".contains("continuation"), "\($0)")
        }
    }

    func testARULERSweepCountsSamplesAndReportsIntervals() throws {
        var tiny = TinyModel()
        tiny.context = 2048
        let engine = try InferenceEngine(modelPath: try tiny.write())
        var plan = EvaluationPlan(presses: ["knorm"], ratios: [0.5])
        plan.tasks = [.niahSingle1, .qa1]
        plan.contexts = [256]
        plan.samples = 3
        plan.modes = [.agnostic]
        XCTAssertEqual(plan.promptCount, 2 * 3)
        let haystack = String(repeating: "hello world and more words. ", count: 200)
        let context = String(repeating: "hello world. ", count: 40)
        var samples: [String: [RulerSample]] = [:]
        samples[Evaluator.rulerKey(.niahSingle1, 256)] = (0 ..< 3).map {
            sample("niah_single_1", index: $0, context: context, question: "\nWhat is it? It is", outputs: ["hello"])
        }
        samples[Evaluator.rulerKey(.qa1, 256)] = (0 ..< 3).map {
            sample("qa_1", index: $0, context: context, question: "\nQuestion: which? Answer:", outputs: ["zzz"], metric: "part")
        }
        let evaluator = try Evaluator(engine: engine, plan: plan, haystack: haystack, rulerSamples: samples) { $0 }
        let results = try evaluator.run(model: "tiny")
        XCTAssertEqual(results.answers.count, 2 * 3 * 2, "tasks × samples × (none + knorm@0.5)")
        XCTAssertEqual(Set(results.answers.compactMap(\.sample)), [0, 1, 2])
        let report = EvaluationReport(results)
        XCTAssertEqual(report.rows[0].counts["niah_single_1/agnostic"], 3)
        XCTAssertEqual(report.rows[0].intervals["qa_1/agnostic"]?.count, 2)
        XCTAssertTrue(report.markdown.contains("## qa_1 (RULER) by context: score, 95% interval, samples"), report.markdown)
        // Too few samples for the plan is an error before any prefill.
        plan.samples = 4
        XCTAssertThrowsError(try Evaluator(engine: engine, plan: plan, haystack: haystack, rulerSamples: samples) { $0 })
    }

    func rulerPlanAndSamples(count: Int) -> (EvaluationPlan, [String: [RulerSample]]) {
        var plan = EvaluationPlan(presses: ["knorm", "streaming"], ratios: [0.5])
        plan.tasks = [.niahSingle1, .vt]
        plan.contexts = [256]
        plan.samples = count
        plan.modes = [.agnostic, .aware]
        let context = String(repeating: "hello world. ", count: 40)
        var samples: [String: [RulerSample]] = [:]
        samples[Evaluator.rulerKey(.niahSingle1, 256)] = (0 ..< count).map {
            sample("niah_single_1", index: $0, context: context + "\($0)", question: "\nWhat is it? It is", outputs: ["hello"])
        }
        samples[Evaluator.rulerKey(.vt, 256)] = (0 ..< count).map {
            sample("vt", index: $0, context: context, question: "\nWhich? They are", outputs: ["world", "hello"])
        }
        return (plan, samples)
    }

    /// Stopped after any prompt and resumed from what was saved, a RULER sweep ends with exactly the results of one
    /// uninterrupted run, in the same order; and a sweep stopped early holds the first samples of every task.
    func testAnInterruptedRULERSweepResumesToTheSameResults() throws {
        var tiny = TinyModel()
        tiny.context = 2048
        let engine = try InferenceEngine(modelPath: try tiny.write())
        let (plan, samples) = rulerPlanAndSamples(count: 3)
        let haystack = String(repeating: "hello world and more words. ", count: 200)
        func evaluator() throws -> Evaluator { try Evaluator(engine: engine, plan: plan, haystack: haystack, rulerSamples: samples) { $0 } }
        let whole = try evaluator().run(model: "tiny")
        XCTAssertEqual(whole.answers.count, 2 * 3 * 2 * 3, "tasks × samples × modes × configurations")
        struct Interrupted: Error {}
        for stop in [1, 4, 7] {
            var saved: EvaluationResults?
            var saves = 0
            XCTAssertThrowsError(try evaluator().run(model: "tiny", save: {
                saved = $0
                saves += 1
                if saves == stop { throw Interrupted() }
            }))
            let partial = try XCTUnwrap(saved)
            if stop == 4 {
                let tasks = Set(partial.answers.map(\.task))
                XCTAssertEqual(tasks, [.niahSingle1, .vt], "sample-major: both tasks have their first sample after 4 prompts")
            }
            let reread = try EvaluationReport.results(fromJSON: try EvaluationReport(partial).json())
            let resumer = try evaluator()
            let resumed = try resumer.run(model: "tiny", previous: reread)
            XCTAssertEqual(resumer.prefillCount, 12 - stop, "only the prompts left are prefilled (stopped after \(stop))")
            XCTAssertEqual(resumed.answers, whole.answers, "stopped after \(stop) prompts")
            XCTAssertEqual(EvaluationResults.merged([partial, resumed], model: "tiny", plan: plan).answers, whole.answers)
        }
        // The same results read as a plan with fewer samples keep exactly those samples' cells.
        var fewer = plan
        fewer.samples = 2
        let reused = try XCTUnwrap(whole.reusedFor(fewer))
        XCTAssertEqual(reused.answers, whole.answers.filter { ($0.sample ?? 0) < 2 })
        var otherSeed = fewer
        otherSeed.seed = 1
        XCTAssertNil(whole.reusedFor(otherSeed), "any other change is another plan")
        // And as a plan whose tasks take their own counts.
        var perTask = plan
        perTask.taskSamples = ["vt": 1]
        let reusedPerTask = try XCTUnwrap(whole.reusedFor(perTask))
        XCTAssertEqual(reusedPerTask.answers, whole.answers.filter { $0.task == .niahSingle1 || $0.sample == 0 })
    }

    /// Tasks with their own sample counts: the sweep asks each task its own number of questions, sample-major, and
    /// the prompt count (progress, shards) follows.
    func testEachRULERTaskTakesItsOwnSampleCount() throws {
        var tiny = TinyModel()
        tiny.context = 2048
        let engine = try InferenceEngine(modelPath: try tiny.write())
        var (plan, samples) = rulerPlanAndSamples(count: 3)
        plan.modes = [.agnostic]
        plan.samples = 2
        plan.taskSamples = ["niah_single_1": 3, "vt": 1]
        XCTAssertEqual(plan.samples(for: .niahSingle1), 3)
        XCTAssertEqual(plan.samples(for: .vt), 1)
        XCTAssertEqual(plan.samples(for: .perplexity), 2, "perplexity keeps --samples")
        XCTAssertEqual(plan.promptCount, 3 + 1)
        let haystack = String(repeating: "hello world and more words. ", count: 200)
        let evaluator = try Evaluator(engine: engine, plan: plan, haystack: haystack, rulerSamples: samples) { $0 }
        XCTAssertEqual(evaluator.totalSteps(), 4 * 4, "prompts × (prefill + full cache + two presses)")
        let results = try evaluator.run(model: "tiny")
        let none = results.answers.filter { $0.press == "none" }
        XCTAssertEqual(none.map(\.task), [.niahSingle1, .vt, .niahSingle1, .niahSingle1], "sample-major")
        XCTAssertEqual(none.compactMap(\.sample), [0, 0, 1, 2])
        XCTAssertEqual(EvaluationReport(results).rows[0].counts["vt/agnostic"], 1)
        // The plan round-trips with its counts; one task short of its count is refused before any prefill.
        let reread = try EvaluationReport.results(fromJSON: try EvaluationReport(results).json())
        XCTAssertEqual(reread.plan, plan)
        plan.taskSamples["vt"] = 4
        XCTAssertThrowsError(try Evaluator(engine: engine, plan: plan, haystack: haystack, rulerSamples: samples) { $0 }) {
            XCTAssertTrue("\($0)".contains("4 needed for vt"), "\($0)")
        }
    }

    func testDefaultSampleCountsSeparateTheMeasuredRates() {
        XCTAssertEqual(RulerSampleCounts.samplesToSeparate(rates: 1, 0), 4, "n/(n+z²) > z²/(n+z²) from n = 4")
        XCTAssertNil(RulerSampleCounts.samplesToSeparate(rates: 0.3, 0.3))
        XCTAssertNil(RulerSampleCounts.samplesToSeparate(rates: 0.02, 0), "more than the ceiling")
        let defaults = RulerSampleCounts.defaults
        XCTAssertEqual(Set(defaults.keys), Set(EvaluationPlan.Task.ruler.map(\.rawValue)))
        for task in EvaluationPlan.Task.ruler {
            let n = RulerSampleCounts.defaultSamples(task)
            XCTAssertTrue((RulerSampleCounts.floor ... RulerSampleCounts.ceiling).contains(n), "\(task): \(n)")
            guard let rates = RulerSampleCounts.measured[task] else { continue }
            let planned = ConfidenceInterval.wilson(mean: rates.fullCache, count: rates.samples).lowerBound
            guard RulerSampleCounts.samplesToSeparate(rates: planned, rates.random) != nil else {
                XCTAssertEqual(n, RulerSampleCounts.floor, "\(task): not separable within the ceiling")
                continue
            }
            // At its default count, the bottom of the full cache's measured interval is apart from random@0.5.
            XCTAssertLessThan(ConfidenceInterval.wilson(mean: rates.random, count: n).upperBound,
                              ConfidenceInterval.wilson(mean: planned, count: n).lowerBound, "\(task)")
        }
        XCTAssertEqual(RulerSampleCounts.defaultSamples(.niahSingle1), RulerSampleCounts.floor, "an easy task gets the floor")
        XCTAssertEqual(RulerSampleCounts.defaultSamples(.niahMultikey3), RulerSampleCounts.floor, "so does one it cannot do")
    }
}
