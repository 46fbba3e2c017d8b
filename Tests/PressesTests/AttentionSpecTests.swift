import Kernels
import KVCache
import XCTest

/// What `AttentionSpec` lets a model say that llama does not: a scale of its own, a logit soft-cap, a sliding
/// window and NEOX-layout RoPE. Attention over the cache must follow each, on both kernel paths.
final class AttentionSpecTests: XCTestCase {
    static let d = 32
    static let tokens = 12

    /// Deterministic values in [-1, 1].
    static func values(_ count: Int, seed: Int) -> [Float] {
        (0 ..< count).map { Float(((($0 + 1) * 7919 + seed * 104_729) % 2001) - 1000) / 1000 }
    }

    /// The output of every query over the cache, by `CachedAttention` with `kernel`.
    static func attend(spec: AttentionSpec, kernel: AttentionKernel) -> (output: [Float], keys: [Float], values: [Float],
                                                                         queries: [Float]) {
        let cache = KVCache(specs: [spec])
        let keys = values(tokens * spec.kvHeads * d, seed: 1)
        let values = values(tokens * spec.kvHeads * d, seed: 2)
        let queries = Self.values(tokens * spec.queryHeads * d, seed: 3)
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                cache.layers[0].append(keys: k.baseAddress!, values: v.baseAddress!, tokens: tokens, firstPosition: 0)
            }
        }
        var output = [Float](repeating: 0, count: tokens * spec.queryHeads * d)
        let positions = Array(0 ..< tokens)
        queries.withUnsafeBufferPointer { q in
            positions.withUnsafeBufferPointer { p in
                output.withUnsafeMutableBufferPointer { o in
                    CachedAttention.compute(layer: cache.layers[0], queries: q.baseAddress!, tokens: tokens,
                                            positions: p.baseAddress!, output: o.baseAddress!, kernel: kernel)
                }
            }
        }
        return (output, keys, values, queries)
    }

    /// The same in double precision from the definition (keys and values rounded to f16, as the cache stores them).
    static func reference(spec: AttentionSpec, keys: [Float], values: [Float], queries: [Float]) -> [Float] {
        let f16: (Float) -> Double = { Double(Float(Float16($0))) }
        var output = [Float](repeating: 0, count: queries.count)
        for t in 0 ..< tokens {
            let first = max(0, spec.slidingWindow.map { t - $0 + 1 } ?? 0)
            for h in 0 ..< spec.queryHeads {
                let kv = h / spec.groupSize
                let q = (0 ..< d).map { Double(queries[(t * spec.queryHeads + h) * d + $0]) }
                var logits: [Double] = []
                for j in first ... t {
                    let k = (0 ..< d).map { f16(keys[(j * spec.kvHeads + kv) * d + $0]) }
                    var z = zip(q, k).reduce(0) { $0 + $1.0 * $1.1 } * Double(spec.scale)
                    if let cap = spec.logitSoftCap { z = Double(cap) * tanh(z / Double(cap)) }
                    logits.append(z)
                }
                let top = logits.max()!
                let weights = logits.map { exp($0 - top) }
                let total = weights.reduce(0, +)
                for i in 0 ..< d {
                    var sum = 0.0
                    for (n, j) in (first ... t).enumerated() {
                        sum += weights[n] / total * f16(values[(j * spec.kvHeads + kv) * d + i])
                    }
                    output[(t * spec.queryHeads + h) * d + i] = Float(sum)
                }
            }
        }
        return output
    }

    static var kernels: [AttentionKernel] { KernelDispatch.useAVX2 ? [.avx2, .portable] : [.portable] }

    func testSlidingWindowSoftCapAndScaleFollowTheDefinition() {
        let rope = RoPE(dimensions: Self.d, base: 10_000, layout: .neoxHalves)
        let specs = [
            AttentionSpec(headDimension: Self.d, queryHeads: 4, kvHeads: 2, scale: 0.9, rope: rope, slidingWindow: 4,
                          logitSoftCap: 2),
            AttentionSpec(headDimension: Self.d, queryHeads: 4, kvHeads: 2, scale: 0.9, rope: rope, slidingWindow: 5),
            AttentionSpec(headDimension: Self.d, queryHeads: 2, kvHeads: 2, scale: 0.7, rope: rope, logitSoftCap: 1.5),
            .scaledDotProduct(headDimension: Self.d, queryHeads: 2, kvHeads: 1, rope: rope),
        ]
        for spec in specs {
            for kernel in Self.kernels {
                let run = Self.attend(spec: spec, kernel: kernel)
                let want = Self.reference(spec: spec, keys: run.keys, values: run.values, queries: run.queries)
                let error = zip(run.output, want).map { abs($0 - $1) }.max()!
                // Queries and weights are rounded to f16 inside the kernels: a few 1e-3 at most on values ≤ 1.
                XCTAssertLessThan(error, 4e-3, "\(spec) \(kernel)")
            }
        }
        // The window and the cap really change the result (the reference is not trivially met).
        let plain = AttentionSpec(headDimension: Self.d, queryHeads: 4, kvHeads: 2, scale: 0.9, rope: rope)
        let windowed = Self.attend(spec: specs[1], kernel: .portable).output
        let full = Self.attend(spec: plain, kernel: .portable).output
        XCTAssertGreaterThan(zip(windowed, full).map { abs($0 - $1) }.max()!, 0.05)
        let capped = Self.attend(spec: specs[0], kernel: .portable).output
        XCTAssertGreaterThan(zip(capped, windowed).map { abs($0 - $1) }.max()!, 0.01)
    }

    /// NEOX RoPE turns dimensions i and i + d/2 (adjacent pairs turn 2i and 2i + 1); either way the logit of a
    /// rotated query and key depends only on how far apart their positions are.
    func testNeoxLayoutRotatesHalvesAndKeepsRelativePositions() {
        let d = 8
        for layout in [RoPELayout.adjacentPairs, .neoxHalves] {
            let rope = RoPE(dimensions: d, base: 100, layout: layout)
            func rotated(_ x: [Float], at position: Int) -> [Float] {
                var cos = [Float](repeating: 0, count: d / 2)
                var sin = cos
                rope.table(position: position, cos: &cos, sin: &sin)
                var y = x
                y.withUnsafeMutableBufferPointer {
                    rope.rotate($0.baseAddress!, heads: 1, headDimension: d, cos: cos, sin: sin)
                }
                return y
            }
            // A unit vector on dimension 0 turns into the plane of dimension 0 and its partner.
            let turned = rotated([1, 0, 0, 0, 0, 0, 0, 0], at: 1)
            let partner = layout == .adjacentPairs ? 1 : d / 2
            XCTAssertEqual(turned[partner], Float(Foundation.sin(1.0)), accuracy: 1e-6, "\(layout)")
            XCTAssertEqual(turned.enumerated().filter { $0.offset != 0 && $0.offset != partner }.map(\.element).max(), 0)
            let q = Self.values(d, seed: 5)
            let k = Self.values(d, seed: 6)
            let near = zip(rotated(q, at: 7), rotated(k, at: 3)).reduce(0) { $0 + $1.0 * $1.1 }
            let far = zip(rotated(q, at: 107), rotated(k, at: 103)).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(near, far, accuracy: 1e-4, "\(layout)")
        }
    }
}
