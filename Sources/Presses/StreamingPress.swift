// Based on: Efficient Streaming Language Models with Attention Sinks.
import KVCache

/// Keeps the first `sinks` tokens (attention sinks) and the most recent ones, up to the budget.
public struct StreamingPress: HeadScorerPress {
    public let compressionRatio: Double
    public let sinks: Int
    public var description: String { "streaming@\(compressionRatio)" }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let sinks = 4
    }

    public init(compressionRatio: Double, sinks: Int = Defaults.sinks) {
        self.compressionRatio = compressionRatio
        self.sinks = sinks
    }

    public func scores(layer: Int, head index: Int, cache: KVCache) -> [Float] {
        let head = cache.layers[layer].heads[index]
        // Sinks first, then recency: a later token outranks an earlier one.
        return (0 ..< head.count).map { j in j < sinks ? Float.infinity : Float(j) }
    }
}

extension StreamingPress {
    public static let declaration = PressDeclaration(
        name: "streaming", family: .scorer, summary: "first `sinks` tokens, then recency",
        paper: "Efficient Streaming Language Models with Attention Sinks",
        parameters: [.integer("sinks", Defaults.sinks, "first tokens always kept")],
        factory: .scorer { arguments in
            let sinks = try arguments.integer("sinks")
            guard sinks >= 0 else { throw PressError.invalidParameter(name: "sinks", reason: "must be ≥ 0, got \(sinks)") }
            return StreamingPress(compressionRatio: arguments.ratio, sinks: sinks)
        })
}
