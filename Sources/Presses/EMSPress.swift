// Based on: EMS: Adaptive Evict-then-Merge Strategy for Head-wise KV Cache Compression Based on Global-Local Importance (arXiv 2412.08521).
import Kernels
import KVCache

/// Scores tokens by a global-local importance — the attention accumulated from every query so far (normalized
/// by how many queries could see the token) mixed with the attention of the last `window` queries — keeps the
/// top per head, and instead of losing the others merges each into the kept token whose key is most similar
/// (cosine), as a score-weighted average of keys and values. The head keeps exactly its budget of entries, so
/// bytes are those of the kept count; nothing else is stored.
public struct EMSPress: KVPress {
    public let compressionRatio: Double
    public let window: Int
    public let localWeight: Float
    public var description: String { "ems@\(compressionRatio)" }
    public var needs: AttentionNeeds { AttentionNeeds(window: window, accumulations: [.attention(decay: 1)]) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let window = 32
        public static let localWeight: Float = 0.5
    }

    public init(compressionRatio: Double, window: Int = Defaults.window,
                localWeight: Float = Defaults.localWeight) throws {
        guard window > 0 else { throw PressError.invalidParameter(name: "window", reason: "must be positive, got \(window)") }
        guard (0 ... 1).contains(localWeight) else {
            throw PressError.invalidParameter(name: "local", reason: "must be in [0, 1], got \(localWeight)")
        }
        self.compressionRatio = compressionRatio
        self.window = window
        self.localWeight = localWeight
    }

    /// Global-local importance of every token head `head` of `layer` retains.
    public func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        let statistics = try AttentionScoring.statistics(cache, for: self)
        let kv = cache.layers[layer].heads[head], n = kv.count
        let sums = statistics.accumulated(.attention(decay: 1), layer: layer, head: head, count: n)
        let last = cache.nextPosition - 1
        let positions = kv.positions  // built from the segments on every read: once, not per token
        let global = (0 ..< n).map { sums[$0] / Float(max(1, last - Int(positions[$0]) + 1)) }
        let local = try AttentionScoring.windowAttention(cache, layer: layer, head: head,
                                                         queryHeads: cache.layers[layer].spec.queryHeads(of: head),
                                                         window: window, press: self)
        let g = global.max() ?? 1, l = local.max() ?? 1
        return (0 ..< n).map { (1 - localWeight) * global[$0] / max(g, 1e-12) + localWeight * local[$0] / max(l, 1e-12) }
    }

    public func compress(_ cache: KVCache) throws {
        guard compressionRatio > 0 else { return }
        // Heads merge independently, in parallel, a few layers at a time: one layer's heads alone (SmolLM2: 3)
        // leave a core idle for a third of the merge; a layer's scores do not depend on another layer's merges.
        // The cache is then changed one head at a time.
        let layersTogether = 4
        for firstLayer in Swift.stride(from: 0, to: cache.layers.count, by: layersTogether) {
            let layers = firstLayer ..< min(firstLayer + layersTogether, cache.layers.count)
            let heads = layers.flatMap { l in cache.layers[l].heads.indices.map { (layer: l, head: $0) } }
            // Scores do not depend on the ratio: copies of one cache at several ratios share them (`ScoreMemo`).
            let byLayer = try layers.map { l in
                try cache.sharedScores("ems window=\(window) local=\(localWeight)", layer: l) {
                    try cache.layers[l].heads.indices.map { try scores(layer: l, head: $0, cache: cache) }
                }
            }
            let all = heads.map { byLayer[$0.layer - firstLayer][$0.head] }
            var plans = [(kept: [Int], tokens: [(key: [Float], value: [Float])])?](repeating: nil, count: heads.count)
            plans.withUnsafeMutableBufferPointer { plans in
                ParallelFor.run(heads.count) { range in
                    for i in range {
                        plans[i] = merge(cache.layers[heads[i].layer].heads[heads[i].head], scores: all[i])
                    }
                }
            }
            for (i, plan) in plans.enumerated() {
                guard let plan else { continue }
                let (l, h) = heads[i]
                cache.retain(layer: l, head: h, indices: plan.kept)
                for (k, t) in plan.tokens.enumerated() {
                    cache.layers[l].heads[h].replace(k, key: t.key, value: t.value)
                }
            }
        }
    }

    /// The tokens `head` keeps and their merged keys and values (nil when it keeps everything).
    func merge(_ head: HeadCache, scores: [Float]) -> (kept: [Int], tokens: [(key: [Float], value: [Float])])? {
        let n = head.count, keep = Budget.kept(n, ratio: compressionRatio)
        guard keep < n else { return nil }
        let kept = TopK.indices(of: scores, count: keep), isKept = Set(kept)
        var merged = kept.map { j -> (key: [Float], value: [Float], weight: Float) in
            let t = head.token(j)
            return (t.key, t.value, max(scores[j], 1e-6))
        }
        // Kept keys' directions by columns ([d, stride], zero-padded to whole 16-row blocks), so the nearest kept
        // token of every evicted one is found 16 kept tokens per SIMD step (each similarity bit for bit
        // `VectorMath.dot`'s). It depends only on the kept keys as they were, not on the merges, so it comes first.
        let d = head.headDimension
        let stride = (keep + 15) / 16 * 16
        var columns = [Float](repeating: 0, count: d * stride)
        for (k, token) in merged.enumerated() {
            for (i, x) in normalized(token.key).enumerated() { columns[i * stride + k] = x }
        }
        let evicted = (0 ..< n).filter { !isKept.contains($0) }
        let tokens = evicted.map { head.token($0) }
        let units = tokens.flatMap { normalized($0.key) }
        var nearest = [Int](repeating: 0, count: evicted.count)
        nearest.withUnsafeMutableBufferPointer { nearest in
            VectorMath.argmaxDotsByColumns(units, count: evicted.count, columns: columns, stride: stride, rows: keep,
                                           dimension: d, into: nearest.baseAddress!)
        }
        for (e, j) in evicted.enumerated() {
            let t = tokens[e], w = max(scores[j], 1e-6), best = nearest[e]
            let total = merged[best].weight + w
            for i in t.key.indices {
                merged[best].key[i] = (merged[best].key[i] * merged[best].weight + t.key[i] * w) / total
                merged[best].value[i] = (merged[best].value[i] * merged[best].weight + t.value[i] * w) / total
            }
            merged[best].weight = total
        }
        return (kept, merged.map { ($0.key, $0.value) })
    }

    func normalized(_ x: [Float]) -> [Float] {
        let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? x.map { $0 / norm } : x
    }
}

extension EMSPress {
    public static let declaration = PressDeclaration(
        name: "ems", family: .merging,
        summary: "global-local importance (accumulated attention normalized by the queries that saw each token, "
            + "mixed with the last `window` queries' attention); evicted tokens are merged into the most similar "
            + "kept token (key cosine) as score-weighted averages — same entries and bytes as eviction",
        paper: "EMS",
        parameters: [
            .integer("window", Defaults.window, "local window of last queries"),
            .real("local", Defaults.localWeight, "weight of the local score in [0, 1]"),
        ],
        factory: .standalone { arguments in
            try EMSPress(compressionRatio: arguments.ratio, window: arguments.integer("window"),
                         localWeight: arguments.float("local"))
        })
}
