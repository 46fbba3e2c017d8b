// Based on: ZipVL: Efficient Large Vision-Language Models with Dynamic Token Sparsification (arXiv 2410.08584), its layer-wise
// ratio rule: keep the fewest tokens that hold a fraction τ of the attention mass.
import KVCache

/// Per layer, the budget is the smallest number of tokens whose attention (from the last `window` queries,
/// averaged over each head's group) holds a fraction `tau` of the mass, averaged over the layer's heads; each
/// head then keeps its own top tokens up to that budget, plus the window. The budget follows the attention, not a
/// ratio: layers with diffuse attention keep more, focused ones less (the ratio of a specification is ignored).
public struct MassPress: KVPress {
    public let tau: Double
    public let window: Int
    public var description: String { "mass(τ=\(tau))" }
    public var needs: AttentionNeeds { AttentionNeeds(window: window) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let tau = 0.9
        public static let window = 32
    }

    public init(tau: Double = Defaults.tau, window: Int = Defaults.window) throws {
        guard tau > 0, tau <= 1 else { throw PressError.invalidParameter(name: "tau", reason: "must be in (0, 1], got \(tau)") }
        guard window > 0 else { throw PressError.invalidParameter(name: "window", reason: "must be positive, got \(window)") }
        self.tau = tau
        self.window = window
    }

    /// Tokens holding a fraction `tau` of the total of `scores` (taken largest first).
    public static func massCount(_ scores: [Float], tau: Double) -> Int {
        let sorted = scores.sorted(by: >), total = sorted.reduce(0, +)
        guard total > 0 else { return sorted.count }
        var sum: Float = 0
        for (i, s) in sorted.enumerated() {
            sum += s
            if Double(sum) >= tau * Double(total) { return i + 1 }
        }
        return sorted.count
    }

    public func compress(_ cache: KVCache) throws {
        for (l, layer) in cache.layers.enumerated() {
            let attention = try layer.heads.indices.map {
                try AttentionScoring.windowAttention(cache, layer: l, head: $0,
                                                     queryHeads: cache.layers[l].spec.queryHeads(of: $0),
                                                     window: window, press: self)
            }
            let budget = (attention.reduce(0) { $0 + Self.massCount($1, tau: tau) } + layer.heads.count - 1) / layer.heads.count
            for h in layer.heads.indices {
                let head = layer.heads[h]
                var scores = attention[h]
                let windowStart = AttentionScoring.tokensBeforeWindow(cache, layer: l, head: h, window: window)
                for j in windowStart ..< head.count { scores[j] = .infinity }
                let keep = max(budget, scores.filter(\.isInfinite).count)
                guard keep < head.count else { continue }
                cache.retain(layer: l, head: h, indices: TopK.indices(of: scores, count: keep))
            }
        }
    }
}

extension MassPress {
    public static let declaration = PressDeclaration(
        name: "mass", family: .threshold,
        summary: "ZipVL's layer rule: each layer keeps the fewest tokens holding τ of the last `window` queries' "
            + "attention mass (averaged over its heads), plus the window; the budget follows the attention",
        paper: "ZipVL",
        parameters: [
            .real("tau", Defaults.tau, "share of the attention mass each layer keeps"),
            .integer("window", Defaults.window, "last queries scored"),
        ],
        ignoresRatio: true,
        factory: .standalone { try MassPress(tau: $0.real("tau"), window: $0.integer("window")) })
}
