import Engine
import Kernels
import KVCache
import Presses
import Sampling
import TestSupport
import XCTest

/// Shared set-up: the tiny random model (2 layers, 4 query heads sharing 2 KV heads of 16 dims).
class TinyModelTestCase: XCTestCase {
    /// f16 key + f16 value of 16 dims; positions cost 8 bytes per run of consecutive positions (`positionBytes`).
    static let rowBytes = 2 * 16 * 2
    /// An upper bound per token: rows and a listed Int32 position (what positions cost at most).
    static let perToken = rowBytes + 4
    var engine: InferenceEngine!

    override func setUpWithError() throws {
        var tiny = TinyModel()
        tiny.context = 4096
        engine = try InferenceEngine(modelPath: try tiny.write())
    }

    func tokens(_ count: Int) -> [Int] {
        Array(engine.tokenizer.encode(String(repeating: "hello world, tiny model ", count: count)).prefix(count))
    }

    /// A cache holding `tokens`, with the statistics `press` needs recorded while prefilling.
    func prefilled(_ tokens: [Int], for press: (any KVPress)? = nil, batch: Int = 512) throws -> KVCache {
        let cache = engine.model.makeCache()
        press?.prepare(cache)
        var start = 0
        while start < tokens.count {
            let end = min(start + batch, tokens.count)
            _ = try engine.model.forward(tokens: Array(tokens[start ..< end]), cache: cache, logits: .lastToken)
            start = end
        }
        return cache
    }
}

/// Every registered press × ratio on a tiny random model: real bytes, exact counts, ratio 0 changes nothing.
final class PressTests: TinyModelTestCase {
    static let ratios = [0.25, 0.5, 0.75]

    func testEveryPressFreesTheBytesItClaims() throws {
        let tokens = tokens(101)
        XCTAssertEqual(tokens.count, 101)
        for name in PressRegistry.scorerNames {
            for ratio in Self.ratios {
                let press = try PressRegistry.make(name, ratio: ratio)
                let cache = try prefilled(tokens, for: press)
                try press.compress(cache)
                let expected = tokens.count - Int((Double(tokens.count) * ratio).rounded(.down))
                for layer in cache.layers {
                    for head in layer.heads {
                        XCTAssertEqual(head.count, expected, "\(name)@\(ratio)")
                        XCTAssertEqual(head.byteCount, expected * Self.rowBytes + head.positionBytes, "\(name)@\(ratio)")
                        XCTAssertEqual(Array(head.positions), Array(head.positions).sorted(), "positions stay in order")
                        XCTAssertEqual(Set(head.positions).count, expected, "no token twice")
                    }
                }
                XCTAssertEqual(cache.byteCount, 2 * 2 * expected * Self.rowBytes + cache.positionBytes)
                XCTAssertLessThanOrEqual(cache.positionBytes, 2 * 2 * (expected * 4 + 72), "positions never cost more than a list")
                XCTAssertEqual(cache.retainedTokens, 2 * 2 * expected)
                XCTAssertEqual(cache.nextPosition, tokens.count, "positions continue after compression")
                _ = try engine.model.forward(tokens: [5], cache: cache, logits: .lastToken)  // decoding goes on
                XCTAssertEqual(cache.layers[0].heads[0].count, expected + 1)
            }
        }
    }

    func testRatioZeroIsBitIdenticalToNoPress() throws {
        let prompt = tokens(80)
        let plain = try engine.generate(prompt: prompt, maxTokens: 8, sampling: .greedy)
        let plainLogits = try engine.model.forward(tokens: prompt, cache: engine.model.makeCache(), logits: .allTokens)
        let profile = try HeadCalibration(engine: engine).run(model: "tiny")
        for name in PressRegistry.names where !PressRegistry.ratioFreeNames.contains(name) {
            let press = try PressRegistry.make(name, ratio: 0, profile: profile)
            let pressed = try engine.generate(prompt: prompt, maxTokens: 8, sampling: .greedy, press: press)
            XCTAssertEqual(pressed.tokens, plain.tokens, name)
            XCTAssertEqual(pressed.statistics.cacheBytesAfterPrompt, plain.statistics.cacheBytesAfterPrompt, name)
            // Recording statistics never changes the model's arithmetic.
            let cache = engine.model.makeCache()
            press.prepare(cache)
            XCTAssertEqual(try engine.model.forward(tokens: prompt, cache: cache, logits: .allTokens), plainLogits, name)
        }
    }

