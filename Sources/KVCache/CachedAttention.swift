import Kernels

/// Attention of query heads over what a layer's cache retained, as the layer's `AttentionSpec` says, over every
/// segment of every head through `KVSegment` (no storage format is known here).
/// Numerics follow llama.cpp with an f16 cache (flash attention off) so outputs match it bit for bit:
/// queries and softmax weights are rounded to f16; f16×f16 products are exact in f32, so only the order of
/// additions matters: one query token sums like `ggml_vec_dot_f16` (4 accumulators of 8 lanes), a batch of
/// tokens like llamafile's tinyBLAS (1 accumulator of 8 lanes), each with its own final reduction (AVX2 build).
/// The softmax runs over the logits of all segments together; each segment adds its weighted values.
public enum CachedAttention {
    /// - Parameters:
    ///   - queries: [tokens, queryHeads, headDimension], after RoPE.
    ///   - positions: the position of each query token; a query sees retained tokens at positions ≤ its own
    ///     (and, in a sliding-window layer, within the window).
    ///   - output: [tokens, queryHeads, headDimension].
    ///   - kernel: the kernels to use (by default the AVX2 ones when this CPU has them).
    ///   - scratch: reusable working memory (nothing is allocated when it is large enough already).
    ///   - groupQueries: one token over segments that can do so reads each KV head once for its query heads
    ///     (`GroupedDecodeAttention`, same bits); false makes every query head read its KV head itself.
    public static func compute(layer: LayerCache, queries: UnsafePointer<Float>, tokens: Int,
                               positions: UnsafePointer<Int>, output: UnsafeMutablePointer<Float>,
                               kernel: AttentionKernel? = nil, scratch: ScratchBuffer = ScratchBuffer(),
                               groupQueries: Bool = true) {
        let spec = layer.spec
        let kvHeads = spec.kvHeads
        let group = spec.groupSize
        let queryHeads = spec.queryHeads
        let d = spec.headDimension
        let kernel = kernel ?? AttentionKernel.forRows(of: d)
        if tokens == 1 && groupQueries && GroupedDecodeAttention.applies(to: layer) {
            GroupedDecodeAttention.compute(layer: layer, queries: queries, position: positions[0], output: output,
                                           kernel: kernel, scratch: scratch)
            return
        }
        let order: SummationOrder = tokens == 1 ? .vectorDot : .tiled
        let longest = layer.heads.reduce(0) { max($0, $1.attendedCount) }
        let items = kvHeads * tokens * group
        let perChunk = Work.floats(longest: longest, dimension: d)
        let arena = scratch.floats(ParallelFor.chunkCount(items) * perChunk)
        ParallelFor.runChunks(items) { chunk, range in
            let work = Work(arena + chunk * perChunk, longest: longest, dimension: d)
            for item in range {
                let h = item / (tokens * group)
                let t = (item / group) % tokens
                let qh = h * group + item % group
                attendQueryHead(qh, layer: layer, query: queries + (t * queryHeads + qh) * d, position: positions[t],
                                output: output + (t * queryHeads + qh) * d, order: order, kernel: kernel, work: work)
            }
        }
    }

