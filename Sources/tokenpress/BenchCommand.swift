import ArgumentParser
import Engine
import Foundation
import GGUF
import Kernels
import Presses

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt processing and generation speed, as llama-bench does.",
        discussion: """
            Tests: ppP processes a batch of P tokens from an empty cache; tgN@dD generates N tokens one at a time \
            after a D-token prompt. Each test runs once untimed, then -r times; the table shows mean ± standard \
            deviation in tokens/s. Progress goes to stderr. Example: tokenpress bench -p 512 -n 128 -d 0,4096 -r 3
            With --press (repeatable; none is the full cache), the cache is compressed after the -d prompt and before \
            the timed part: tokenpress bench -p 0 -n 128 -d 4096 --press none --press streaming --press snapkv --ratio 0.75
            The presses take turns within each repetition, so a machine whose speed drifts slows them alike and the \
            ratios to the full cache hold; use -r 5 or more where the machine is shared. A tgN@dD test fills each \
            press's cache to D tokens once and cuts it back to D after every repetition (unless a press evicts while \
            decoding), so the turns follow each other within seconds; the table adds the median of the \
            per-repetition ratios, which a repetition caught in a change of machine speed cannot move much.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customShort("p"), parsing: .unconditional, help: "Prompt sizes, comma-separated (0 for none).")
    var prompts = "512"
    @Option(name: .customShort("n"), parsing: .unconditional, help: "Generated tokens, comma-separated (0 for none).")
    var generated = "128"
    @Option(name: .customShort("d"), parsing: .unconditional, help: "Depths: tokens already in the cache, comma-separated.")
    var depths = "0"
    @Option(name: .customLong("threads-list"), parsing: .unconditional,
            help: "Thread counts to test, comma-separated (default: -t, or all cores).")
    var threadsList: String?
    @Option(name: .customShort("s"), parsing: .unconditional, help: ArgumentHelp(
        "Sequences decoded together in the -n tests, comma-separated: tg128x8 is 8 sequences of 128 tokens, one "
            + "batched forward pass per step as `serve` runs them; t/s counts every sequence's tokens.",
        valueName: "list"))
    var sequences = "1"
    @Option(name: .customShort("r"), parsing: .unconditional, help: "Timed repetitions per test (1 to 1000).")
    var repetitions = 5
    @Option(name: .customLong("press"),
            help: "Compress the cache after the -d prompt with this press specification (repeatable; none: full cache).")
    var pressOption: [String] = []
    @Option(name: .customLong("kv-memory"), help: ArgumentHelp(
        "Also benchmark the target allocator at these memory targets (comma-separated or repeated): 24MiB, 25%.",
        valueName: "sizes"))
    var kvMemory: [String] = []
    @Option(name: .customLong("max-kl"), help: ArgumentHelp(
        "Also benchmark the target allocator at these predicted mean-KL bounds (comma-separated or repeated).",
        valueName: "nats"))
    var maxKL: [String] = []
    @Option(name: .customLong("ratio"), parsing: .unconditional,
            help: "Fraction of tokens the --press presses remove, in [0, 1) (default: 0.5).")
    var ratioOption: Double?
    var ratio: Double { ratioOption ?? PressOptions.defaultRatio }
    @Option(name: .customLong("press-layers"),
            help: "Layers the presses compress: global (default: not sliding-window layers), all, or 0,5,11.")
    var pressLayers = "global"
    @OptionGroup var cacheOptions: CacheOptions
    @Flag(name: .long, help: "Print a JSON array of {test, press, threads, tokens_per_second, stddev, samples, cache_bytes, ...}.")
    var json = false

    static let mostSequences = 256

    static func parseList(_ text: String, _ name: String, minimum: Int) throws -> [Int] {
        let values = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let numbers = values.compactMap { Int($0) }
        guard !values.isEmpty, numbers.count == values.count, numbers.allSatisfy({ $0 >= minimum }) else {
            throw CLIError("\(name) must be a comma-separated list of integers ≥ \(minimum), got '\(text)'")
        }
        return numbers
    }

    func run() throws {
        try reportingErrors {
            guard repetitions >= 1 else { throw CLIError("-r must be at least 1, got \(repetitions)") }
            // A typo such as -r 100000000 would otherwise run for days before printing anything.
            guard repetitions <= 1000 else { throw CLIError("-r must be at most 1000, got \(repetitions)") }
            let promptSizes = try Self.parseList(prompts, "-p", minimum: 0)
            let generatedSizes = try Self.parseList(generated, "-n", minimum: 0)
            let depthList = try Self.parseList(depths, "-d", minimum: 0)
            let sequenceCounts = try Self.parseList(sequences, "-s", minimum: 1)
            // Each sequence holds a cache of its own: an absurd count would only exhaust memory.
            if let most = sequenceCounts.max(), most > Self.mostSequences {
                throw CLIError("-s allows at most \(Self.mostSequences) sequences, got \(most)")
            }
            let defaultThreads = [modelOptions.threads ?? ParallelFor.threads]
            let threadCounts = try threadsList.map { try Self.parseList($0, "--threads-list", minimum: 1) } ?? defaultThreads
            let press = pressOption + (try TargetSpecifications.make(memory: kvMemory, kl: maxKL))
            if press.isEmpty, ratioOption != nil { throw CLIError("--ratio needs --press to choose which tokens it removes") }
            for spec in press { try cacheOptions.validate(press: spec) }
            for spec in press where spec != "none" {
                _ = try PressRegistry.make(spec, ratio: ratio, profile: HeadProfile.placeholder)
            }
            let engine = try modelOptions.loadEngine()
            try cacheOptions.apply(to: engine)
            var headProfile: HeadProfile?
            if press.contains(where: PressRegistry.needsProfile) {
                headProfile = try PressOptions.profile(engine: engine, modelPath: engine.file.path, path: nil,
                                                       sensitivity: press.contains(where: PressRegistry.needsSensitivity))
            }
            let layers = try PressedLayers(parsing: pressLayers)
            let specs = engine.model.attentionSpecs
            let presses: [(any KVPress)?] = try press.isEmpty ? [nil] : press.map { spec in
                let made = spec == "none" ? nil : try PressRegistry.make(spec, ratio: ratio, profile: headProfile)
                return try layers.restrict(made, specs: specs)
            }
            var tests: [Benchmark.Test] = []
            for d in depthList {
                tests += promptSizes.filter { $0 > 0 }.map { Benchmark.Test(promptTokens: $0, depth: d) }
                for n in generatedSizes where n > 0 {
                    tests += sequenceCounts.map { Benchmark.Test(generatedTokens: n, depth: d, sequences: $0) }
                }
            }
            guard !tests.isEmpty else { throw CLIError("nothing to measure: -p and -n are all 0") }
            let benchmark = Benchmark(engine: engine)
            var results: [Benchmark.Result] = []
            let total = tests.count * threadCounts.count * presses.count * repetitions
            var done = 0
            Console.startProgress(bar: "bench")
            for threads in threadCounts {
                ParallelFor.threads = threads
                for test in tests {
                    results += try benchmark.run(test, presses: presses, threads: threads,
                                                 repetitions: repetitions) { _, index in
                        done += 1
                        let name = presses[index]?.description ?? ""
                        Console.progress("bench \(test.name) \(name) t=\(threads)", done: done, total: total,
                                         bar: "bench")
                    }
                }
            }
            let peak = Benchmark.peakResidentBytes()
            let modelName = URL(fileURLWithPath: engine.file.path).lastPathComponent
            let fullCache = results.filter { $0.press == "none" }.map { ("\($0.test) \($0.threads)", $0) }
            let baseline = Dictionary(fullCache) { a, _ in a }
            if json {
                let objects: [[String: Any]] = results.map {
                    var o: [String: Any] = ["test": $0.test, "press": $0.press, "cache_bytes": $0.cacheBytes,
                                            "threads": $0.threads, "tokens_per_second": $0.tokensPerSecond,
                                            "stddev": $0.standardDeviation, "samples": $0.samples, "model": modelName,
                                            "kernels": KernelDispatch.name, "depth_fills": $0.depthFills]
                    if let peak { o["peak_rss_bytes"] = peak }
                    if $0.press != "none", let full = baseline["\($0.test) \($0.threads)"],
                       let median = Benchmark.medianRatio($0.samples, to: full.samples) {
                        o["median_ratio_to_full_cache"] = median
                    }
                    o["kv_storage"] = engine.cacheStorage.description
                    return o
                }
                let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
                Console.out(String(decoding: data, as: UTF8.self) + "\n")
                return
            }
            if cacheOptions.isSet { Console.status("KV cache stored as \(engine.cacheStorage) (every test)") }
            let showPress = !press.isEmpty
            var out = "| model | kernels | threads | test |" + (showPress ? " press | cache |" : "") + " t/s |"
            out += (showPress ? "\n| --- | --- | ---: | ---: | --- | ---: | ---: |\n" : "\n| --- | --- | ---: | ---: | ---: |\n")
            for r in results {
                out += "| \(modelName) | \(KernelDispatch.name) | \(r.threads) | \(r.test) | "
                if showPress { out += "\(r.press) | " + String(format: "%.1f MiB", Double(r.cacheBytes) / 1_048_576) + " | " }
                out += String(format: "%.2f ± %.2f", r.tokensPerSecond, r.standardDeviation)
                if showPress, r.press != "none", let full = baseline["\(r.test) \(r.threads)"], full.tokensPerSecond > 0 {
                    out += String(format: " (%.2f× full cache", r.tokensPerSecond / full.tokensPerSecond)
                    if r.samples.count > 1, let median = Benchmark.medianRatio(r.samples, to: full.samples) {
                        out += String(format: "; median of repetitions %.2f×", median)
                    }
                    out += ")"
                }
                out += " |\n"
            }
            if let peak {
                let weights = MemoryMappedFile.readsIntoMemory ? "weights read into memory" : "weights are memory-mapped"
                out += String(format: "\npeak resident memory: %.1f MiB (\(weights))\n", Double(peak) / 1_048_576)
            }
            Console.out(out)
        }
    }
}
