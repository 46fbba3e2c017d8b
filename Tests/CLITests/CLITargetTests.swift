import Engine
import Evaluation
import Foundation
import Presses
import TestSupport
import XCTest

/// `--kv-memory`, `--max-kl` and `--explain` from the command line: plans printed, targets met, bad ones refused.
final class CLITargetTests: XCTestCase {
    /// The tiny model and a head profile holding its sensitivities (measured here on short windows).
    func modelWithProfile() throws -> (model: String, profile: String) {
        var tiny = TinyModel()
        tiny.context = 4096
        let model = try tiny.write()
        let engine = try InferenceEngine(modelPath: model)
        var profile = try HeadCalibration(engine: engine).run(model: "tiny")
        var calibration = SensitivityCalibration(engine: engine)
        calibration.promptTokens = 160
        calibration.continuationTokens = 16
        calibration.windows = 1
        profile.sensitivity = try calibration.run(text: String(repeating: "the lazy dog sleeps by the warm fire. ", count: 60),
                                                  describing: "test text")
        let file = temporary("profile.json")
        try profile.json().write(to: URL(fileURLWithPath: file))
        return (model, file)
    }

    func testMemoryTargetPrintsItsPlanAndStaysWithinIt() throws {
        let (model, profile) = try modelWithProfile()
        let text = temporary("prompt.txt")
        try String(repeating: "hello world, tiny model ", count: 200).write(toFile: text, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["generate", "-m", model, "-f", text, "-n", "8", "--temp", "0", "--kv-memory", "30%",
                                   "--explain", "--profile", profile])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("target 30%: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("| layer | tokens | f16 | 8-bit | 4-bit | 3-bit | 2-bit | evicted |"), r.stderr)
        XCTAssertTrue(r.stderr.contains("kept for generated tokens"), r.stderr)
        // "cache after prompt: X KiB (dense f16: Y KiB; …)": X within 30% of Y.
        let numbers = try XCTUnwrap(r.stderr.range(of: #"cache after prompt: ([0-9.]+) KiB \(dense f16: ([0-9.]+) KiB"#,
                                                  options: .regularExpression)).lowerBound
        let fields = r.stderr[numbers...].split(whereSeparator: { " (:;".contains($0) })
        let held = try XCTUnwrap(Double(fields[3]))
        let dense = try XCTUnwrap(Double(fields[7]))
        XCTAssertLessThanOrEqual(held, dense * 0.3, r.stderr)
        let kl = try CLIRunner.run(["generate", "-m", model, "-f", text, "-n", "4", "--max-kl", "0.01", "--profile", profile])
        XCTAssertEqual(kl.status, 0, kl.stderr)
        XCTAssertTrue(kl.stderr.contains("target KL ≤ 0.01: "), kl.stderr)
    }

    /// `--jobs` children once ran without the targets (and, with no --press, every press instead): their results were
    /// of another plan, and the merge dropped them all — an empty report and exit 0.
    func testEvalTargetsGiveTheSameResultsWithJobs() throws {
        let (model, profile) = try modelWithProfile()
        let haystack = temporary("haystack.txt")
        try (0 ..< 300).map { "Line \($0) of the filler text. " }.joined().write(toFile: haystack, atomically: true,
                                                                                encoding: .utf8)
        let common = ["eval", "-m", model, "--haystack", haystack, "--profile", profile, "--kv-memory", "40%,70%",
                      "--tasks", "needle", "--contexts", "512", "--depths", "0,0.5,1", "--modes", "agnostic"]
        let one = temporary("one.json")
        let two = temporary("two.json")
        let single = try CLIRunner.run(common + ["--json", one])
        XCTAssertEqual(single.status, 0, single.stderr)
        let split = try CLIRunner.run(common + ["--json", two, "--jobs", "2"])
        XCTAssertEqual(split.status, 0, split.stderr)
        XCTAssertEqual(split.stdout, single.stdout, "the same report")
        let a = try EvaluationReport.results(fromJSON: Data(contentsOf: URL(fileURLWithPath: one)))
        let b = try EvaluationReport.results(fromJSON: Data(contentsOf: URL(fileURLWithPath: two)))
        // The full cache and two targets at three depths.
        XCTAssertEqual(a.answers.count, 9)
        XCTAssertEqual(Set(a.answers.map(\.press)), ["none", "target:memory=0.4", "target:memory=0.7"])
        XCTAssertEqual(a.answers, b.answers)
    }

    func testBadTargetsAreRefusedInOneLine() throws {
        let model = try TinyModel().write()
        let base = ["generate", "-m", model, "-p", "hi"]
        try assertFails(base + ["--kv-memory", "0"], mentioning: "--kv-memory: must be more than 0, got '0'")
        try assertFails(base + ["--kv-memory", "-3MiB"], mentioning: "--kv-memory: must be more than 0")
        try assertFails(base + ["--kv-memory", "lots"], mentioning: "--kv-memory: 'lots' is not a size")
        try assertFails(base + ["--max-kl", "-1"], mentioning: "--max-kl: must be a positive number of nats")
        try assertFails(base + ["--max-kl", "0.1", "--kv-memory", "1MiB"], mentioning: "either --kv-memory or --max-kl")
        try assertFails(base + ["--kv-memory", "25%", "--press", "snapkv"], mentioning: "either --press")
        let needsTarget = "--explain, --retrieval-prior and --retrieval-heads need --kv-memory or --max-kl"
        try assertFails(base + ["--explain"], mentioning: needsTarget)
        try assertFails(base + ["--retrieval-heads", "0.1"], mentioning: needsTarget)
        try assertFails(base + ["--kv-memory", "25%", "--retrieval-prior", "1"], mentioning: "--retrieval-prior must be in [0, 1)")
        try assertFails(base + ["--kv-memory", "25%", "--retrieval-heads", "1.5"],
                        mentioning: "--retrieval-heads must be in [0, 1], got 1.5")
        try assertFails(base + ["--kv-memory", "25%", "--cache-type-k", "q8_0"],
                        mentioning: "chooses how the cache is stored; drop --cache-type-k")
        try assertFails(["eval", "-m", model, "--kv-memory", "1%,x"], mentioning: "'x' is not a size")
    }

    func testATargetBelowTheFloorsIsRefusedNamingTheSmallestCache() throws {
        let (model, profile) = try modelWithProfile()
        let text = temporary("prompt.txt")
        try String(repeating: "hello world, tiny model ", count: 100).write(toFile: text, atomically: true, encoding: .utf8)
        try assertFails(["generate", "-m", model, "-f", text, "--kv-memory", "2KiB", "--profile", profile],
                        mentioning: "the smallest cache the allocator can make")
    }
}