    func testPressesKeepWhatTheirRuleSays() throws {
        let tokens = tokens(20)
        // streaming: 4 sinks + the most recent tokens.
        let s = try prefilled(tokens)
        try StreamingPress(compressionRatio: 0.5).compress(s)
        XCTAssertEqual(Array(s.layers[1].heads[0].positions), [0, 1, 2, 3] + Array(14 ... 19).map(Int32.init))
        // knorm: the kept keys have norms no larger than any dropped one.
        let k = try prefilled(tokens)
        let norms = KnormPress(compressionRatio: 0).scores(layer: 0, head: 1, cache: k).map { -$0 }
        try KnormPress(compressionRatio: 0.5).compress(k)
        let kept = Set(k.layers[0].heads[1].positions.map(Int.init))
        let keptMax = kept.map { norms[$0] }.max()!, droppedMin = (0 ..< 20).filter { !kept.contains($0) }.map { norms[$0] }.min()!
        XCTAssertLessThanOrEqual(keptMax, droppedMin)
        // random: reproducible for a seed.
        let a = try prefilled(tokens), b = try prefilled(tokens)
        try RandomPress(compressionRatio: 0.5, seed: 3).compress(a)
        try RandomPress(compressionRatio: 0.5, seed: 3).compress(b)
        XCTAssertEqual(Array(a.layers[0].heads[0].positions), Array(b.layers[0].heads[0].positions))
    }

    func testSnapKVKeepsItsObservationWindowAndTOVAKeepsOneSetPerLayer() throws {
        let tokens = tokens(60)
        let snap = try SnapKVPress(compressionRatio: 0.5, window: 8, kernel: 3)
        let s = try prefilled(tokens, for: snap)
        try snap.compress(s)
        for layer in s.layers {
            for head in layer.heads {
                XCTAssertEqual(Array(head.positions.suffix(8)), Array(52 ..< 60).map(Int32.init), "the window stays")
            }
        }
        let tova = TOVAPress(compressionRatio: 0.5)
        let t = try prefilled(tokens, for: tova)
        try tova.compress(t)
        for layer in t.layers {
            XCTAssertEqual(Array(layer.heads[0].positions), Array(layer.heads[1].positions), "heads of a layer agree")
            XCTAssertEqual(layer.heads[0].positions.last, 59, "the current token stays")
        }
    }

    /// Accumulated attention is built chunk by chunk without an n×n matrix: every query row sums to 1, so the
    /// sums over a KV head's keys equal (queries × group size), and batching does not change them.
    func testAccumulatedAttentionSumsToTheQueriesSeenWhateverTheBatching() throws {
        let tokens = tokens(90)
        let h2o = try H2OPress(compressionRatio: 0.5)
        let a2sf = try A2SFPress(compressionRatio: 0.5, forgetting: 0.9)
        let both = try ComposedPress([h2o, a2sf])
        let whole = try prefilled(tokens, for: both), batched = try prefilled(tokens, for: both, batch: 7)
        for l in 0 ..< 2 {
            for h in 0 ..< 2 {
                let sums = whole.statistics!.accumulated(.attention(decay: 1), layer: l, head: h, count: 90)
                XCTAssertEqual(Double(sums.reduce(0, +)), 90 * 2, accuracy: 1e-2)
                let again = batched.statistics!.accumulated(.attention(decay: 1), layer: l, head: h, count: 90)
                for j in 0 ..< 90 { XCTAssertEqual(sums[j], again[j], accuracy: 1e-4) }
                let decayed = whole.statistics!.accumulated(.attention(decay: 0.9), layer: l, head: h, count: 90)
                let expected = 2 * (0 ..< 90).reduce(0.0) { $0 + pow(0.9, Double($1)) }
                XCTAssertEqual(Double(decayed.reduce(0, +)), expected, accuracy: 1e-3)
                let decayedBatched = batched.statistics!.accumulated(.attention(decay: 0.9), layer: l, head: h, count: 90)
                for j in 0 ..< 90 { XCTAssertEqual(decayed[j], decayedBatched[j], accuracy: 1e-4) }
            }
        }
        // The sums follow the tokens a head keeps.
        let before = whole.statistics!.accumulated(.attention(decay: 1), layer: 1, head: 0, count: 90)
        try h2o.compress(whole)
        let positions = whole.layers[1].heads[0].positions.map(Int.init)
        XCTAssertEqual(whole.statistics!.accumulated(.attention(decay: 1), layer: 1, head: 0, count: positions.count),
                       positions.map { before[$0] })
    }

