import Engine
@testable import Evaluation
import Foundation
import Presses
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
        let results = try evaluator.run(model: "tiny", progress: { calls.append(($0, $1)) })
        XCTAssertEqual(calls.last?.0, evaluator.totalSteps(), "the progress bar reaches its end")
        XCTAssertEqual(results.perplexity.count, 5 * 2, "(none + 2 presses × 2 ratios) × 2 contexts")
        XCTAssertEqual(results.answers.count, 5 * 2 * 3 * 2, "configurations × contexts × depths × modes")
        let report = EvaluationReport(results)
        XCTAssertEqual(report.rows.map(\.press), ["none", "knorm", "knorm", "snapkv:window=8", "snapkv:window=8"])
        let none = report.rows[0]
        XCTAssertEqual(none.perplexityRatio, 1)
        XCTAssertEqual(none.meanKL, 0)
        for r in results.perplexity {
            // Each KV head keeps n − ⌊n·ratio⌋ tokens: 2 layers × 2 heads × 64 bytes of rows per token, and their
            // positions: one run (8 bytes) for the full cache, never more than 4 bytes a token and a few runs.
            let kept = r.context - Int((Double(r.context) * r.ratio).rounded(.down))
            if r.ratio == 0 {
                XCTAssertEqual(r.cacheBytes, 4 * (kept * 64 + 8), "\(r.press)")
            } else {
                XCTAssertGreaterThanOrEqual(r.cacheBytes, 4 * (kept * 64 + 8), "\(r.press)@\(r.ratio)")
                XCTAssertLessThanOrEqual(r.cacheBytes, 4 * (kept * 68 + 40), "\(r.press)@\(r.ratio)")
            }
            XCTAssertEqual(r.denseBytes, 4 * r.context * 64)
            XCTAssertEqual(r.tokens, 15)
            if r.ratio > 0 { XCTAssertGreaterThan(r.kl, 0, "compression changes the distributions") }
        }
        XCTAssertEqual(report.rows[2].saving, 1 - Double(4 * 68) / Double(4 * 64 * 4), accuracy: 0.02, "knorm@0.75 saves about 73%")
        let markdown = report.markdown
        XCTAssertTrue(markdown.contains("| press | ratio | PPL ratio | mean KL | needle, agnostic | needle, aware | average (agnostic) |"), markdown)
        XCTAssertTrue(markdown.contains("| none | 0.000 | 1.000 [1.000–1.000] n=2 | 0.0000 [0.0000–0.0000] n=2 |"), markdown)
        XCTAssertTrue(markdown.contains("| none | 0.000 | 30 | 0.00000 [0.00000–0.00000] | 0.00000 | 0.00000 | 0.00000 | 0.00000 | 100.00% |"),
                      "llama.cpp's KL fields: \(markdown)")
        let json = try JSONSerialization.jsonObject(with: try report.json()) as? [String: Any]
        XCTAssertEqual((json?["summary"] as? [Any])?.count, 5)
        // With two contexts the leaderboard ranks the longest alone too, from its questions only.
        let board = report.leaderboard(command: "x")
        XCTAssertTrue(board.contains("## At 320 tokens only"), board)
        XCTAssertTrue(board.contains("### Ratio 0.75 (75.0% of tokens removed)"), board)
        XCTAssertTrue(board.contains("### Best quality per byte at 320 tokens"), board)
        XCTAssertEqual(board.components(separatedBy: "| — | none |").count - 1, 4, "the full cache heads all four tables")
        let longest = results.answers.filter { $0.context == 320 && $0.press == "knorm" && $0.ratio == 0.5 && $0.mode == .agnostic }
        let expected = longest.reduce(0) { $0 + $1.score } / Double(longest.count)
        let section = String(board[board.range(of: "## At 320 tokens only")!.lowerBound...])
        XCTAssertTrue(section.contains("| knorm | \(String(format: "%.0f", 100 * expected))% ["), section)
    }

    func testPlotsAndLeaderboardShowEveryPressWithTheFullCache() throws {
        let engine = try makeEngine()
        var plan = smallPlan()
        plan.tasks = [.perplexity, .needle, .multikey]
        plan.contexts = [600]
        plan.modes = [.agnostic]
        let report = EvaluationReport(try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny"))
        let plots = report.plots
        XCTAssertEqual(Set(plots.keys), ["quality-vs-bytes.svg", "perplexity-vs-bytes.svg", "kl-vs-bytes.svg", "heatmap-needle.svg",
                                         "heatmap-multikey.svg"])
        for (name, svg) in plots {
            XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""), name)
            XCTAssertTrue(svg.hasSuffix("</svg>\n"), name)
        }
        let quality = plots["quality-vs-bytes.svg"]!
        XCTAssertEqual(quality.components(separatedBy: "<polyline").count - 1, 2, "one line per press")
        XCTAssertTrue(quality.contains("★ full cache"))
        let heatmap = plots["heatmap-needle.svg"]!
        XCTAssertEqual(heatmap.components(separatedBy: "<rect x=").count - 1, 3 * 2 * 3 + 0, "presses (none included) × ratios × depths cells")
        let board = report.leaderboard(command: "tokenpress eval --example")
        XCTAssertTrue(board.contains("Reproduce: `tokenpress eval --example`"))
        XCTAssertTrue(board.contains("## Ratio 0.5 (50.0% of tokens removed)"))
        XCTAssertTrue(board.contains("## Ratio 0.75 (75.0% of tokens removed)"))
        XCTAssertEqual(board.components(separatedBy: "| — | none |").count - 1, 2, "the full cache heads every table")
        XCTAssertTrue(board.contains("## Best quality per byte"))
    }

    func testPressesThatIgnoreTheRatioAreEvaluatedOnce() {
        let plan = EvaluationPlan(presses: ["kivi:bits=2", "snapkv", "cache-type+kivi", "snapkv+kivi", "target:memory=0.25"],
                                  ratios: [0.5, 0.75])
        let configurations = plan.configurations.map { "\($0.press)@\($0.ratio)" }
        XCTAssertEqual(configurations, ["none@0.0", "kivi:bits=2@0.5", "snapkv@0.5", "snapkv@0.75", "cache-type+kivi@0.5",
                                        "snapkv+kivi@0.5", "snapkv+kivi@0.75", "target:memory=0.25@0.5"])
    }

    /// A configuration's copy is read on without the prompt's statistics and shared scores (recording them for
    /// every scored token cost time and changed nothing), and its logits are those of a copy that keeps them.
    func testCompressedCopiesReadOnWithoutStatisticsAndTheSameLogits() throws {
        let engine = try makeEngine()
        var plan = smallPlan()
        plan.presses = ["h2o", "snapkv:window=8"]
        let evaluator = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }
        let tokens = engine.tokenizer.encode(String(Self.haystack.prefix(400)))
        let base = try evaluator.prefilled(tokens)
        XCTAssertNotNil(base.statistics, "h2o needs statistics of the prompt")
        let continuation = Array(tokens.prefix(8))
        for spec in ["none", "h2o", "snapkv:window=8"] {
            let press = spec == "none" ? nil : try PressRegistry.make(spec, ratio: 0.5, profile: .placeholder)
            let copy = try evaluator.compressedCopy(of: base, press: press)
            XCTAssertNil(copy.statistics, spec)
            XCTAssertNil(copy.scoreMemo, spec)
            let recording = base.copy()
            try press?.compress(recording)
            XCTAssertNotNil(recording.statistics, spec)
            let read = try evaluator.scoreLogits(continuation, cache: copy)
            let recorded = try evaluator.scoreLogits(continuation, cache: recording)
            XCTAssertEqual(read, recorded, "\(spec): statistics do not change a logit")
            XCTAssertEqual(copy.byteCount, recording.byteCount, spec)
        }
        XCTAssertNotNil(base.statistics, "the prompt's cache keeps its statistics for the next configuration")
    }

    func testSameSeedSameResultsOtherSeedOtherNeedles() throws {
        let engine = try makeEngine()
        var plan = smallPlan()
        plan.tasks = [.needle]
        plan.contexts = [256]
        let a = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny")
        let b = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny")
        XCTAssertEqual(a.answers, b.answers)
        plan.seed = 9
        let c = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny")
        XCTAssertNotEqual(a.answers.map(\.expected), c.answers.map(\.expected))
    }

    func testNeedleIsPlacedAtItsDepthAndFillsTheContext() throws {
        let engine = try makeEngine()
        let builder = HaystackBuilder(engine: engine, filler: engine.tokenizer.encode(Self.haystack, addSpecial: false)) { $0 }
        for depth in [0.0, 0.5, 1.0] {
            let sample = try QuestionTasks.sample(.needle, builder: builder, tokens: 800, depth: depth, seed: 4)
            let value = sample.expected[0]
            let context = sample.prompt.contextPart
            let at = context.range(of: "The special magic number is \(value).")!
            let fraction = Double(context.distance(from: context.startIndex, to: at.lowerBound))
                / Double(context.count - context.distance(from: at.lowerBound, to: at.upperBound))
            XCTAssertEqual(fraction, depth, accuracy: 0.1, "depth \(depth)")
            let total = engine.tokenizer.encode(sample.prompt.contextPart + sample.prompt.questionPart + sample.answerPrefix).count
            XCTAssertEqual(Double(total), 800, accuracy: 6)
            XCTAssertEqual(sample.score(" \(value)."), 1)
            XCTAssertEqual(sample.score(" 12."), 0)
        }
    }

    /// RULER-style generators: seeded, the facts asked for are in the context, the answers are scored by share.
    func testRulerTasksAreSeededAndAnswerable() throws {
        let engine = try makeEngine()
        let builder = HaystackBuilder(engine: engine, filler: engine.tokenizer.encode(Self.haystack, addSpecial: false)) { $0 }
        for task in [EvaluationPlan.Task.multikey, .multivalue, .variables, .commonwords] {
            let a = try QuestionTasks.sample(task, builder: builder, tokens: 700, depth: 0.5, seed: 11)
            let b = try QuestionTasks.sample(task, builder: builder, tokens: 700, depth: 0.5, seed: 11)
            let c = try QuestionTasks.sample(task, builder: builder, tokens: 700, depth: 0.5, seed: 12)
            XCTAssertEqual(a.prompt.contextPart, b.prompt.contextPart, "\(task): same seed, same sample")
            XCTAssertEqual(a.expected, b.expected)
            XCTAssertNotEqual(a.expected, c.expected, "\(task): another seed, another sample")
            for answer in a.expected { XCTAssertTrue(a.prompt.contextPart.contains(answer), "\(task): \(answer) is in the context") }
            XCTAssertEqual(a.score(a.expected.joined(separator: ", ")), 1)
            if a.expected.count > 1 { XCTAssertEqual(a.score(a.expected[0]), 1 / Double(a.expected.count), accuracy: 1e-9) }
            let tokens = engine.tokenizer.encode(a.prompt.contextPart + a.prompt.questionPart + a.answerPrefix).count
            XCTAssertEqual(Double(tokens), 700, accuracy: task == .commonwords ? 150 : 8, "\(task) fills the context")
        }
        // Common words: the expected ten are the most frequent entries of the list.
        let words = try QuestionTasks.sample(.commonwords, builder: builder, tokens: 1500, depth: 0, seed: 3)
        var counts: [String: Int] = [:]
        for entry in words.prompt.contextPart.split(separator: " ") where Int(entry.dropLast()) == nil { counts[String(entry), default: 0] += 1 }
        let top = Set(counts.sorted { $0.value > $1.value }.prefix(10).map(\.key))
        XCTAssertEqual(top, Set(words.expected))
        // Variable tracking: a chain from the value through every name.
        let chain = try QuestionTasks.sample(.variables, builder: builder, tokens: 700, depth: 1, seed: 5)
        XCTAssertTrue(chain.prompt.contextPart.contains("VAR \(chain.expected[1]) = VAR \(chain.expected[0])."))
    }

    /// Shards split the prompts between them and merge into exactly what one run measures.
    func testShardsMergeIntoTheWholeRun() throws {
        let engine = try makeEngine()
        let plan = smallPlan()
        let whole = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny")
        var parts: [EvaluationResults] = []
        var prefills = 0
        for i in 0 ..< 3 {
            let shard = try EvaluationShard(index: i, count: 3)
            let evaluator = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }
            var last = (0, 0)
            parts.append(try evaluator.run(model: "tiny", shard: shard, progress: { last = ($0, $1) }))
            XCTAssertEqual(last.0, last.1, "each shard's progress bar reaches its own end")
            XCTAssertEqual(evaluator.prefillCount, shard.share(of: plan.promptCount))
            prefills += evaluator.prefillCount
        }
        XCTAssertEqual(prefills, plan.promptCount, "every prompt is prefilled by exactly one shard")
        XCTAssertEqual(plan.promptCount, 2 + 2 * 3 * 2)
        let merged = EvaluationResults.merged(parts.reversed(), model: "tiny", plan: plan)
        XCTAssertEqual(merged.perplexity, whole.perplexity)
        XCTAssertEqual(merged.answers, whole.answers)
        XCTAssertEqual(EvaluationResults.merged(parts + parts, model: "tiny", plan: plan).answers.count, whole.answers.count, "each cell once")
        XCTAssertThrowsError(try EvaluationShard(parsing: "3/3")) { XCTAssertTrue("\($0)".contains("0 ≤ I < N"), "\($0)") }
        XCTAssertThrowsError(try EvaluationShard(parsing: "one/2"))
    }

    /// An interrupted sweep resumes: finished prompts are not prefilled again, and the results are the same.
    func testInterruptedSweepResumesWithoutRedoingFinishedCells() throws {
        let engine = try makeEngine()
        var plan = smallPlan()
        plan.presses = ["knorm"]
        plan.ratios = [0.5]
        plan.contexts = [256]
        plan.tasks = [.perplexity, .needle]
        plan.modes = [.agnostic]
        let full = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny")
        struct Interrupted: Error {}
        var saved: EvaluationResults?
        var saves = 0
        XCTAssertThrowsError(try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }.run(model: "tiny", save: {
            saved = $0
            saves += 1
            if saves == 2 { throw Interrupted() }  // stop after the perplexity prompt and the first needle prompt
        }))
        let partial = try XCTUnwrap(saved)
        XCTAssertEqual(partial.perplexity.count, 2)
        XCTAssertEqual(partial.answers.count, 2)
        let data = try EvaluationReport(partial).json()
        let resumer = try Evaluator(engine: engine, plan: plan, haystack: Self.haystack) { $0 }
        let resumed = try resumer.run(model: "tiny", previous: try EvaluationReport.results(fromJSON: data))
        XCTAssertEqual(resumer.prefillCount, 2, "only the two needle prompts left (depths 0.5 and 1) are prefilled")
        XCTAssertEqual(resumed.perplexity, full.perplexity)
        XCTAssertEqual(resumed.answers, full.answers)
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
