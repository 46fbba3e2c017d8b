import Engine
import KVCache
import Presses
import Sampling
import TestSupport
import XCTest

/// Every registered press × ratio on a tiny random model: real bytes, exact counts, ratio 0 changes nothing.
final class PressTests: XCTestCase {
    static let ratios = [0.25, 0.5, 0.75]

    func prefilled(_ e: InferenceEngine, tokens: [Int]) throws -> KVCache {
        let cache = e.model.makeCache()
        _ = try e.model.forward(tokens: tokens, cache: cache, logits: .lastToken)
        return cache
    }

    func testEveryPressFreesTheBytesItClaims() throws {
        let e = try InferenceEngine(modelPath: try TinyModel().write())
        let tokens = Array(e.tokenizer.encode(String(repeating: "hello world ", count: 9)).prefix(37))
        let perToken = 2 * 16 * 2 + 4  // f16 key + f16 value of 16 dims, and an Int32 position
        for name in PressRegistry.names {
            for ratio in Self.ratios {
                let cache = try prefilled(e, tokens: tokens)
                try PressRegistry.make(name, ratio: ratio).compress(cache)
                let expected = tokens.count - Int((Double(tokens.count) * ratio).rounded(.down))
                for layer in cache.layers {
                    for head in layer.heads {
                        XCTAssertEqual(head.count, expected, "\(name)@\(ratio)")
                        XCTAssertEqual(head.byteCount, expected * perToken, "\(name)@\(ratio)")
                        XCTAssertEqual(Array(head.positions), Array(head.positions).sorted(), "positions stay in order")
                    }
                }
                XCTAssertEqual(cache.byteCount, 2 * 2 * expected * perToken)
                XCTAssertEqual(cache.nextPosition, tokens.count, "positions continue after compression")
                _ = try e.model.forward(tokens: [5], cache: cache, logits: .lastToken)  // decoding goes on
                XCTAssertEqual(cache.layers[0].heads[0].count, expected + 1)
            }
        }
    }

    func testRatioZeroIsBitIdenticalToNoPress() throws {
        let e = try InferenceEngine(modelPath: try TinyModel().write())
        let prompt = e.tokenizer.encode("hello world hello world")
        let plain = try e.generate(prompt: prompt, maxTokens: 8, sampling: .greedy)
        for name in PressRegistry.names {
            let pressed = try e.generate(prompt: prompt, maxTokens: 8, sampling: .greedy, press: try PressRegistry.make(name, ratio: 0))
            XCTAssertEqual(pressed.tokens, plain.tokens, name)
            XCTAssertEqual(pressed.statistics.cacheBytesAfterPrompt, plain.statistics.cacheBytesAfterPrompt, name)
        }
    }

    func testPressesKeepWhatTheirRuleSays() throws {
        let e = try InferenceEngine(modelPath: try TinyModel().write())
        let tokens = Array(e.tokenizer.encode(String(repeating: "hello world ", count: 9)).prefix(20))
        // streaming: 4 sinks + the most recent tokens.
        let s = try prefilled(e, tokens: tokens)
        try StreamingPress(compressionRatio: 0.5).compress(s)
        XCTAssertEqual(Array(s.layers[1].heads[0].positions), [0, 1, 2, 3] + Array(14 ... 19).map(Int32.init))
        // knorm: the kept keys have norms no larger than any dropped one.
        let k = try prefilled(e, tokens: tokens)
        let head = k.layers[0].heads[1]
        let norms = KnormPress(compressionRatio: 0).scores(head: head, layer: 0, index: 1).map { -$0 }
        try KnormPress(compressionRatio: 0.5).compress(k)
        let kept = Set(head.positions.map(Int.init))
        let keptMax = kept.map { norms[$0] }.max()!, droppedMin = (0 ..< 20).filter { !kept.contains($0) }.map { norms[$0] }.min()!
        XCTAssertLessThanOrEqual(keptMax, droppedMin)
        // random: reproducible for a seed.
        let a = try prefilled(e, tokens: tokens), b = try prefilled(e, tokens: tokens)
        try RandomPress(compressionRatio: 0.5, seed: 3).compress(a)
        try RandomPress(compressionRatio: 0.5, seed: 3).compress(b)
        XCTAssertEqual(Array(a.layers[0].heads[0].positions), Array(b.layers[0].heads[0].positions))
    }

