import Kernels

/// Scaled dot-product attention of query heads over what a layer's cache retained.
/// As llama.cpp with an f16 cache: queries are rounded to f16 before q·k, and the softmax weights to f16
/// before they weight the values.
public enum CachedAttention {
    /// - Parameters:
    ///   - queries: [tokens, queryHeads, headDimension], after RoPE.
    ///   - output: [tokens, queryHeads, headDimension].
    ///   - positions: the position of each query token; a query sees retained tokens at positions ≤ its own.
    public static func compute(layer: LayerCache, queries: UnsafePointer<Float>, tokens: Int, queryHeads: Int,
                               positions: UnsafePointer<Int>, scale: Float, output: UnsafeMutablePointer<Float>) {
        let kvHeads = layer.heads.count
        let group = queryHeads / kvHeads
        let d = layer.heads.first?.headDimension ?? 0
        for (h, head) in layer.heads.enumerated() {
            let n = head.count
            guard n > 0 else { continue }
            // Dequantize this head's keys and values once; every query of the group reuses them.
            let keys = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
            let values = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
            defer { keys.deallocate(); values.deallocate() }
            head.withStorage { k, v in
                HalfConversion.toFloat(k, keys, count: n * d)
                HalfConversion.toFloat(v, values, count: n * d)
            }
            // Retained positions ascend, so a query's visible tokens are a prefix.
            let retainedPositions = head.positions
            let work = tokens * group
            ParallelFor.run(work, minimumChunk: 4) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: n)
                let query = UnsafeMutablePointer<Float>.allocate(capacity: d)
                defer { scores.deallocate(); query.deallocate() }
                for item in range {
                    let t = item / group, qh = h * group + item % group
                    let visible = visibleCount(retainedPositions, upTo: positions[t])
                    let q = queries + (t * queryHeads + qh) * d
                    for i in 0 ..< d { query[i] = Float(Float16(q[i])) }
                    for j in 0 ..< visible { scores[j] = VectorMath.dot(query, keys + j * d, count: d) }
                    Softmax.apply(scores, count: visible, scale: scale)
                    let out = output + (t * queryHeads + qh) * d
                    out.update(repeating: 0, count: d)
                    for j in 0 ..< visible {
                        VectorMath.axpy(Float(Float16(scores[j])), values + j * d, out, count: d)
                    }
                }
            }
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
