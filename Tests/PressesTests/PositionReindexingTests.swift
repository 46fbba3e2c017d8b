import Engine
import Foundation
import Kernels
import KVCache
import Presses
import Sampling
import TestSupport
import XCTest

/// Positions within the cache: a cache kept small while decoding goes on past the model's context length.
final class PositionReindexingTests: TinyModelTestCase {
    func testReindexingKeepsAttentionOverTheNewestTokensAndRotatesQueries() throws {
        let cache = try prefilled(tokens(40))
        for l in 0 ..< 2 { for h in 0 ..< 2 { cache.retain(layer: l, head: h, indices: Array(20 ..< 40)) } }
        let moved = cache.copy()
        let c = engine.model.configuration
        let rope = cache.layers[1].spec.rope
        XCTAssertEqual(rope, RoPE(dimensions: c.ropeDimension, base: c.ropeBase), "the model's RoPE, in its spec")
        XCTAssertEqual(moved.reindex(), 20)
        XCTAssertEqual(moved.nextPosition, 20)
        XCTAssertEqual(Array(moved.layers[1].heads[0].positions), (0 ..< 20).map(Int32.init))
        XCTAssertEqual(moved.byteCount, cache.byteCount, "nothing is added or lost")
        XCTAssertEqual(moved.reindex(), 0, "already within the cache")
        // The same query at position 40 (before) and 20 (after) attends alike: relative positions are kept.
        var generator = SeededGenerator(seed: 3)
        let d = c.headDimension, heads = c.headCount, half = c.ropeDimension / 2
        let raw = (0 ..< heads * d).map { _ in Float(generator.next() % 2001) / 1000 - 1 }
        func attend(_ cache: KVCache, at position: Int) -> [Float] {
            var q = raw, cosines = [Float](repeating: 0, count: half), sines = cosines
            rope.table(position: position, cos: &cosines, sin: &sines)
            rope.rotate(&q, heads: heads, headDimension: d, cos: cosines, sin: sines)
            var out = [Float](repeating: 0, count: heads * d)
            CachedAttention.compute(layer: cache.layers[1], queries: q, tokens: 1, positions: [position], output: &out)
            return out
        }
        for (x, y) in zip(attend(cache, at: 40), attend(moved, at: 20)) { XCTAssertEqual(x, y, accuracy: 2e-3) }
    }

    func testStreamingGenerationGoesPastTheContextLength() throws {
        var tiny = TinyModel()
        tiny.context = 96
        let small = try InferenceEngine(modelPath: try tiny.write())
        let prompt = Array(small.tokenizer.encode(String(repeating: "hello world, tiny model ", count: 30)).prefix(40))
        let press = try DecodingPress(scorer: StreamingPress(compressionRatio: 0), budget: 24, interval: 8)
        var found = false
        for seed in 0 ..< 20 where !found {
            var sampling = SamplingParameters()
            sampling.seed = UInt64(seed)
            let r = try small.generate(prompt: prompt, maxTokens: 300, sampling: sampling, press: press)
            XCTAssertNotEqual(r.stopReason, .contextFull, "seed \(seed)")
            guard r.stopReason == .maxTokens else { continue }  // the random model may end early; try another seed
            found = true
            XCTAssertEqual(r.tokens.count, 300)
            XCTAssertGreaterThan(r.statistics.positionReindexings, 0)
            XCTAssertLessThanOrEqual(r.statistics.peakCacheBytes, 2 * 2 * 40 * Self.perToken, "bounded: prompt, then budget + interval")
        }
        XCTAssertTrue(found, "some seed generates 300 tokens")
        // Without a press that compresses while decoding, the context still ends generation.
        let plain = try small.generate(prompt: prompt, maxTokens: 300, sampling: .greedy)
        XCTAssertTrue([.contextFull, .endOfGeneration].contains(plain.stopReason))
        XCTAssertLessThanOrEqual(prompt.count + plain.tokens.count, 96)
    }

    func testSharedTokensReindexLikeAnyOtherSegment() throws {
        let cache = try prefilled(tokens(40))
        for l in 0 ..< 2 { for h in 0 ..< 2 { cache.retain(layer: l, head: h, indices: Array(20 ..< 40)) } }
        try MiniCachePress(startLayer: 0, interpolation: 0.5, retained: 0.25, maximumAngle: 180).compress(cache)
        XCTAssertTrue(cache.layers[0].heads.allSatisfy(\.isSharing), "minicache merged tokens of both layers")
        let moved = cache.copy()
        XCTAssertEqual(moved.reindex(), 20, "shared tokens no longer stop re-indexing")
        XCTAssertEqual(moved.nextPosition, 20)
        XCTAssertEqual(moved.byteCount, cache.byteCount, "nothing is added or lost")
        for layer in moved.layers {
            for head in layer.heads {
                let all = head.segments.flatMap(\.positions).sorted()
                XCTAssertEqual(all, (0 ..< 20).map(Int32.init), "own and shared tokens fill the positions once")
            }
        }
        // Both layers that read the shared tokens attend as before, from the moved position.
        var generator = SeededGenerator(seed: 4)
        let c = engine.model.configuration
        let d = c.headDimension
        let heads = c.headCount
        let rope = cache.layers[0].spec.rope
        let raw = (0 ..< heads * d).map { _ in Float(generator.next() % 2001) / 1000 - 1 }
        func attend(_ cache: KVCache, layer: Int, at position: Int) -> [Float] {
            var q = raw
            var cosines = [Float](repeating: 0, count: rope.dimensions / 2)
            var sines = cosines
            rope.table(position: position, cos: &cosines, sin: &sines)
            rope.rotate(&q, heads: heads, headDimension: d, cos: cosines, sin: sines)
            var out = [Float](repeating: 0, count: heads * d)
            CachedAttention.compute(layer: cache.layers[layer], queries: q, tokens: 1, positions: [position], output: &out)
            return out
        }
        for layer in 0 ..< 2 {
            let before = attend(cache, layer: layer, at: 40)
            let after = attend(moved, layer: layer, at: 20)
            for (x, y) in zip(before, after) { XCTAssertEqual(x, y, accuracy: 2e-3, "layer \(layer)") }
        }
    }
}