    /// One token of each of several sequences, as `compute` would attend each alone (the same bits): row r's query
    /// heads over `layers[r]`, its queries at `queries + r·queryHeads·d`, at `positions[r]`. The query heads of all
    /// rows share one parallel loop, so sequences decoded together keep both cores busy (one row alone has only
    /// its few query heads to split). Rows whose layer `GroupedDecodeAttention` serves take it, one at a time.
    public static func computeRows(layers: [LayerCache], queries: UnsafePointer<Float>, positions: [Int],
                                   output: UnsafeMutablePointer<Float>, kernel: AttentionKernel? = nil,
                                   scratch: ScratchBuffer = ScratchBuffer()) {
        guard let spec = layers.first?.spec else { return }
        let d = spec.headDimension
        let queryHeads = spec.queryHeads
        let kernel = kernel ?? AttentionKernel.forRows(of: d)
        var rows: [Int] = []
        for (r, layer) in layers.enumerated() {
            precondition(layer.spec.queryHeads == queryHeads && layer.spec.headDimension == d, "rows of one model")
            if GroupedDecodeAttention.applies(to: layer) {
                GroupedDecodeAttention.compute(layer: layer, queries: queries + r * queryHeads * d,
                                               position: positions[r], output: output + r * queryHeads * d,
                                               kernel: kernel, scratch: scratch)
            } else {
                rows.append(r)
            }
        }
        let longest = rows.reduce(0) { longest, r in layers[r].heads.reduce(longest) { max($0, $1.attendedCount) } }
        let items = rows.count * queryHeads
        let perChunk = Work.floats(longest: longest, dimension: d)
        let arena = scratch.floats(ParallelFor.chunkCount(items) * perChunk)
        ParallelFor.runChunks(items) { chunk, range in
            let work = Work(arena + chunk * perChunk, longest: longest, dimension: d)
            for item in range {
                let r = rows[item / queryHeads]
                let qh = item % queryHeads
                let at = (r * queryHeads + qh) * d
                attendQueryHead(qh, layer: layers[r], query: queries + at, position: positions[r],
                                output: output + at, order: .vectorDot, kernel: kernel, work: work)
            }
        }
    }

    /// A parallel chunk's working memory: logits [longest], query [d], lane accumulators [32, d], a later
    /// segment's sum [d], a row [d].
    struct Work {
        let logits: UnsafeMutablePointer<Float>
        let query: UnsafeMutablePointer<Float>
        let lanes: UnsafeMutablePointer<Float>
        let extra: UnsafeMutablePointer<Float>
        let row: UnsafeMutablePointer<Float>

        static func floats(longest: Int, dimension d: Int) -> Int { longest + 35 * d }

        init(_ base: UnsafeMutablePointer<Float>, longest: Int, dimension d: Int) {
            logits = base
            query = logits + longest
            lanes = query + d
            extra = lanes + 32 * d
            row = extra + d
        }
    }

    /// Query head `qh` of one token at `position` over every segment of its KV head.
    @inline(__always)
    static func attendQueryHead(_ qh: Int, layer: LayerCache, query q: UnsafePointer<Float>, position: Int,
                                output out: UnsafeMutablePointer<Float>, order: SummationOrder,
                                kernel: AttentionKernel, work: Work) {
        let spec = layer.spec
        let d = spec.headDimension
        let segments = layer.heads[qh / spec.groupSize].segments
        let (logits, query, lanes, extra, row) = (work.logits, work.query, work.lanes, work.extra, work.row)
        for i in 0 ..< d { query[i] = HalfConversion.roundedToHalf(q[i]) }
        // Each segment's visible tokens, in the order their logits are laid out.
        var visible = 0
        for segment in segments {
            let seen = visibleTokens(segment, query: position, spec: spec)
            segment.logits(query: query, tokens: seen, order: order, kernel: kernel, scratch: row,
                           into: logits + visible)
            visible += seen.count
        }
        guard visible > 0 else {
            out.update(repeating: 0, count: d)
            return
        }
        spec.softmax(logits, count: visible)
        var offset = 0
        for (s, segment) in segments.enumerated() {
            let seen = visibleTokens(segment, query: position, spec: spec)
            // The first segment writes the output (even with no visible token); later ones add to it.
            if s == 0 {
                segment.weightedSum(weights: logits + offset, tokens: seen, order: order, kernel: kernel,
                                    lanes: lanes, scratch: row, into: out)
            } else if !seen.isEmpty {
                segment.weightedSum(weights: logits + offset, tokens: seen, order: order, kernel: kernel,
                                    lanes: lanes, scratch: row, into: extra)
                for i in 0 ..< d { out[i] += extra[i] }
            }
            offset += seen.count
        }
    }

    /// The tokens of `segment` a query at `position` sees.
    @inline(__always)
    static func visibleTokens(_ segment: any KVSegment, query position: Int, spec: AttentionSpec) -> Range<Int> {
        let end = segment.visibleCount(upTo: position)
        guard spec.slidingWindow != nil else { return 0 ..< end }
        let start = segment.visibleCount(upTo: spec.firstVisible(from: position) - 1)
        return start ..< end
    }
}
