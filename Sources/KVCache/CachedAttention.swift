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
            let own = head.count, shared = head.shared?.count ?? 0, n = own + shared
            guard n > 0 else { continue }
            // Decode this head's keys and values once (shared tokens with this layer's magnitudes, after its own);
            // every query of the group reuses them.
            let keys = UnsafeMutablePointer<Float>.allocate(capacity: n * d)     // [n, d]
            let values = UnsafeMutablePointer<Float>.allocate(capacity: n * d)   // [n, d]
            defer { keys.deallocate(); values.deallocate() }
            head.withStorage { k, v in
                HalfConversion.toFloat(k, keys, count: own * d)
                HalfConversion.toFloat(v, values, count: own * d)
            }
            // Shared tokens: directions here; a score is this layer's key magnitude times the direction's score,
            // a weight is multiplied by the value magnitude (as the AVX2 path).
            head.shared?.withDirections { k, v in
                HalfConversion.toFloat(k, keys + own * d, count: shared * d)
                HalfConversion.toFloat(v, values + own * d, count: shared * d)
            }
            let keyMagnitudes = (0 ..< shared).map { head.shared!.keyMagnitude($0, slot: head.sharedSlot) }
            let valueMagnitudes = (0 ..< shared).map { head.shared!.valueMagnitude($0, slot: head.sharedSlot) }
            // Retained positions ascend within each part, so a query's visible tokens are a prefix of each.
            let retainedPositions = head.positions, sharedPositions = head.shared?.positions ?? []
            ParallelFor.run(tokens * group, minimumChunk: 4) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: n)
                let query = UnsafeMutablePointer<Float>.allocate(capacity: d)
                let lanes = UnsafeMutablePointer<Float>.allocate(capacity: order.accumulators * d)  // [accumulators, d]
                let extra = UnsafeMutablePointer<Float>.allocate(capacity: d)
                defer { scores.deallocate(); query.deallocate(); lanes.deallocate(); extra.deallocate() }
                for item in range {
                    let t = item / group, qh = h * group + item % group
                    let visibleOwn = visibleCount(retainedPositions, upTo: positions[t])
                    let visibleShared = visibleCount(sharedPositions, upTo: positions[t])
                    let out = output + (t * queryHeads + qh) * d
                    let q = queries + (t * queryHeads + qh) * d
                    for i in 0 ..< d { query[i] = HalfConversion.roundedToHalf(q[i]) }
                    for j in 0 ..< visibleOwn { scores[j] = order.dot(query, keys + j * d, count: d) }
                    for j in 0 ..< visibleShared { scores[visibleOwn + j] = keyMagnitudes[j] * order.dot(query, keys + (own + j) * d, count: d) }
                    Softmax.apply(scores, count: visibleOwn + visibleShared, scale: scale)
                    weightedSum(scores, values, count: visibleOwn, dimension: d, order: order, lanes: lanes, output: out)
                    guard visibleShared > 0 else { continue }
                    for j in 0 ..< visibleShared { scores[visibleOwn + j] *= valueMagnitudes[j] }
                    weightedSum(scores + visibleOwn, values + own * d, count: visibleShared, dimension: d, order: order, lanes: lanes, output: extra)
                    for i in 0 ..< d { out[i] += extra[i] }
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
        for head in layer.heads { longest = max(longest, head.attendedCount) }
        let orderCode: Int32 = order == .tiled ? 0 : 1
        let items = kvHeads * tokens * group
        // Per chunk: scores [longest], query [d], lane accumulators [32, d], shared tokens' sum [d].
        let perChunk = longest + 34 * d
        let arena = scratch.floats(ParallelFor.chunkCount(items) * perChunk)
        ParallelFor.runChunks(items) { chunk, range in
            let scores = arena + chunk * perChunk, query = scores + longest, lanes = query + d, extra = lanes + 32 * d
            for item in range {
                let h = item / (tokens * group), t = (item / group) % tokens, qh = h * group + item % group
                let head = layer.heads[h]
                let visibleOwn = visibleCount(head.positions, upTo: positions[t])
                let visibleShared = head.shared.map { visibleCount($0.positions, upTo: positions[t]) } ?? 0
                let out = output + (t * queryHeads + qh) * d
                guard visibleOwn + visibleShared > 0 else { out.update(repeating: 0, count: d); continue }
                let q = queries + (t * queryHeads + qh) * d
                for i in 0 ..< d { query[i] = HalfConversion.roundedToHalf(q[i]) }
                head.withStorage { k, _ in
                    tp_scores_f16(query, UnsafeRawPointer(k).assumingMemoryBound(to: UInt16.self), Int32(visibleOwn), Int32(d), orderCode, scores)
                }
                if let shared = head.shared, visibleShared > 0 {
                    // Shared tokens: a score is this layer's key magnitude times the score of the direction.
                    let slot = head.sharedSlot, sharedScores = scores + visibleOwn
                    shared.withDirections { k, _ in
                        tp_scores_f16(query, UnsafeRawPointer(k).assumingMemoryBound(to: UInt16.self), Int32(visibleShared), Int32(d), orderCode, sharedScores)
                    }
                    for j in 0 ..< visibleShared { sharedScores[j] *= shared.keyMagnitude(j, slot: slot) }
                }
                tp_softmax(scores, Int32(visibleOwn + visibleShared), scale)
                head.withStorage { _, v in
                    tp_weighted_sum_f16(scores, UnsafeRawPointer(v).assumingMemoryBound(to: UInt16.self), Int32(visibleOwn), Int32(d), orderCode, lanes, out)
                }
                if let shared = head.shared, visibleShared > 0 {
                    let slot = head.sharedSlot, sharedWeights = scores + visibleOwn
                    for j in 0 ..< visibleShared { sharedWeights[j] *= shared.valueMagnitude(j, slot: slot) }
                    shared.withDirections { _, v in
                        tp_weighted_sum_f16(sharedWeights, UnsafeRawPointer(v).assumingMemoryBound(to: UInt16.self), Int32(visibleShared), Int32(d),
                                            orderCode, lanes, extra)
                    }
                    for i in 0 ..< d { out[i] += extra[i] }
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