    func testExpectedAttentionRotatesQueriesAsRoPEDoes() throws {
        let press = try ExpectedAttentionPress(compressionRatio: 0.5, futurePositions: 1)
        let cache = try prefilled(tokens(40), for: press)
        let statistics = cache.statistics!
        // Averaged over one future position, the rotation is RoPE's at that position.
        let rope = cache.layers[0].spec.rope
        let r = press.averageRotation(rope: rope, start: 40, dimension: 16)
        var c = [Float](repeating: 0, count: 8), s = [Float](repeating: 0, count: 8)
        rope.table(position: 40, cos: &c, sin: &s)
        for i in 0 ..< 8 {
            XCTAssertEqual(r[i].cos, c[i], accuracy: 1e-4)
            XCTAssertEqual(r[i].sin, s[i], accuracy: 1e-4)
        }
        // A rotation keeps the identity covariance the identity.
        let identity = (0 ..< 256).map { Float($0 / 16 == $0 % 16 ? 1 : 0) }
        let turned = press.rotateCovariance(identity, r, rope: rope, dimension: 16)
        for i in 0 ..< 256 { XCTAssertEqual(turned[i], identity[i], accuracy: 1e-5) }
        // The moments exclude the 4 sinks: 36 queries seen per layer.
        let m = statistics.queryMoments(layer: 0, queryHead: 0, headDimension: 16)!
        XCTAssertEqual(m.mean.count, 16)
        for i in 0 ..< 16 { XCTAssertGreaterThanOrEqual(m.covariance[i * 16 + i], -1e-4, "variances are not negative") }
        try press.compress(cache)
        XCTAssertEqual(Array(cache.layers[0].heads[0].positions.prefix(4)), [0, 1, 2, 3], "the sinks stay")
    }

    func testBudgetKeepsThatManyTokensPerHead() throws {
        let tokens = tokens(70)
        for name in PressRegistry.scorerNames {
            let press = try BudgetPress(scorer: try PressRegistry.scorer(name, ratio: 0), budget: 7)
            let cache = try prefilled(tokens, for: press)
            try press.compress(cache)
            for layer in cache.layers { for head in layer.heads { XCTAssertEqual(head.count, 7, name) } }
        }
        let small = try prefilled(Array(tokens.prefix(5)))
        try BudgetPress(scorer: KnormPress(compressionRatio: 0), budget: 7).compress(small)
        XCTAssertEqual(small.layers[0].heads[0].count, 5, "a budget above the prompt keeps everything")
    }

    func testComposedPressAppliesEachInTurnAndCopiesAreIndependent() throws {
        let press = try PressRegistry.make("streaming@0.5+snapkv@0.5:window=8", ratio: 0.9)
        XCTAssertEqual(press.description, "streaming@0.5+snapkv@0.5")
        let cache = try prefilled(tokens(64), for: press)
        try press.compress(cache)
        XCTAssertEqual(cache.layers[0].heads[0].count, 16, "64 → 32 → 16")
        let copy = cache.copy()
        _ = try engine.model.forward(tokens: [5, 6], cache: copy, logits: .lastToken)
        XCTAssertEqual(cache.layers[0].heads[0].count, 16, "the original is untouched")
        XCTAssertEqual(copy.layers[0].heads[0].count, 18)
        XCTAssertEqual(cache.nextPosition, 64)
        XCTAssertEqual(copy.statistics!.window(layer: 0).positions.last, 65)
        XCTAssertEqual(cache.statistics!.window(layer: 0).positions.last, 63)
    }

