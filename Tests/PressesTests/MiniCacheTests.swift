import Foundation
import Kernels
import KVCache
import Presses
import Sampling
import XCTest

/// MiniCache: two layers read one shared segment with their own magnitudes; its bytes are real and counted once.
final class MiniCacheTests: TinyModelTestCase {
    /// Bytes of one merged token of 16 dims: two f16 directions, four f16 magnitudes (positions: `positionBytes`).
    static let sharedRowBytes = 2 * 16 * 2 + 4 * 2

    func testAdjacentLayersShareMergedTokensAndBytesAreExact() throws {
        let tokens = tokens(120)
        let cache = try prefilled(tokens)
        let before = cache.byteCount
        XCTAssertEqual(before, 4 * (120 * Self.rowBytes + 8), "one run of positions per head")
        let original = cache.copy()
        try PressRegistry.make("minicache:start=0,retain=0.25,angle=180", ratio: 0).compress(cache)
        var shared = 0, own = 0
        for h in 0 ..< 2 {
            let a = cache.layers[0].heads[h], b = cache.layers[1].heads[h]
            let segment = try XCTUnwrap(a.shared)
            XCTAssertTrue(segment === b.shared, "both layers read one segment")
            XCTAssertEqual(segment.count, 90, "the 25% most different pairs stay unmerged")
            XCTAssertEqual(a.count, 30)
            XCTAssertEqual(b.count, 30)
            XCTAssertEqual(Set(a.positions).union(segment.positions).count, 120, "every token is either own or shared")
            XCTAssertEqual(Array(segment.positions), Array(segment.positions).sorted())
            shared += segment.count
            own += a.count + b.count
            // Each layer reads its own magnitude; the direction is the interpolation of both.
            for j in [0, 45, 89] {
                let position = Int(segment.positions[j])
                for (slot, layer) in [a, b].enumerated() {
                    let reference = original.layers[slot].heads[h].token(position)
                    let merged = segment.token(j, slot: slot)
                    XCTAssertEqual(MiniCachePress.norm(merged.key), MiniCachePress.norm(reference.key), accuracy: 0.01 * MiniCachePress.norm(reference.key))
                    XCTAssertEqual(MiniCachePress.norm(merged.value), MiniCachePress.norm(reference.value),
                                   accuracy: 0.01 * MiniCachePress.norm(reference.value))
                    XCTAssertEqual(layer.attendedCount, 120)
                }
            }
        }
        XCTAssertEqual(cache.byteCount, own * Self.rowBytes + shared * Self.sharedRowBytes + cache.positionBytes,
                       "the shared segment is counted once")
        XCTAssertLessThan(cache.byteCount, before)
        XCTAssertEqual(cache.retainedTokens, 4 * 120, "each layer still attends over all 120 tokens")
        // Copies keep the sharing and are independent.
        let copy = cache.copy()
        XCTAssertTrue(copy.layers[0].heads[1].shared === copy.layers[1].heads[1].shared)
        XCTAssertFalse(copy.layers[0].heads[1].shared === cache.layers[0].heads[1].shared)
        XCTAssertEqual(copy.byteCount, cache.byteCount)
        // Decoding goes on: new tokens go to each layer's own storage.
        _ = try engine.model.forward(tokens: [5], cache: cache, logits: .lastToken)
        XCTAssertEqual(cache.layers[1].heads[0].count, 31)
        XCTAssertEqual(cache.byteCount, (own + 4) * Self.rowBytes + shared * Self.sharedRowBytes + cache.positionBytes)
    }

    func testAfterEvictionAtEveryRatioBytesFollowOwnAndSharedTokens() throws {
        for ratio in PressTests.ratios {
            let press = try PressRegistry.make("tova+minicache:start=0,angle=180,retain=0.1", ratio: ratio)
            let cache = try prefilled(tokens(120), for: press)
            try press.compress(cache)
            let kept = 120 - Int(120 * ratio)
            var own = 0, shared = 0
            for layer in cache.layers {
                for head in layer.heads {
                    XCTAssertEqual(head.attendedCount, kept, "merging keeps what eviction kept, \(ratio)")
                    own += head.count
                }
            }
            for head in cache.layers[0].heads { shared += head.shared?.count ?? 0 }
            XCTAssertGreaterThan(shared, 0)
            XCTAssertEqual(cache.byteCount, own * Self.rowBytes + shared * Self.sharedRowBytes + cache.positionBytes, "ratio \(ratio)")
            XCTAssertLessThan(cache.byteCount, 4 * kept * Self.perToken, "merging saves on top of eviction")
            _ = try engine.model.forward(tokens: [5], cache: cache, logits: .lastToken)
        }
    }

