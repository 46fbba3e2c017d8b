// Based on: Efficient Streaming Language Models with Attention Sinks.
import KVCache

/// Keeps the first `sinks` tokens (attention sinks) and the most recent ones, up to the budget.
public struct StreamingPress: HeadScorerPress {
    public let compressionRatio: Double
    public let sinks: Int
    public var description: String { "streaming@\(compressionRatio)" }

    public init(compressionRatio: Double, sinks: Int = 4) {
        self.compressionRatio = compressionRatio
        self.sinks = sinks
    }

    public func scores(layer: Int, head index: Int, cache: KVCache) -> [Float] {
        let head = cache.layers[layer].heads[index]
        // Sinks first, then recency: a later token outranks an earlier one.
        return (0 ..< head.count).map { j in j < sinks ? Float.infinity : Float(j) }
    }
}
