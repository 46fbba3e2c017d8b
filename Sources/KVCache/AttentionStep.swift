import Kernels

/// The attention step every model calls once per layer: rotate queries and keys as the layer's `AttentionSpec`
/// says, append the keys and values to the cache, attend over its segments, and record the statistics a press
/// asked for. A model file holds only its weights and block structure; what attention needs lives here.
/// One instance serves one stream at a time (it owns scratch memory and RoPE tables).
public final class AttentionStep {
    private let scratch = ScratchBuffer()
    private var positions: [Int] = []
    /// cos/sin tables of the current batch, per RoPE (a model may give its layers different ones).
    private var tables: [RoPE: (cos: [Float], sin: [Float])] = [:]
    private var tablesStart = -1
    private var tablesCount = 0

    public init() {}

    /// - Parameters:
    ///   - queries: [tokens, queryHeads, headDimension] before RoPE; rotated in place.
    ///   - keys: [tokens, kvHeads, headDimension] before RoPE; rotated in place, then cached.
    ///   - values: [tokens, kvHeads, headDimension], cached.
    ///   - output: [tokens, queryHeads, headDimension], the attention output.
    /// The tokens are at positions `cache.nextPosition ..< cache.nextPosition + tokens`; the caller advances
    /// `nextPosition` once every layer has run.
    public func attend(layer: Int, cache: KVCache, queries: UnsafeMutablePointer<Float>,
                       keys: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>, tokens: Int,
                       output: UnsafeMutablePointer<Float>) {
        let layerCache = cache.layers[layer]
        let spec = layerCache.spec
        let start = cache.nextPosition
        let statistics = cache.statistics
        statistics?.observeUnrotated(layer: layer, queries: queries, tokens: tokens, spec: spec, firstPosition: start)
        rotate(queries: queries, keys: keys, tokens: tokens, start: start, spec: spec)
        layerCache.append(keys: keys, values: values, tokens: tokens, firstPosition: start)
        if positions.count != tokens || positions.first != start {
            positions = (0 ..< tokens).map { start + $0 }
        }
        positions.withUnsafeBufferPointer { p in
            CachedAttention.compute(layer: layerCache, queries: queries, tokens: tokens, positions: p.baseAddress!,
                                    output: output, scratch: scratch)
        }
        statistics?.observe(layer: layer, queries: queries, tokens: tokens, firstPosition: start, cache: layerCache)
    }

    /// One token of each of several sequences, row r over `caches[r]` (its queries at `queries + r·queryHeads·d`,
    /// its keys and values at `r·kvHeads·d`, its output beside its queries): each as `attend` would do it alone,
    /// with the attention of all rows in one parallel loop (`CachedAttention.computeRows`).
    public func attendRows(layer: Int, caches: [KVCache], queries: UnsafeMutablePointer<Float>,
                           keys: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>,
                           output: UnsafeMutablePointer<Float>) {
        guard let spec = caches.first?.layers[layer].spec else { return }
        let qWidth = spec.queryHeads * spec.headDimension
        let kvWidth = spec.kvHeads * spec.headDimension
        for (r, cache) in caches.enumerated() {
            let start = cache.nextPosition
            let (q, k) = (queries + r * qWidth, keys + r * kvWidth)
            cache.statistics?.observeUnrotated(layer: layer, queries: q, tokens: 1, spec: spec, firstPosition: start)
            rotate(queries: q, keys: k, tokens: 1, start: start, spec: spec)
            cache.layers[layer].append(keys: k, values: values + r * kvWidth, tokens: 1, firstPosition: start)
        }
        CachedAttention.computeRows(layers: caches.map { $0.layers[layer] }, queries: queries,
                                    positions: caches.map(\.nextPosition), output: output, scratch: scratch)
        for (r, cache) in caches.enumerated() {
            cache.statistics?.observe(layer: layer, queries: queries + r * qWidth, tokens: 1,
                                      firstPosition: cache.nextPosition, cache: cache.layers[layer])
        }
    }

    /// Rotates every token's query and key heads by its position.
    private func rotate(queries: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, tokens: Int,
                        start: Int, spec: AttentionSpec) {
        let rope = spec.rope
        let half = rope.dimensions / 2
        let table = self.table(rope, start: start, tokens: tokens)
        let d = spec.headDimension
        table.cos.withUnsafeBufferPointer { cos in
            table.sin.withUnsafeBufferPointer { sin in
                for t in 0 ..< tokens {
                    let c = cos.baseAddress! + t * half
                    let s = sin.baseAddress! + t * half
                    rope.rotate(queries + t * spec.queryHeads * d, heads: spec.queryHeads, headDimension: d, cos: c, sin: s)
                    rope.rotate(keys + t * spec.kvHeads * d, heads: spec.kvHeads, headDimension: d, cos: c, sin: s)
                }
            }
        }
    }

    /// cos/sin of `rope` for positions `start ..< start + tokens`, [tokens, dimensions/2], made once per batch.
    private func table(_ rope: RoPE, start: Int, tokens: Int) -> (cos: [Float], sin: [Float]) {
        if start != tablesStart || tokens != tablesCount {
            tables.removeAll(keepingCapacity: true)
            tablesStart = start
            tablesCount = tokens
        }
        if let made = tables[rope] { return made }
        let half = rope.dimensions / 2
        var cos = [Float](repeating: 0, count: tokens * half)
        var sin = cos
        cos.withUnsafeMutableBufferPointer { c in
            sin.withUnsafeMutableBufferPointer { s in
                for t in 0 ..< tokens {
                    rope.table(position: start + t, cos: c.baseAddress! + t * half, sin: s.baseAddress! + t * half)
                }
            }
        }
        tables[rope] = (cos, sin)
        return (cos, sin)
    }
}