    func testMergedAttentionEqualsAttentionOverTheReconstructedTokens() throws {
        let tokens = tokens(60)
        let merged = try prefilled(tokens)
        try MiniCachePress(startLayer: 0, interpolation: 0.6, retained: 0.1, maximumAngle: 180).compress(merged)
        // The same tokens written out in full: each layer's own storage holds magnitude × direction.
        let explicit = try prefilled(tokens)
        for h in 0 ..< 2 {
            let segment = try XCTUnwrap(merged.layers[0].heads[h].shared)
            for slot in 0 ..< 2 {
                let head = explicit.layers[slot].heads[h]
                for j in 0 ..< segment.count {
                    let index = try XCTUnwrap(head.positions.firstIndex(of: segment.positions[j]))
                    let token = segment.token(j, slot: slot)
                    head.replace(index, key: token.key, value: token.value)
                }
            }
        }
        // Each layer's attention reads the same as over the written-out tokens (up to f16 rounding of the products).
        var generator = SeededGenerator(seed: 1)
        for l in 0 ..< 2 {
            let queries = (0 ..< 2 * 4 * 16).map { _ in Float(generator.next() % 2001) / 1000 - 1 }
            var a = [Float](repeating: 0, count: 2 * 4 * 16), b = a
            CachedAttention.compute(layer: merged.layers[l], queries: queries, tokens: 2, positions: [30, 70], output: &a)
            CachedAttention.compute(layer: explicit.layers[l], queries: queries, tokens: 2, positions: [30, 70], output: &b)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-3) }
        }
        // Through the whole (random, very sensitive) tiny model the two differ far less than merging moved the logits.
        let full = try engine.model.forward(tokens: [7, 8], cache: try prefilled(tokens), logits: .allTokens)
        let a = try engine.model.forward(tokens: [7, 8], cache: merged.copy(), logits: .allTokens)
        let b = try engine.model.forward(tokens: [7, 8], cache: explicit.copy(), logits: .allTokens)
        let moved = zip(a, full).map { abs($0 - $1) }.max()!, apart = zip(a, b).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(moved, 0.5, "merging changed the logits")
        XCTAssertLessThan(apart, 0.05 * moved)
    }

    func testSharedAttentionKernelsAgreeAtHeadDimension64() throws {
        // d = 64 takes the AVX2 kernels (when the CPU has them); the portable twin must agree.
        let d = 64, tokens = 50, queryHeads = 2
        var generator = SystemRandomNumberGenerator()
        func vector() -> [Float] { (0 ..< d).map { _ in Float.random(in: -1 ... 1, using: &generator) } }
        let rope = RoPE(dimensions: d, base: 10_000)
        let spec = AttentionSpec(headDimension: d, queryHeads: queryHeads, kvHeads: 1, scale: 0.125, rope: rope)
        let layer = LayerCache(spec: spec)
        let shared = SharedTokens(headDimension: d)
        for t in 0 ..< tokens {
            let k = vector(), v = vector()
            if t % 3 == 0 {
                shared.append(keyDirection: MiniCachePress.slerp(k, k, 0), valueDirection: MiniCachePress.slerp(v, v, 0),
                              keyMagnitudes: (1.5, 2), valueMagnitudes: (0.5, 3), position: t)
            } else {
                k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in layer.heads[0].append(key: kp.baseAddress!, value: vp.baseAddress!, position: t) } }
            }
        }
        layer.heads[0].share(shared, slot: 1)
        let queries = (0 ..< 2 * queryHeads).flatMap { _ in vector() }
        let positions = [20, 49]
        func run(portable: Bool) -> [Float] {
            let saved = KernelDispatch.forcePortable
            KernelDispatch.forcePortable = portable
            defer { KernelDispatch.forcePortable = saved }
            var out = [Float](repeating: 0, count: 2 * queryHeads * d)
            CachedAttention.compute(layer: layer, queries: queries, tokens: 2, positions: positions, output: &out)
            return out
        }
        let fast = run(portable: false), portable = run(portable: true)
        XCTAssertEqual(fast, portable, "both kernels read the shared segment bit for bit alike")
        // And both equal attention over explicit tokens (slot 1: key × 2, value × 3).
        let explicit = LayerCache(spec: spec)
        var s = 0, o = 0
        for t in 0 ..< tokens {
            let (k, v): ([Float], [Float])
            if t % 3 == 0 { (k, v) = shared.token(s, slot: 1); s += 1 } else { (k, v) = layer.heads[0].token(o); o += 1 }
            k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in explicit.heads[0].append(key: kp.baseAddress!, value: vp.baseAddress!, position: t) } }
        }
        var reference = [Float](repeating: 0, count: 2 * queryHeads * d)
        CachedAttention.compute(layer: explicit, queries: queries, tokens: 2, positions: positions, output: &reference)
        for (x, y) in zip(fast, reference) { XCTAssertEqual(x, y, accuracy: 2e-3) }
    }

    func testPairsFurtherApartThanTheAngleStayUnmerged() throws {
        let cache = try prefilled(tokens(80))
        let original = cache.copy()
        func angle(_ position: Int, head: Int) -> Float {
            let x = original.layers[0].heads[head].token(position), y = original.layers[1].heads[head].token(position)
            return max(MiniCachePress.angle(x.key, y.key), MiniCachePress.angle(x.value, y.value)) * 180 / .pi
        }
        let angles = (0 ..< 80).map { angle($0, head: 0) }.sorted()
        let limit = angles[40]
        try MiniCachePress(startLayer: 0, retained: 0, maximumAngle: limit).compress(cache)
        for h in 0 ..< 2 {
            let merged = Set(cache.layers[0].heads[h].shared?.positions.map(Int.init) ?? [])
            for p in 0 ..< 80 { XCTAssertEqual(merged.contains(p), angle(p, head: h) <= limit, "position \(p) head \(h)") }
        }
        XCTAssertEqual(cache.layers[0].heads[0].shared?.count, 41)
        XCTAssertThrowsError(try PressRegistry.make("minicache:angle=200", ratio: 0)) { XCTAssertTrue("\($0)".contains("angle"), "\($0)") }
    }

    func testBadParametersAndComposition() throws {
        XCTAssertThrowsError(try PressRegistry.make("minicache:retain=2", ratio: 0)) { XCTAssertTrue("\($0)".contains("retain"), "\($0)") }
        XCTAssertThrowsError(try PressRegistry.make("minicache:t=-1", ratio: 0)) { XCTAssertTrue("\($0)".contains("t: must be in [0, 1]"), "\($0)") }
        XCTAssertThrowsError(try PressRegistry.make("minicache:start=1.5", ratio: 0)) { XCTAssertTrue("\($0)".contains("whole number"), "\($0)") }
        let tooDeep = try prefilled(tokens(20))
        XCTAssertThrowsError(try PressRegistry.make("minicache:start=1", ratio: 0).compress(tooDeep)) {
            XCTAssertTrue("\($0)".contains("no next layer"), "\($0)")
        }
        XCTAssertEqual(tooDeep.byteCount, 4 * (20 * Self.rowBytes + 8), "nothing changed")
        // After an eviction press, only tokens both layers kept can merge; the rest stay in each layer.
        let press = try PressRegistry.make("streaming@0.5+minicache:start=0,retain=0,angle=180", ratio: 0)
        let cache = try prefilled(tokens(100))
        try press.compress(cache)
        for h in 0 ..< 2 {
            let segment = try XCTUnwrap(cache.layers[0].heads[h].shared)
            XCTAssertEqual(segment.count + cache.layers[0].heads[h].count, 50)
            XCTAssertEqual(segment.count, 50, "streaming keeps the same tokens in both layers, so all merge")
        }
        XCTAssertEqual(cache.byteCount, 2 * 50 * Self.sharedRowBytes + cache.positionBytes, "one segment per pair and head")
    }
}

extension HeadCache {
    /// The tokens this head shares with the adjacent layer (tests read MiniCache's storage directly).
    var shared: SharedTokens? { segments.lazy.compactMap { ($0 as? SharedTokenView)?.storage }.first }

    func share(_ tokens: SharedTokens, slot: Int) { attach(SharedTokenView(tokens, slot: slot)) }
}
