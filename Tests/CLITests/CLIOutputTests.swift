import Engine
import Evaluation
import Foundation
import GGUF
import TestSupport
import XCTest

/// Exact output of the CLI on the tiny model, and a golden generation on the default model.
final class CLIOutputTests: XCTestCase {
    func testTokenizeJSONIsExact() throws {
        let model = try TinyModel().write()
        let r = try CLIRunner.run(["tokenize", "-m", model, "-p", "<|im_start|>hello world", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let start = TinyModel.tokens.firstIndex(of: "<|im_start|>")!
        let hello = TinyModel.tokens.firstIndex(of: "hello")!, world = TinyModel.tokens.firstIndex(of: "Ġworld")!
        XCTAssertEqual(r.stdout, "{\"ids\":[\(start),\(hello),\(world)]}\n")
    }

    func testTokenizeTableShowsIdsAndPieces() throws {
        let r = try CLIRunner.run(["tokenize", "-m", try TinyModel().write(), "-p", "hello world"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let hello = TinyModel.tokens.firstIndex(of: "hello")!, world = TinyModel.tokens.firstIndex(of: "Ġworld")!
        XCTAssertEqual(r.stdout, "\(hello)\t\"hello\"\n\(world)\t\" world\"\n")
        XCTAssertEqual(r.stderr, "2 tokens\n")
    }

    func testInspectListsMetadataAndTensors() throws {
        let r = try CLIRunner.run(["inspect", try TinyModel().write()])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("GGUF v3: 19 metadata keys, 20 tensors, "), lines[0])
        XCTAssertTrue(lines.contains { $0.hasPrefix("  general.architecture") && $0.hasSuffix("string    \"llama\"") })
        XCTAssertTrue(lines.contains { $0.hasPrefix("  blk.1.ffn_down.weight") && $0.contains("Q8_0") && $0.contains("128 × 64") })
        XCTAssertTrue(lines.contains { $0.hasPrefix("Q8_0: 15 tensors, ") }, "per-type summary")
        XCTAssertTrue(lines.contains { $0.hasPrefix("F32: 5 tensors, ") }, "per-type summary")
    }

    func testGenerateWritesOnlyTextToStdout() throws {
        let r = try CLIRunner.run(["generate", "-m", try TinyModel().write(), "-p", "hello", "-n", "6", "--temp", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix("\n"))
        XCTAssertFalse(r.stdout.contains("hello") && r.stdout.hasPrefix("hello"), "the prompt must not be echoed")
        XCTAssertTrue(r.stderr.contains("prompt: 1 tokens"), r.stderr)
        XCTAssertTrue(r.stderr.contains("tokens/s"), r.stderr)
    }

    func testPressedGenerationReportsCompressedBytes() throws {
        var tiny = TinyModel()
        tiny.context = 1024
        let model = try tiny.write()
        let prompt = String(repeating: "hello world ", count: 40)  // 120 tokens
        let r = try CLIRunner.run(["generate", "-m", model, "-p", prompt, "-n", "4", "--temp", "0",
                                   "--press", "snapkv:window=16", "--ratio", "0.75"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // 120 → 30 tokens per head; 2 layers × 2 KV heads × 64 bytes of rows each, and the kept positions (8 bytes
        // per run of consecutive positions, never more than 4 per token and a few runs).
        let line = try XCTUnwrap(r.stderr.components(separatedBy: "\n").first { $0.contains("cache after prompt: ") })
        let figure = line.components(separatedBy: "cache after prompt: ")[1].components(separatedBy: " KiB")[0]
        let kib = try XCTUnwrap(Double(figure), line)
        XCTAssertGreaterThanOrEqual(kib, (Double(4 * (30 * 64 + 8)) / 1024 * 10).rounded(.down) / 10, line)
        XCTAssertLessThanOrEqual(kib, (Double(4 * (30 * 68 + 40)) / 1024 * 10).rounded(.up) / 10, line)
    }

    /// `--no-mmap` reads the model into memory: the same text as the mapped file, and bench says which it was.
    func testNoMmapGivesTheSameGeneration() throws {
        let model = try TinyModel().write()
        let arguments = ["generate", "-m", model, "-p", "hello world", "-n", "12", "--temp", "0"]
        let mapped = try CLIRunner.run(arguments)
        let read = try CLIRunner.run(arguments + ["--no-mmap"])
        XCTAssertEqual(mapped.status, 0, mapped.stderr)
        XCTAssertEqual(read.status, 0, read.stderr)
        XCTAssertEqual(read.stdout, mapped.stdout)
        let bench = try CLIRunner.run(["bench", "-m", model, "-p", "8", "-n", "0", "-r", "1", "--no-mmap"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertTrue(bench.stdout.contains("(weights read into memory)"), bench.stdout)
        // A truncated file read into memory is refused as the mapped one is: one line, non-zero exit.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        let cut = NSTemporaryDirectory() + "/cut-\(UUID().uuidString).gguf"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        let broken = try CLIRunner.run(["generate", "-m", cut, "-p", "hi", "--no-mmap"])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(broken.stdout.isEmpty, broken.stdout)
        let lines = broken.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, broken.stderr)
        XCTAssertTrue(lines.first?.hasPrefix("Error: ") ?? false, broken.stderr)
    }

    /// `bench -s` decodes several sequences together: one row per count, named `tgNxS`, each counting all tokens
    /// with every sequence's cache in the cache size.
    func testBenchDecodesSequencesTogether() throws {
        let model = try TinyModel().write()
        let run = try CLIRunner.run(["bench", "-m", model, "-p", "0", "-n", "4", "-d", "8", "-s", "1,3", "-r", "1",
                                     "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.compactMap { $0["test"] as? String }, ["tg4@d8", "tg4x3@d8"])
        let bytes = rows.compactMap { $0["cache_bytes"] as? Int }
        XCTAssertEqual(bytes.count, 2)
        XCTAssertEqual(bytes[1], 3 * bytes[0], "three caches of the same depth")
        try assertFails(["bench", "-m", model, "-s", "0"], mentioning: "-s must be")
        try assertFails(["bench", "-m", model, "-s", "1,100000"], mentioning: "-s allows at most 256 sequences, got 100000")
    }

    func testQuestionsShareOneCompressedContext() throws {
        var tiny = TinyModel()
        tiny.context = 1024
        let model = try tiny.write()
        let context = NSTemporaryDirectory() + "/context-\(UUID().uuidString).txt"
        try String(repeating: "hello world ", count: 40).write(toFile: context, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["generate", "-m", model, "--context-file", context, "--question", "hello?", "--question", "world?",
                                   "-n", "3", "--temp", "0", "--press", "expected", "--ratio", "0.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("## hello?\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\n## world?\n"), r.stdout)
        XCTAssertEqual(r.stderr.components(separatedBy: "prefilled and compressed once").count, 2, r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "stop: ").count, 3, "one answer per question")
        let aware = try CLIRunner.run(["generate", "-m", model, "--context-file", context, "--question", "hello?", "--query-aware",
                                       "-n", "3", "--temp", "0", "--press", "snapkv:window=8", "--ratio", "0.5"])
        XCTAssertEqual(aware.status, 0, aware.stderr)
        XCTAssertFalse(aware.stderr.contains("prefilled and compressed once"))
    }

    /// A tiny model with a 1,024-token context and a filler text file, for eval runs.
    func evalInputs() throws -> (model: String, haystack: String) {
        var tiny = TinyModel()
        tiny.context = 1024
        let haystack = NSTemporaryDirectory() + "/haystack-\(UUID().uuidString).txt"
        try (0 ..< 200).map { "Line \($0) of the filler text. " }.joined().write(toFile: haystack, atomically: true, encoding: .utf8)
        return (try tiny.write(), haystack)
    }

    func testEvalWritesMarkdownAndJSON() throws {
        let (model, haystack) = try evalInputs()
        let json = NSTemporaryDirectory() + "/eval-\(UUID().uuidString).json"
        let r = try CLIRunner.run(["eval", "-m", model, "--haystack", haystack, "--press", "streaming", "--press", "h2o", "--ratios", "0.5",
                                   "--contexts", "256", "--depths", "0,1", "--continuation", "8", "--json", json])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("# TokenPress evaluation"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| none | 0.000 | 1.000 [1.000–1.000] n=1 | 0.0000 [0.0000–0.0000] n=1 |"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| h2o | 0.500 |"), r.stdout)
        XCTAssertTrue(r.stderr.contains("eval "), "a progress bar on stderr")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        XCTAssertEqual((object["summary"] as? [Any])?.count, 3)
    }

    func testEvalJobsSplitsTheSweepAndMergesTheSameResults() throws {
        let (model, haystack) = try evalInputs()
        let common = ["eval", "-m", model, "--haystack", haystack, "--press", "streaming", "--press", "minicache:start=0,angle=180", "--ratios", "0.5",
                      "--contexts", "256,320", "--depths", "0,1", "--continuation", "8"]
        let one = NSTemporaryDirectory() + "/eval-one-\(UUID().uuidString).json", two = NSTemporaryDirectory() + "/eval-two-\(UUID().uuidString).json"
        let single = try CLIRunner.run(common + ["--json", one])
        XCTAssertEqual(single.status, 0, single.stderr)
        let split = try CLIRunner.run(common + ["--json", two, "--jobs", "2"])
        XCTAssertEqual(split.status, 0, split.stderr)
        XCTAssertTrue(split.stderr.contains("eval: 2 processes"), split.stderr)
        XCTAssertEqual(split.stdout, single.stdout, "the same report")
        let a = try EvaluationReport.results(fromJSON: Data(contentsOf: URL(fileURLWithPath: one)))
        let b = try EvaluationReport.results(fromJSON: Data(contentsOf: URL(fileURLWithPath: two)))
        XCTAssertEqual(a.answers, b.answers)
        XCTAssertEqual(a.perplexity, b.perplexity)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.contains((two as NSString).lastPathComponent + ".shard") }
        XCTAssertEqual(leftovers, [], "shard files are removed once merged")
        // A shard that fails is named, with its own message, in one line.
        let failing = try CLIRunner.run(common.map { $0 == "256,320" ? "128" : $0 } + ["--jobs", "2"])
        XCTAssertNotEqual(failing.status, 0)
        XCTAssertTrue(failing.stderr.contains("failed (exit 1): Error: invalid context: 128 tokens leave no room"), failing.stderr)
        let bad = try CLIRunner.run(common + ["--jobs", "0"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--jobs must be between 1 and 64, got 0"), bad.stderr)
    }

    func testCalibrateWritesAProfileRazorCanUse() throws {
        var tiny = TinyModel()
        tiny.context = 1024
        let model = try tiny.write()
        let profile = NSTemporaryDirectory() + "/profile-\(UUID().uuidString).json"
        let r = try CLIRunner.run(["calibrate", "-m", model, "-o", profile, "--top", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("| rank | layer | KV head | echo | induction | passkey mass |"), r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 2 + 3)
        let g = try CLIRunner.run(["generate", "-m", model, "-p", String(repeating: "hello world ", count: 30), "-n", "2", "--temp", "0",
                                   "--press", "razor", "--ratio", "0.5", "--profile", profile])
        XCTAssertEqual(g.status, 0, g.stderr)
        let missing = try CLIRunner.run(["generate", "-m", model, "-p", "hi", "--press", "duo", "--profile", "/nonexistent.json"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("/nonexistent.json does not exist"), missing.stderr)
    }

    func testPerplexityJSON() throws {
        let text = NSTemporaryDirectory() + "/ppl-\(UUID().uuidString).txt"
        try String(repeating: "hello world ", count: 30).write(toFile: text, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["perplexity", "-m", try TinyModel().write(), "-f", text, "--ctx", "16", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["ctx"] as? Int, 16)
        // 90 tokens ("hello", " world", then " ", "hello", " world" per repetition, and a final " ") in windows of 16.
        XCTAssertEqual(object["windows"] as? Int, 6)
        XCTAssertEqual(object["tokens"] as? Int, 5 * 15 + 9)  // every token after the first of each window
        XCTAssertGreaterThan(object["ppl"] as? Double ?? 0, 1)
    }

    func testChatStreamsRepliesAndQuits() throws {
        let r = try CLIRunner.run(["chat", "-m", try TinyModel().write(), "--temp", "0", "-n", "4"], input: "hello\n/exit\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("> "), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "> ").count, 3, r.stdout)  // two prompts: the message, then /exit
    }

    /// The default model, greedy: the CLI prints exactly llama.cpp's continuation (fixture greedy.json, first case).
    func testGoldenGenerationOnTheDefaultModel() throws {
        let model = try ProcessInfo.processInfo.environment["TOKENPRESS_MODEL"] ?? DefaultModel.path { print($0) }
        let r = try CLIRunner.run(["generate", "-m", model, "-p", "The capital of France is", "-n", "12", "--temp", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, " Paris.\n\nThe United States has a population of approximately\n")
    }
}

final class CLIBenchTests: XCTestCase {
    func testBenchJSONListsEveryTest() throws {
        let r = try CLIRunner.run(["bench", "-m", try TinyModel().write(), "-p", "16", "-n", "4", "-d", "0,8", "-r", "2", "-t", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let array = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(array.map { $0["test"] as? String }, ["pp16", "tg4", "pp16@d8", "tg4@d8"])
        for o in array {
            XCTAssertEqual(o["threads"] as? Int, 2)
            XCTAssertGreaterThan(o["tokens_per_second"] as? Double ?? 0, 0)
            XCTAssertEqual((o["samples"] as? [Double])?.count, 2)
            XCTAssertGreaterThan(o["peak_rss_bytes"] as? Int ?? 0, 0)
        }
        XCTAssertTrue(r.stderr.contains("bench tg4@d8"), "progress on stderr")
    }

    /// Presses take turns within each repetition; each still gets its own row, in the order named, with every
    /// repetition and the cache its press left.
    func testBenchWithPressesGivesEachItsRowAndItsCache() throws {
        let model = try TinyModel().write()
        let r = try CLIRunner.run(["bench", "-m", model, "-p", "0", "-n", "4", "-d", "64", "-r", "3", "--press", "none",
                                   "--press", "streaming", "--ratio", "0.5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let array = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(array.map { $0["press"] as? String }, ["none", "streaming@0.5"])
        XCTAssertEqual(array.map { ($0["samples"] as? [Double])?.count }, [3, 3])
        let bytes = array.map { $0["cache_bytes"] as? Int ?? 0 }
        XCTAssertGreaterThan(bytes[1], 0)
        XCTAssertLessThan(bytes[1], bytes[0], "the pressed cache is smaller")
        XCTAssertTrue(r.stderr.contains("6/6"), "one progress step per press and repetition: \(r.stderr)")
    }

    func testBenchTableAndBadLists() throws {
        let model = try TinyModel().write()
        let r = try CLIRunner.run(["bench", "-m", model, "-p", "8", "-n", "0", "-r", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("| model | kernels | threads | test | t/s |\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| pp8 | "), r.stdout)
        let bad = try CLIRunner.run(["bench", "-m", model, "-p", "12,x"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stderr, "Error: -p must be a comma-separated list of integers ≥ 0, got '12,x'\n")
        let tooLong = try CLIRunner.run(["bench", "-m", model, "-p", "0", "-n", "8", "-d", "300"])
        XCTAssertTrue(tooLong.stderr.contains("more than the context of 256"), tooLong.stderr)
    }

    /// RULER's generators count tokens through `tokenize --count-lines`: one JSON string in, one count out, per line.
    func testTokenizeCountLinesAnswersEachLine() throws {
        let model = try TinyModel().write()
        let single = try CLIRunner.run(["tokenize", "-m", model, "-p", "hello world", "--json"])
        let ids = try JSONSerialization.jsonObject(with: Data(single.stdout.utf8)) as? [String: [Int]]
        let r = try CLIRunner.run(["tokenize", "-m", model, "--count-lines"], input: "\"hello world\"\n\"a\\nb\"\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").first.map(String.init), "\(ids?["ids"]?.count ?? -1)")
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 2)
        try assertFails(["tokenize", "-m", model, "--count-lines"], input: "not json\n", mentioning: "each line must be a JSON string")
    }
}