    /// Chunked prefill: each chunk is compressed before the next is read, so peak memory is bounded.
    func testChunkedPressBoundsPeakMemoryDuringPrefill() throws {
        let prompt = tokens(200)
        let press = try ChunkedPress(scorer: KnormPress(compressionRatio: 0.75), chunk: 32)
        let result = try engine.generate(prompt: prompt, maxTokens: 1, sampling: .greedy, press: press)
        // 6 chunks of 32 keep 8 each, the last of 8 keeps 2: 50 tokens per head.
        XCTAssertLessThanOrEqual(result.statistics.cacheBytesAfterPrompt, 2 * 2 * 50 * Self.perToken)
        XCTAssertGreaterThan(result.statistics.cacheBytesAfterPrompt, 2 * 2 * 50 * Self.rowBytes)
        // At worst: the kept tokens of 6 chunks (48) plus one whole chunk of 32 in the cache.
        XCTAssertLessThanOrEqual(result.statistics.peakCacheBytes, 2 * 2 * (48 + 32) * Self.perToken)
        let full = try engine.generate(prompt: prompt, maxTokens: 1, sampling: .greedy)
        XCTAssertEqual(full.statistics.peakCacheBytes, 2 * 2 * (200 * Self.rowBytes + 8), "one run of positions per head")
        // SnapKV scores each chunk with the chunk's last queries.
        let snap = try ChunkedPress(scorer: SnapKVPress(compressionRatio: 0.5, window: 8), chunk: 50)
        let r = try engine.generate(prompt: prompt, maxTokens: 1, sampling: .greedy, press: snap)
        XCTAssertLessThanOrEqual(r.statistics.cacheBytesAfterPrompt, 2 * 2 * 100 * Self.perToken)
        XCTAssertGreaterThan(r.statistics.cacheBytesAfterPrompt, 2 * 2 * 100 * Self.rowBytes)
    }

    func testBadParametersAreNamed() {
        XCTAssertThrowsError(try PressRegistry.make("magic", ratio: 0.5)) {
            XCTAssertEqual(($0 as? PressError)?.description,
                           "unknown press 'magic' (known: random, knorm, streaming, h2o, a2sf, snapkv, tova, keyformer, "
                               + "expected, adakv, pyramid, layer-adaptive, razor, duo, mass, compresskv, ems, minicache, cache-type, kivi, mikv, zipcache, zipvl, mustafar, gear)")
        }
        for bad in [-0.1, 1, 1.5, .nan] {
            XCTAssertThrowsError(try PressRegistry.make("knorm", ratio: bad)) {
                guard case .invalidRatio = $0 as? PressError else { return XCTFail("\($0)") }
            }
        }
        XCTAssertThrowsError(try PressRegistry.make("snapkv@1.2", ratio: 0.5)) { XCTAssertEqual($0 as? PressError, .invalidRatio(1.2)) }
        XCTAssertThrowsError(try PressRegistry.make("snapkv:size=3", ratio: 0.5)) {
            XCTAssertEqual(($0 as? PressError)?.description, "press snapkv has no parameter 'size' (known: kernel, window)")
        }
        XCTAssertThrowsError(try PressRegistry.make("snapkv:kernel=4", ratio: 0.5)) {
            XCTAssertEqual(($0 as? PressError)?.description, "invalid press parameter kernel: must be a positive odd number, got 4")
        }
        XCTAssertThrowsError(try PressRegistry.make("snapkv:window", ratio: 0.5))
        XCTAssertThrowsError(try PressRegistry.make("a2sf:forgetting=1.5", ratio: 0.5))
        XCTAssertThrowsError(try PressRegistry.make("keyformer:temperature=0", ratio: 0.5))
        XCTAssertThrowsError(try PressRegistry.make("knorm+", ratio: 0.5))
        XCTAssertThrowsError(try BudgetPress(scorer: KnormPress(compressionRatio: 0), budget: 0)) {
            XCTAssertEqual(($0 as? PressError)?.description, "invalid press parameter budget: must be positive, got 0")
        }
        XCTAssertThrowsError(try ChunkedPress(scorer: KnormPress(compressionRatio: 0.5), chunk: 0))
    }

