// Based on: CompressKV: Semantic Retrieval Heads Know What Tokens are Not Important Before Generation (arXiv 2508.02401),
// its layer-adaptive budgets: layers whose eviction would lose more get more.
import KVCache

/// Layer budgets from each layer's measured eviction error: with a uniform budget, the error of a layer is the
/// attention mass (of the last `window` queries, per head, averaged) that the scorer's choice would drop. Budgets
/// are then proportional to those errors (at most the prompt per head, at least `floor` × the uniform budget), with
/// the same total as the uniform ratio; within each layer, the scorer chooses.
public struct LayerAdaptivePress: KVPress {
    public let scorer: any ScorerPress
    public let compressionRatio: Double
    public let window: Int
    public let floor: Double
    public var description: String { "layer-adaptive(\(scorer.description))" }
    public var needs: AttentionNeeds { scorer.needs.union(AttentionNeeds(window: window)) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let window = 32
        public static let floor = 0.25
    }

    public init(scorer: any ScorerPress, compressionRatio: Double, window: Int = Defaults.window,
                floor: Double = Defaults.floor) throws {
        guard window > 0 else { throw PressError.invalidParameter(name: "window", reason: "must be positive, got \(window)") }
        guard (0 ... 1).contains(floor) else { throw PressError.invalidParameter(name: "floor", reason: "must be in [0, 1], got \(floor)") }
        self.scorer = scorer
        self.compressionRatio = compressionRatio
        self.window = window
        self.floor = floor
    }

    /// Per-layer budgets summing to `layers × uniform`, proportional to `errors`, within [floor·uniform, count].
    public static func budgets(errors: [Double], uniform: Int, count: Int, floor: Double) -> [Int] {
        let layers = errors.count, total = layers * uniform
        let low = Double(uniform) * floor, high = Double(count)
        var raw = Array(repeating: Double(uniform), count: layers)
        let sum = errors.reduce(0, +)
        if sum > 0 {
            // Spread what is left above the floors in proportion to the errors, capping at the prompt.
            var free = Set(0 ..< layers), left = Double(total) - low * Double(layers)
            raw = Array(repeating: low, count: layers)
            while left > 1e-9, !free.isEmpty {
                let weight = free.reduce(0) { $0 + max(errors[$1], 1e-12) }
                var capped = false
                for l in free {
                    let share = left * max(errors[l], 1e-12) / weight
                    if raw[l] + share > high { capped = true }
                }
                if !capped {
                    for l in free { raw[l] += left * max(errors[l], 1e-12) / weight }
                    left = 0
                } else {
                    for l in free where raw[l] + left * max(errors[l], 1e-12) / weight > high {
                        left -= high - raw[l]
                        raw[l] = high
                        free.remove(l)
                    }
                }
            }
        }
        return Budget.rounded(raw, total: total, cap: count)
    }

    /// Every head's attention from the last `window` queries; shared like a scorer's scores (it does not depend on
    /// the ratio either) when the cache carries a `ScoreMemo`.
    func windowAttentions(layer l: Int, cache: KVCache) throws -> [[Float]] {
        let spec = cache.layers[l].spec
        return try cache.sharedScores("window attention window=\(window)", layer: l) {
            try cache.layers[l].heads.indices.map { h in
                try AttentionScoring.windowAttention(cache, layer: l, head: h, queryHeads: spec.queryHeads(of: h),
                                                     window: window, press: self)
            }
        }
    }

    public func compress(_ cache: KVCache) throws {
        guard compressionRatio > 0 else { return }
        let n = cache.longestPressableHead
        let uniform = Budget.kept(n, ratio: compressionRatio)
        var scores: [[[Float]]] = [], errors: [Double] = []
        for (l, layer) in cache.layers.enumerated() {
            let s = try scorer.sharedScores(layer: l, cache: cache)
            let attentions = try windowAttentions(layer: l, cache: cache)
            var error = 0.0
            for h in layer.heads.indices {
                let attention = attentions[h]
                let kept = Set(TopK.indices(of: s[h], count: uniform))
                error += Double(attention.indices.filter { !kept.contains($0) }.reduce(Float(0)) { $0 + attention[$1] })
            }
            scores.append(s)
            errors.append(error / Double(layer.heads.count))
        }
        let layerBudgets = Self.budgets(errors: errors, uniform: uniform, count: n, floor: floor)
        for (l, layer) in cache.layers.enumerated() {
            for h in layer.heads.indices where layerBudgets[l] < layer.heads[h].count {
                cache.retain(layer: l, head: h, indices: TopK.indices(of: scores[l][h], count: max(1, layerBudgets[l])))
            }
        }
    }
}

extension LayerAdaptivePress {
    public static let declaration = PressDeclaration(
        name: "layer-adaptive", family: .allocator,
        summary: "CompressKV's layer budgets: each layer's eviction error (attention mass of the last `window` queries "
            + "the scorer would drop at the uniform budget) sets its share of the same total, within "
            + "[`floor` × uniform, prompt]",
        paper: "CompressKV",
        parameters: [
            .integer("window", Defaults.window, "last queries that measure the eviction error"),
            .real("floor", Defaults.floor, "least share of the uniform budget a layer keeps"),
        ],
        factory: .allocator { scorer, arguments in
            try LayerAdaptivePress(scorer: scorer, compressionRatio: arguments.ratio,
                                   window: arguments.integer("window"), floor: arguments.real("floor"))
        })
}
