/// Per-layer, per-KV-head cache of keys and values. Layers and heads hold independent token sets,
/// so compression can shorten any head without the model knowing.
public final class KVCache: @unchecked Sendable {
    public let layers: [LayerCache]
    public let kvHeads: Int
    public let headDimension: Int
    /// Positions consumed so far (the next token's position), whatever the cache retained.
    public var nextPosition = 0

    public init(layers: Int, kvHeads: Int, headDimension: Int) {
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        self.layers = (0 ..< layers).map { _ in LayerCache(kvHeads: kvHeads, headDimension: headDimension) }
    }

    /// Exact bytes of every layer's keys, values and positions.
    public var byteCount: Int { layers.reduce(0) { $0 + $1.byteCount } }

    /// Bytes a dense f16 cache of `tokens` tokens would take (keys and values only), for savings figures.
    public func denseF16ByteCount(tokens: Int) -> Int { layers.count * kvHeads * tokens * headDimension * 2 * 2 }

    public func reserveCapacity(_ tokens: Int) {
        for layer in layers { for head in layer.heads { head.reserveCapacity(tokens) } }
    }

    public func removeAll() {
        for layer in layers { for head in layer.heads { head.removeAll() } }
        nextPosition = 0
    }
}
