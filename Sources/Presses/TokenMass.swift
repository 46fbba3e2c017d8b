import KVCache

/// A token's attention mass in its KV head: the mean attention the last `window` prompt queries of the head's
/// query heads give it, normalized so that a head's tokens sum to 1. It weights the target allocator's per-head
/// rates (ZipVL, ZipCache and MiKV rank tokens by the same signal).
public enum TokenMass {
    /// The statistics a cache must record while prefilling for `perHead` to read.
    public static func needs(window: Int) -> AttentionNeeds { AttentionNeeds(window: window) }

    /// [layer][kvHead][token index]: every head's normalized mass.
    public static func perHead(_ cache: KVCache, window: Int) throws -> [[[Double]]] {
        let reader = Reader(window: window)
        return try cache.layers.indices.map { l in
            try cache.layers[l].heads.indices.map { h in
                let attention = try AttentionScoring.windowAttention(
                    cache, layer: l, head: h, queryHeads: cache.layers[l].spec.queryHeads(of: h), window: window,
                    press: reader)
                let total = attention.reduce(0.0) { $0 + Double($1) }
                return attention.map { total > 0 ? Double($0) / total : 0 }
            }
        }
    }

    /// Stands in for a press in `AttentionScoring`'s checks and messages.
    struct Reader: KVPress {
        let window: Int
        var description: String { "attention mass" }
        var needs: AttentionNeeds { TokenMass.needs(window: window) }
        func compress(_ cache: KVCache) throws {}
    }
}
