import Foundation
import TestSupport
import XCTest

/// `tokenpress perplexity --kl-divergence-base` / `--kl-divergence`: save the full cache's log-probabilities once,
/// then compare configurations with them, as llama-perplexity does.
final class CLIKLDivergenceTests: XCTestCase {
    func klObject(_ arguments: [String]) throws -> [String: Any] {
        let r = try CLIRunner.run(arguments + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    func testABaseSavedOnceComparesAnyConfiguration() throws {
        let model = try TinyModel().write()
        let text = temporary("text.txt"), base = temporary("base.kld")
        try String(repeating: "hello world ", count: 40).write(toFile: text, atomically: true, encoding: .utf8)
        let common = ["perplexity", "-m", model, "-f", text, "--ctx", "32", "--kl-divergence-base", base]
        let saved = try klObject(common)
        XCTAssertEqual(saved["windows"] as? Int, 3, "120 tokens: three whole windows of 32")
        XCTAssertEqual(saved["tokens"] as? Int, 3 * 15, "second halves: tokens 17…31 of each window")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: base)[.size] as? Int, 44 + 45 * (4 + 4 * TinyModel.tokens.count) + 8)

        let full = try klObject(common + ["--kl-divergence"])
        let fullKL = try XCTUnwrap(full["kl"] as? [String: Double])
        XCTAssertEqual(fullKL["mean"], 0, "the full cache against itself")
        XCTAssertEqual(fullKL["same_top_share"], 1)
        XCTAssertEqual(full["ppl"] as? Double, full["base_ppl"] as? Double)

        let pressed = try klObject(common + ["--kl-divergence", "--press", "knorm", "--ratio", "0.75"])
        let kl = try XCTUnwrap(pressed["kl"] as? [String: Double])
        XCTAssertGreaterThan(kl["mean"] ?? 0, 0)
        let interval = try XCTUnwrap(pressed["kl_mean_interval"] as? [Double])
        XCTAssertTrue(interval[0] <= kl["mean"]! && kl["mean"]! <= interval[1], "the mean lies in its bootstrap interval")
        XCTAssertGreaterThanOrEqual(kl["max"] ?? 0, kl["p99_9"] ?? 1)
        XCTAssertGreaterThanOrEqual(kl["p99_9"] ?? 0, kl["p99"] ?? 1)
        XCTAssertGreaterThanOrEqual(kl["p99"] ?? 0, kl["median"] ?? 1)
        XCTAssertLessThan(pressed["cache_bytes"] as? Int ?? 0, full["cache_bytes"] as? Int ?? 0, "the press freed bytes")

        let r = try CLIRunner.run(common + ["--kl-divergence", "--press", "knorm"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Mean KLD: "), r.stdout)
        XCTAssertTrue(r.stdout.contains("Same top p: "), r.stdout)
        XCTAssertTrue(r.stdout.contains("RMS Δp: "), r.stdout)
    }

    func testMismatchedOrDamagedBasesAreRefused() throws {
        let model = try TinyModel().write()
        let text = temporary("text.txt"), base = temporary("base.kld")
        try String(repeating: "hello world ", count: 40).write(toFile: text, atomically: true, encoding: .utf8)
        let common = ["perplexity", "-m", model, "-f", text, "--kl-divergence-base", base]
        XCTAssertEqual(try CLIRunner.run(common + ["--ctx", "32"]).status, 0)
        try assertFails(common + ["--ctx", "16", "--kl-divergence"], mentioning: "--ctx 32, not 16")
        try assertFails(common + ["--ctx", "32", "--max-tokens", "64", "--kl-divergence"], mentioning: "3 windows, not 2")
        let other = temporary("other.txt")
        try String(repeating: "world hello ", count: 40).write(toFile: other, atomically: true, encoding: .utf8)
        try assertFails(["perplexity", "-m", model, "-f", other, "--ctx", "32", "--kl-divergence-base", base, "--kl-divergence"],
                        mentioning: "another text or tokenizer")
        let data = try Data(contentsOf: URL(fileURLWithPath: base))
        try data.prefix(data.count - 3).write(to: URL(fileURLWithPath: base))
        try assertFails(common + ["--ctx", "32", "--kl-divergence"], mentioning: "truncated or corrupt")
        try Data("not a base".utf8).write(to: URL(fileURLWithPath: base))
        try assertFails(common + ["--ctx", "32", "--kl-divergence"], mentioning: "is not a KL-divergence base file")
        try assertFails(common + ["--ctx", "32", "--press", "knorm"], mentioning: "drop --press")
        try assertFails(["perplexity", "-m", model, "-f", text, "--kl-divergence"], mentioning: "needs --kl-divergence-base")
        try assertFails(["perplexity", "-m", model, "-f", text, "--ctx", "3", "--press", "knorm"], mentioning: "--ctx must be at least 4")
        try assertFails(["perplexity", "-m", model, "-f", text, "--kl-divergence-base", NSTemporaryDirectory(), "--kl-divergence"],
                        mentioning: "cannot be read")
        try assertFails(["perplexity", "-m", model, "-f", text, "--kl-divergence-base", "/nonexistent/folder/base.kld"],
                        mentioning: "does not exist")
        try assertFails(["eval", "-m", model, "--split", "nope"], mentioning: "--split must be test or calibration, got 'nope'")
    }
}
