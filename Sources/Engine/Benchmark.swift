import Foundation
import KVCache
import Models
import Presses
import Sampling

/// llama-bench-style measurements: prompt processing (`pp512`: a batch of 512 tokens from an empty cache) and
/// token generation (`tg128@d4096`: 128 single-token steps after a 4,096-token prompt). Token ids are
/// pseudo-random, so results depend on the model's size and shape only. With a press, the cache is compressed
/// after the depth prompt and before the timed part (e.g. decode speed over a compressed 4,096-token cache).
/// `tg128x8` decodes 8 sequences together, one batched forward pass per step (as `tokenpress serve` does), and
/// counts the tokens of all of them.
public struct Benchmark {
    public struct Test: Sendable, Equatable {
        public var promptTokens = 0    // pp: tokens in the timed batch
        public var generatedTokens = 0 // tg: timed single-token steps
        public var depth = 0           // tokens already in the cache before timing
        public var sequences = 1       // tg: sequences decoded together, each with its own cache

        public init(promptTokens: Int = 0, generatedTokens: Int = 0, depth: Int = 0, sequences: Int = 1) {
            self.promptTokens = promptTokens
            self.generatedTokens = generatedTokens
            self.depth = depth
            self.sequences = sequences
        }

        public var name: String {
            var base = promptTokens > 0 ? "pp\(promptTokens)" : "tg\(generatedTokens)"
            if promptTokens == 0, sequences > 1 { base += "x\(sequences)" }
            return depth > 0 ? "\(base)@d\(depth)" : base
        }

        public var timedTokens: Int { promptTokens > 0 ? promptTokens : generatedTokens * sequences }
    }

    public struct Result: Sendable, Codable {
        public var test: String
        public var press: String
        public var threads: Int
        /// Exact cache bytes when the timed part began (after the press, if any).
        public var cacheBytes: Int
        public var tokensPerSecond: Double      // mean over repetitions
        public var standardDeviation: Double
        public var samples: [Double]

        /// The mean and sample standard deviation of `samples` (tokens per second of each repetition).
        public init(test: String, press: String, threads: Int, cacheBytes: Int, samples: [Double]) {
            let mean = samples.reduce(0, +) / Double(max(1, samples.count))
            let squares = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            let variance = samples.count > 1 ? squares / Double(samples.count - 1) : 0
            self.test = test
            self.press = press
            self.threads = threads
            self.cacheBytes = cacheBytes
            self.tokensPerSecond = mean
            self.standardDeviation = variance.squareRoot()
            self.samples = samples
        }

        enum CodingKeys: String, CodingKey {
            case test, press, threads, samples
            case cacheBytes = "cache_bytes"
            case tokensPerSecond = "tokens_per_second"
            case standardDeviation = "stddev"
        }
    }

    public let engine: InferenceEngine

    public init(engine: InferenceEngine) { self.engine = engine }