    func testBudgetKeepsThatManyTokensPerHead() throws {
        let e = try InferenceEngine(modelPath: try TinyModel().write())
        let tokens = Array(e.tokenizer.encode(String(repeating: "hello world ", count: 9)).prefix(30))
        for name in PressRegistry.names {
            let cache = try prefilled(e, tokens: tokens)
            try BudgetPress(scorer: try PressRegistry.scorer(name, ratio: 0), budget: 7).compress(cache)
            for layer in cache.layers { for head in layer.heads { XCTAssertEqual(head.count, 7, name) } }
            let small = try prefilled(e, tokens: Array(tokens.prefix(5)))
            try BudgetPress(scorer: try PressRegistry.scorer(name, ratio: 0), budget: 7).compress(small)
            XCTAssertEqual(small.layers[0].heads[0].count, 5, "a budget above the prompt keeps everything")
        }
        XCTAssertThrowsError(try BudgetPress(scorer: KnormPress(compressionRatio: 0), budget: 0)) {
            XCTAssertEqual(($0 as? PressError)?.description, "invalid press parameter budget: must be positive, got 0")
        }
    }

    func testBadParametersAreNamed() {
        XCTAssertThrowsError(try PressRegistry.make("magic", ratio: 0.5)) {
            XCTAssertEqual(($0 as? PressError)?.description, "unknown press 'magic' (known: knorm, random, streaming)")
        }
        for bad in [-0.1, 1, 1.5, .nan] {
            XCTAssertThrowsError(try PressRegistry.make("knorm", ratio: bad)) {
                guard case .invalidRatio = $0 as? PressError else { return XCTFail("\($0)") }
            }
        }
    }
}

final class DecodingPressTests: XCTestCase {
    /// StreamingLLM-style generation: 2,000 tokens with at most budget + interval tokens per head.
    func testDecodingWrappedStreamingKeepsMemoryBoundedOver2000Tokens() throws {
        var tiny = TinyModel()
        tiny.context = 4096
        let e = try InferenceEngine(modelPath: try tiny.write())
        let press = try DecodingPress(scorer: StreamingPress(compressionRatio: 0), budget: 48, interval: 16)
        let perToken = 2 * 16 * 2 + 4
        let bound = 2 * 2 * (48 + 16) * perToken
        // 2,000 decode steps driven directly (a tiny random model may sample its end token early).
        let cache = e.model.makeCache()
        let prompt = e.tokenizer.encode(String(repeating: "hello world ", count: 20))
        try e.generateSteps(prompt: prompt, steps: 2_000, cache: cache, press: press) { bytes in
            XCTAssertLessThanOrEqual(bytes, bound)
        }
        XCTAssertEqual(cache.nextPosition, 2_000 + prompt.count)
        XCTAssertLessThanOrEqual(cache.byteCount, bound)
        // Through the engine's generation loop as well.
        var params = Sampling.SamplingParameters()
        params.seed = 1
        let r = try e.generate(prompt: e.tokenizer.encode("hello world"), maxTokens: 300, sampling: params, press: press)
        XCTAssertLessThanOrEqual(r.statistics.peakCacheBytes, bound)
        for head in cache.layers[0].heads {
            XCTAssertEqual(Array(head.positions.prefix(4)), [0, 1, 2, 3], "the sinks stay")
            XCTAssertEqual(Int(head.positions.last!), cache.nextPosition - 1, "the newest token stays")
        }
        XCTAssertThrowsError(try DecodingPress(scorer: StreamingPress(compressionRatio: 0), budget: 0))
    }
}

extension InferenceEngine {
    /// Prefill, then `steps` single-token steps feeding token 5, calling the press after each; reports cache bytes.
    func generateSteps(prompt: [Int], steps: Int, cache: KVCache, press: any KVPress, check: (Int) -> Void) throws {
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
