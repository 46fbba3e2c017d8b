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
        /// Untimed fills of the cache to the test's depth (more than one only when repetitions could not share one).
        public var depthFills: Int

        /// The mean and sample standard deviation of `samples` (tokens per second of each repetition).
        public init(test: String, press: String, threads: Int, cacheBytes: Int, samples: [Double], depthFills: Int) {
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
            self.depthFills = depthFills
        }

        enum CodingKeys: String, CodingKey {
            case test, press, threads, samples
            case cacheBytes = "cache_bytes"
            case tokensPerSecond = "tokens_per_second"
            case standardDeviation = "stddev"
            case depthFills = "depth_fills"
        }
    }

    /// The median over repetitions of `samples[i] / baseline[i]`: presses take turns within a repetition, so each
    /// ratio compares two runs made seconds apart, and the median ignores a repetition where the machine changed
    /// speed between them. Nil unless both have the same number of samples.
    public static func medianRatio(_ samples: [Double], to baseline: [Double]) -> Double? {
        guard !samples.isEmpty, samples.count == baseline.count, !baseline.contains(0) else { return nil }
        let ratios = zip(samples, baseline).map { $0 / $1 }.sorted()
        let middle = ratios.count / 2
        return ratios.count % 2 == 1 ? ratios[middle] : (ratios[middle - 1] + ratios[middle]) / 2
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
        let oneFill = Self.decodesOverOneFill(test, presses: presses)
        var caches: [KVCache?] = Array(repeating: nil, count: presses.count)
        var samples = [[Double]](repeating: [], count: presses.count)
        var cacheBytes = [Int](repeating: 0, count: presses.count)
        var fills = [Int](repeating: 0, count: presses.count)
        for repetition in 0 ... repetitions {
            for (index, press) in presses.enumerated() {
                let seconds: Double
                if oneFill {
                    if caches[index] == nil {
                        fills[index] += 1
                        var depthTokens = tokenStream(seed: 0)
                        caches[index] = try filledCache(test, press: press, tokens: &depthTokens)
                        cacheBytes[index] = caches[index]!.byteCount
                    }
                    let cache = caches[index]!
                    var tokens = tokenStream(seed: UInt64(repetition) &+ 1)
                    seconds = try decode(tokens.next(test.generatedTokens), cache: cache, press: press)
                    if !cache.truncate(toPositions: test.depth) || cache.byteCount != cacheBytes[index] {
                        caches[index] = nil
                    }
                } else {
                    (seconds, cacheBytes[index]) = try measure(test, press: press, seed: UInt64(repetition))
                    fills[index] += test.depth > 0 ? test.sequences : 0
                }
                guard repetition > 0 else { continue }
                samples[index].append(Double(test.timedTokens) / seconds)
                progress(repetition, index)
            }
        }
        return presses.indices.map { index in
            Result(test: test.name, press: presses[index]?.description ?? "none", threads: threads,
                   cacheBytes: cacheBytes[index], samples: samples[index], depthFills: fills[index])
        }
    }

    /// Whether a decode test after a depth prompt fills each press's cache once and then times its repetitions over
    /// that one fill: single sequences, and no press that compresses while decoding (its evictions could not be
    /// taken back). Filling a 4,096-token cache takes ten times as long as 128 decode steps, and on a shared
    /// machine the speed changes within that time; without refills, the presses' turns follow each other within
    /// seconds, so each repetition compares them on the same machine state. After each turn the cache is cut back
    /// to the depth; one that does not come back to its bytes (a precision press that quantized a group holding
    /// both prompt and decoded tokens) is filled again before its next turn.
    public static func decodesOverOneFill(_ test: Test, presses: [(any KVPress)?]) -> Bool {
        guard test.promptTokens == 0, test.sequences == 1, test.depth > 0 else { return false }
        return presses.allSatisfy { $0?.compressesDuringDecoding != true }
    }

    /// Seconds spent on the timed part of one run (the cache filled to the depth first), and the cache bytes when it
    /// began.
    public func measure(_ test: Test, press: (any KVPress)?, seed: UInt64) throws
        -> (seconds: Double, cacheBytes: Int) {
        if test.promptTokens == 0, test.sequences > 1 { return try measureTogether(test, press: press, seed: seed) }
        var tokens = tokenStream(seed: seed)
        let cache = try filledCache(test, press: press, tokens: &tokens)
        let bytes = cache.byteCount
        if test.promptTokens > 0 {
            let batch = tokens.next(test.promptTokens)
            return (try ContinuousClock().measure { _ = try engine.prefill(batch, cache: cache) }.seconds, bytes)
        }
        return (try decode(tokens.next(test.generatedTokens), cache: cache, press: press), bytes)
    }

    /// Seconds to decode `steps` one token at a time into `cache`.
    private func decode(_ steps: [Int], cache: KVCache, press: (any KVPress)?) throws -> Double {
        try ContinuousClock().measure {
            for (step, token) in steps.enumerated() {
                _ = try engine.model.forward(tokens: [token], cache: cache, logits: .lastToken)
                try press?.compressDuringDecoding(cache, step: step + 1)
            }
        }.seconds
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
