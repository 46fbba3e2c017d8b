// Based on: Ada-KV: Optimizing KV Cache Eviction by Adaptive Budget Allocation for Efficient LLM Inference (arXiv 2407.11550).
import KVCache

/// Head-adaptive budgets: in each layer, the scorer's top scores are taken across all KV heads jointly, so a
/// head whose attention is concentrated gives up tokens to one whose attention is spread. Every head first
/// keeps a floor (`floor` × its uniform share), then the rest of the layer's budget goes to the best scores
/// wherever they are. Heads end with really different lengths (and bytes), not masks.
public struct AdaKVPress: KVPress {
    public let scorer: any ScorerPress
    public let compressionRatio: Double
    public let floor: Double
    public var description: String { "adakv(\(scorer.description))" }
    public var needs: AttentionNeeds { scorer.needs }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let floor = 0.2
    }

    public init(scorer: any ScorerPress, compressionRatio: Double, floor: Double = Defaults.floor) throws {
        guard floor >= 0, floor <= 1 else { throw PressError.invalidParameter(name: "floor", reason: "must be in [0, 1], got \(floor)") }
        self.scorer = scorer
        self.compressionRatio = compressionRatio
        self.floor = floor
    }

    public func compress(_ cache: KVCache) throws {
        guard compressionRatio > 0 else { return }
        for (l, layer) in cache.layers.enumerated() {
            let scores = try scorer.sharedScores(layer: l, cache: cache)
            var chosen: [[Int]] = Array(repeating: [], count: layer.heads.count)
            var pool: [(score: Float, head: Int, index: Int)] = []
            var budget = 0
            for (h, head) in layer.heads.enumerated() {
                let share = Budget.kept(head.count, ratio: compressionRatio)
                budget += share
                let order = head.positions.indices.sorted { scores[h][$0] != scores[h][$1] ? scores[h][$0] > scores[h][$1] : $0 < $1 }
                let guaranteed = min(share, Int((Double(share) * floor).rounded(.up)))
                chosen[h] = Array(order.prefix(guaranteed))
                pool += order.dropFirst(guaranteed).map { (scores[h][$0], h, $0) }
            }
            let remaining = budget - chosen.reduce(0) { $0 + $1.count }
            pool.sort { $0.score != $1.score ? $0.score > $1.score : ($0.head, $0.index) < ($1.head, $1.index) }
            for item in pool.prefix(max(0, remaining)) { chosen[item.head].append(item.index) }
            for h in layer.heads.indices { cache.retain(layer: l, head: h, indices: chosen[h].sorted()) }
        }
    }
}

extension AdaKVPress {
    public static let declaration = PressDeclaration(
        name: "adakv", family: .allocator,
        summary: "the scorer's top scores across all KV heads of a layer jointly, after a per-head floor",
        paper: "Ada-KV",
        parameters: [.real("floor", Defaults.floor, "share of its uniform budget every head keeps")],
        factory: .allocator { scorer, arguments in
            try AdaKVPress(scorer: scorer, compressionRatio: arguments.ratio, floor: arguments.real("floor"))
        })
}
