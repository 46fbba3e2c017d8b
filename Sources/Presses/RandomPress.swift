// Based on: kvpress's random baseline (no paper): keep a random subset.
import KVCache
import Sampling

/// Keeps a random subset of each head's tokens (a baseline every other press should beat).
public struct RandomPress: HeadScorerPress {
    public let compressionRatio: Double
    public let seed: UInt64
    public var description: String { "random@\(compressionRatio)" }
    public var scoreKey: String? { "random seed=\(seed)" }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let seed: UInt64 = 0
    }

    public init(compressionRatio: Double, seed: UInt64 = Defaults.seed) {
        self.compressionRatio = compressionRatio
        self.seed = seed
    }

    public func scores(layer: Int, head index: Int, cache: KVCache) -> [Float] {
        let head = cache.layers[layer].heads[index]
        var generator = SeededGenerator(seed: seed &+ UInt64(layer * 1_000 + index))
        return (0 ..< head.count).map { _ in Float(generator.next() >> 40) }
    }
}

extension RandomPress {
    public static let declaration = PressDeclaration(
        name: "random", family: .scorer, summary: "random score (baseline)", paper: "—",
        parameters: [.integer("seed", Int(Defaults.seed), "random seed")],
        factory: .scorer { try RandomPress(compressionRatio: $0.ratio, seed: $0.seed("seed")) })
}