    /// Runs `test` with every press `repetitions` times, the presses taking turns within each repetition (after
    /// one untimed warm-up round), so that a machine whose speed drifts — other work, clocks, a neighbour on the
    /// same host — slows every press alike and their ratios hold. `progress` gets (repetition, press index).
    public func run(_ test: Test, presses: [(any KVPress)?] = [nil], threads: Int, repetitions: Int,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> [Result] {
        let needed = test.depth + max(test.promptTokens, test.generatedTokens)
        guard needed <= engine.contextLength else {
            let reason = "needs \(needed) tokens, more than the context of \(engine.contextLength)"
            throw EngineError.invalidParameter(name: "test \(test.name)", reason: reason)
        }
        var samples = [[Double]](repeating: [], count: presses.count)
        var cacheBytes = [Int](repeating: 0, count: presses.count)
        for repetition in 0 ... repetitions {
            for (index, press) in presses.enumerated() {
                let (seconds, bytes) = try measure(test, press: press, seed: UInt64(repetition))
                cacheBytes[index] = bytes
                guard repetition > 0 else { continue }
                samples[index].append(Double(test.timedTokens) / seconds)
                progress(repetition, index)
            }
        }
        return presses.indices.map { index in
            Result(test: test.name, press: presses[index]?.description ?? "none", threads: threads,
                   cacheBytes: cacheBytes[index], samples: samples[index])
        }
    }

    /// Seconds spent on the timed part of one run, and the cache bytes when it began.
    func measure(_ test: Test, press: (any KVPress)?, seed: UInt64) throws -> (seconds: Double, cacheBytes: Int) {
        if test.promptTokens == 0, test.sequences > 1 { return try measureTogether(test, press: press, seed: seed) }
        let model = engine.model
        var tokens = tokenStream(seed: seed)
        let cache = try filledCache(test, press: press, tokens: &tokens)
        let bytes = cache.byteCount
        let clock = ContinuousClock()
        if test.promptTokens > 0 {
            let batch = tokens.next(test.promptTokens)
            return (try clock.measure { _ = try engine.prefill(batch, cache: cache) }.seconds, bytes)
        }
        let steps = tokens.next(test.generatedTokens)
        return (try clock.measure {
            for (step, token) in steps.enumerated() {
                _ = try model.forward(tokens: [token], cache: cache, logits: .lastToken)
                try press?.compressDuringDecoding(cache, step: step + 1)
            }
        }.seconds, bytes)
    }

    /// `test.sequences` caches filled to the depth (different tokens each), then `generatedTokens` batched steps.
    private func measureTogether(_ test: Test, press: (any KVPress)?, seed: UInt64) throws
        -> (seconds: Double, cacheBytes: Int) {
        var caches: [KVCache] = []
        var steps: [[Int]] = []
        for sequence in 0 ..< test.sequences {
            var tokens = tokenStream(seed: seed &* 1000 &+ UInt64(sequence))
            caches.append(try filledCache(test, press: press, tokens: &tokens))
            steps.append(tokens.next(test.generatedTokens))
        }
        let bytes = caches.reduce(0) { $0 + $1.byteCount }
        let clock = ContinuousClock()
        return (try clock.measure {
            for step in 0 ..< test.generatedTokens {
                _ = try engine.model.forward(batch: steps.map { $0[step] }, caches: caches)
                for cache in caches { try press?.compressDuringDecoding(cache, step: step + 1) }
            }
        }.seconds, bytes)
    }

    private func tokenStream(seed: UInt64) -> TokenStream {
        TokenStream(seed: seed, vocabulary: engine.model.configuration.vocabularySize,
                    avoid: engine.tokenizer.endOfGeneration)
    }

    /// A cache holding `test.depth` tokens of `tokens` (compressed by `press`, if any), with room for the rest.
    private func filledCache(_ test: Test, press: (any KVPress)?, tokens: inout TokenStream) throws -> KVCache {
        let cache = engine.makeCache()
        // A precision press stores every token at its bits, the timed ones too.
        press?.prepare(cache)
        if press == nil { cache.reserveCapacity(test.depth + max(test.promptTokens, test.generatedTokens)) }
        if test.depth > 0 {
            var peak = 0
            _ = try engine.prefill(tokens.next(test.depth), cache: cache, press: press, peakBytes: &peak)
            try press.map { try engine.finishPrompt(cache, press: $0) }
        }
        return cache
    }

    /// Peak resident memory of this process so far (VmHWM), in bytes; nil where /proc is unavailable.
    public static func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }
}

/// Reproducible pseudo-random token ids, skipping end-of-generation tokens.
struct TokenStream {
    var generator: SeededGenerator
    let vocabulary: Int
    let avoid: Set<Int>

    init(seed: UInt64, vocabulary: Int, avoid: Set<Int>) {
        generator = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        self.vocabulary = vocabulary
        self.avoid = avoid
    }

    mutating func next(_ count: Int) -> [Int] {
        var out: [Int] = []
        while out.count < count {
            let id = Int(generator.next() % UInt64(vocabulary))
            if !avoid.contains(id) { out.append(id) }
        }
        return out
    }
}