    func testWindowLargerThanThePromptAndMissingStatisticsAreErrors() throws {
        let snap = try SnapKVPress(compressionRatio: 0.5)  // window 64
        let short = try prefilled(tokens(20), for: snap)
        XCTAssertThrowsError(try snap.compress(short)) {
            XCTAssertEqual(($0 as? PressError)?.description,
                           "snapkv@0.5: observation window of 64 queries is larger than the 20 prompt tokens seen; use a smaller window or a longer prompt")
        }
        XCTAssertEqual(short.layers[0].heads[0].count, 20, "nothing was removed")
        let bare = try prefilled(tokens(80))
        XCTAssertThrowsError(try snap.compress(bare)) {
            guard case .missingStatistics = $0 as? PressError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try engine.generate(prompt: tokens(20), maxTokens: 4, press: snap))
    }
}

final class DecodingPressTests: TinyModelTestCase {
    /// StreamingLLM-style generation: 2,000 tokens with at most budget + interval tokens per head.
    func testDecodingWrappedStreamingKeepsMemoryBoundedOver2000Tokens() throws {
        let press = try DecodingPress(scorer: StreamingPress(compressionRatio: 0), budget: 48, interval: 16)
        let bound = 2 * 2 * (48 + 16) * Self.perToken
        // 2,000 decode steps driven directly (a tiny random model may sample its end token early).
        let cache = engine.model.makeCache()
        let prompt = tokens(60)
        try engine.generateSteps(prompt: prompt, steps: 2_000, cache: cache, press: press) { bytes in
            XCTAssertLessThanOrEqual(bytes, bound)
        }
        XCTAssertEqual(cache.nextPosition, 2_000 + prompt.count)
        XCTAssertLessThanOrEqual(cache.byteCount, bound)
        // Through the engine's generation loop as well.
        var params = Sampling.SamplingParameters()
        params.seed = 1
        let r = try engine.generate(prompt: tokens(10), maxTokens: 300, sampling: params, press: press)
        XCTAssertLessThanOrEqual(r.statistics.peakCacheBytes, bound)
        for head in cache.layers[0].heads {
            XCTAssertEqual(Array(head.positions.prefix(4)), [0, 1, 2, 3], "the sinks stay")
            XCTAssertEqual(Int(head.positions.last!), cache.nextPosition - 1, "the newest token stays")
        }
        XCTAssertThrowsError(try DecodingPress(scorer: StreamingPress(compressionRatio: 0), budget: 0))
    }

    /// Attention-scored presses keep recording while decoding, and their per-key sums follow evictions.
    func testDecodingWithAttentionScorersStaysBounded() throws {
        for name in ["h2o", "snapkv:window=8", "tova", "keyformer", "expected", "a2sf"] {
            let press = try DecodingPress(scorer: PressRegistry.scorer(name, ratio: 0), budget: 32, interval: 8)
            let cache = engine.model.makeCache()
            press.prepare(cache)
            try engine.generateSteps(prompt: tokens(40), steps: 200, cache: cache, press: press) { bytes in
                XCTAssertLessThanOrEqual(bytes, 2 * 2 * (32 + 8) * Self.perToken, name)
            }
            if name == "h2o" {
                let count = cache.layers[0].heads[0].count
                XCTAssertEqual(cache.statistics!.accumulated(.attention(decay: 1), layer: 0, head: 0, count: count).count, count)
            }
        }
    }
}

extension InferenceEngine {
    /// Prefill, then `steps` single-token steps feeding token 5, calling the press after each; reports cache bytes.
    func generateSteps(prompt: [Int], steps: Int, cache: KVCache, press: any KVPress, check: (Int) -> Void) throws {
        if cache.statistics == nil { press.prepare(cache) }
        _ = try prefill(prompt, cache: cache)
        try press.compress(cache)
        check(cache.byteCount)
        for step in 1 ... steps {
            _ = try model.forward(tokens: [5], cache: cache, logits: .lastToken)
            try press.compressDuringDecoding(cache, step: step)
            check(cache.byteCount)
        }
    }
}
