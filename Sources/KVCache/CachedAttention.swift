import CKernels
import Kernels

/// Scaled dot-product attention of query heads over what a layer's cache retained.
/// Numerics follow llama.cpp with an f16 cache (flash attention off) so outputs match it bit for bit:
/// queries and softmax weights are rounded to f16; f16×f16 products are exact in f32, so only the order of
/// additions matters: one query token sums like `ggml_vec_dot_f16` (4 accumulators of 8 lanes), a batch of
/// tokens like llamafile's tinyBLAS (1 accumulator of 8 lanes), each with its own final reduction (AVX2 build).
public enum CachedAttention {
    /// - Parameters:
    ///   - queries: [tokens, queryHeads, headDimension], after RoPE.
    ///   - output: [tokens, queryHeads, headDimension].
    ///   - positions: the position of each query token; a query sees retained tokens at positions ≤ its own.
    ///   - scratch: reusable working memory (the AVX2 path allocates nothing when it is large enough already).
    public static func compute(layer: LayerCache, queries: UnsafePointer<Float>, tokens: Int, queryHeads: Int,
                               positions: UnsafePointer<Int>, scale: Float, output: UnsafeMutablePointer<Float>,
                               scratch: ScratchBuffer = ScratchBuffer()) {
        let kvHeads = layer.heads.count
        let group = queryHeads / kvHeads
        let d = layer.heads.first?.headDimension ?? 0
        let order: SummationOrder = tokens == 1 ? .vectorDot : .tiled
        if KernelDispatch.useAVX2 && d % 32 == 0 {
            computeAVX2(layer: layer, queries: queries, tokens: tokens, queryHeads: queryHeads, positions: positions,
                        scale: scale, order: order, output: output, scratch: scratch)
            return
        }
        for (h, head) in layer.heads.enumerated() {
            let n = head.count
            guard n > 0 else { continue }
            // Decode this head's keys and values once; every query of the group reuses them.
            let keys = UnsafeMutablePointer<Float>.allocate(capacity: n * d)     // [n, d]
            let values = UnsafeMutablePointer<Float>.allocate(capacity: n * d)   // [n, d]
            defer { keys.deallocate(); values.deallocate() }
            head.withStorage { k, v in
                HalfConversion.toFloat(k, keys, count: n * d)
                HalfConversion.toFloat(v, values, count: n * d)
            }
            // Retained positions ascend, so a query's visible tokens are a prefix.
            let retainedPositions = head.positions
            ParallelFor.run(tokens * group, minimumChunk: 4) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: n)
                let query = UnsafeMutablePointer<Float>.allocate(capacity: d)
                let lanes = UnsafeMutablePointer<Float>.allocate(capacity: order.accumulators * d)  // [accumulators, d]
                defer { scores.deallocate(); query.deallocate(); lanes.deallocate() }
                for item in range {
                    let t = item / group, qh = h * group + item % group
                    let visible = visibleCount(retainedPositions, upTo: positions[t])
                    let q = queries + (t * queryHeads + qh) * d
                    for i in 0 ..< d { query[i] = HalfConversion.roundedToHalf(q[i]) }
                    for j in 0 ..< visible { scores[j] = order.dot(query, keys + j * d, count: d) }
                    Softmax.apply(scores, count: visible, scale: scale)
                    weightedSum(scores, values, count: visible, dimension: d, order: order, lanes: lanes,
                                output: output + (t * queryHeads + qh) * d)
                }
            }
        }
    }

    /// The AVX2 path: reads the f16 cache directly; one work item per (KV head, token, query head of its group),
    /// so even a single decoded token spreads over all cores.
    static func computeAVX2(layer: LayerCache, queries: UnsafePointer<Float>, tokens: Int, queryHeads: Int,
                            positions: UnsafePointer<Int>, scale: Float, order: SummationOrder, output: UnsafeMutablePointer<Float>,
                            scratch: ScratchBuffer) {
        let kvHeads = layer.heads.count, group = queryHeads / kvHeads
        let d = layer.heads[0].headDimension
        var longest = 0
        for head in layer.heads { longest = max(longest, head.count) }
        let orderCode: Int32 = order == .tiled ? 0 : 1
        let items = kvHeads * tokens * group
        // Per chunk: scores [longest], query [d], lane accumulators [32, d].
        let perChunk = longest + 33 * d
        let arena = scratch.floats(ParallelFor.chunkCount(items) * perChunk)
        ParallelFor.runChunks(items) { chunk, range in
            let scores = arena + chunk * perChunk, query = scores + longest, lanes = query + d
            for item in range {
                let h = item / (tokens * group), t = (item / group) % tokens, qh = h * group + item % group
                let head = layer.heads[h]
                let visible = visibleCount(head.positions, upTo: positions[t])
                let out = output + (t * queryHeads + qh) * d
                guard visible > 0 else { out.update(repeating: 0, count: d); continue }
                let q = queries + (t * queryHeads + qh) * d
                for i in 0 ..< d { query[i] = HalfConversion.roundedToHalf(q[i]) }
                head.withStorage { k, v in
                    let keys = UnsafeRawPointer(k).assumingMemoryBound(to: UInt16.self)
                    let values = UnsafeRawPointer(v).assumingMemoryBound(to: UInt16.self)
                    tp_scores_f16(query, keys, Int32(visible), Int32(d), orderCode, scores)
                    tp_softmax(scores, Int32(visible), scale)
                    tp_weighted_sum_f16(scores, values, Int32(visible), Int32(d), orderCode, lanes, out)
                }
            }
        }
    }

    /// out[i] = Σ_j f16(w[j])·v[j][i], accumulating token j into accumulator `j mod accumulators` (vectorized over i).
    static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafePointer<Float>, count: Int, dimension d: Int,
                            order: SummationOrder, lanes: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let accumulators = order.accumulators
        lanes.update(repeating: 0, count: accumulators * d)
        for j in 0 ..< count {
            VectorMath.axpy(HalfConversion.roundedToHalf(weights[j]), values + j * d, lanes + (j % accumulators) * d, count: d)
        }
        var gathered = [Float](repeating: 0, count: accumulators)
        for i in 0 ..< d {
            for a in 0 ..< accumulators { gathered[a] = lanes[a * d + i] }
            output[i] = order.combine(gathered)
        }
    }

    /// Number of leading retained tokens whose position is ≤ `position` (binary search).
    static func visibleCount(_ positions: ContiguousArray<Int32>, upTo position: Int) -> Int {
        var low = 0, high = positions.count
        while low < high {
            let mid = (low + high) / 2
            if Int(positions[mid]) <= position { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// The two summation orders of llama.cpp's f16 dot products on AVX2 (see `CachedAttention`).
enum SummationOrder {
    /// `ggml_vec_dot_f16`: element e goes to accumulator e mod 32 (4 vectors × 8 lanes).
    case vectorDot
    /// tinyBLAS: element e goes to lane e mod 8 of one vector.
    case tiled

    var accumulators: Int { self == .vectorDot ? 32 : 8 }

    /// Σ a[i]·b[i] (inputs already f16-exact, so every product is exact).
    @inline(__always)
    func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        @inline(__always) func product(_ i: Int) -> SIMD8<Float> {
            if i + 8 <= count {
                return ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            }
            var v = SIMD8<Float>()
            for k in 0 ..< max(0, count - i) { v[k] = a[i + k] * b[i + k] }
            return v
        }
        switch self {
        case .tiled:
            var acc = SIMD8<Float>()
            var i = 0
            while i < count { acc += product(i); i += 8 }
            return HorizontalSum.of8(acc)
        case .vectorDot:
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
            var i = 0
            while i < count {
                s0 += product(i)
                s1 += product(i + 8)
                s2 += product(i + 16)
                s3 += product(i + 24)
                i += 32
            }
            return HorizontalSum.ofFour8(s0, s1, s2, s3)
        }
    }

    /// Reduces the accumulators (32 or 8 values, in accumulator order) to one sum.
    func combine(_ a: [Float]) -> Float {
        switch self {
        case .tiled:
            return HorizontalSum.of8(SIMD8(a[0 ..< 8]))
        case .vectorDot:
            return HorizontalSum.ofFour8(SIMD8(a[0 ..< 8]), SIMD8(a[8 ..< 16]), SIMD8(a[16 ..< 24]), SIMD8(a[24 ..< 32]))
        }
    }
}
