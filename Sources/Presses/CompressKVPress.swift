// Based on: CompressKV: Semantic Retrieval Heads Know What Tokens are Not Important Before Generation (arXiv 2508.02401).
import KVCache

/// In each grouped-query group, the query head that retrieves most (echo + induction in the `HeadProfile`) chooses
/// the tokens for the whole KV head: its attention from the last `window` queries, average-pooled, the window kept
/// (other query heads of the group, which mostly look nearby, do not dilute it). Layer budgets come from each
/// layer's measured eviction error (`LayerAdaptivePress`).
public struct CompressKVPress: KVPress {
    public let profile: HeadProfile
    public let compressionRatio: Double
    public let window: Int
    public var description: String { "compresskv@\(compressionRatio)" }
    public var needs: AttentionNeeds { AttentionNeeds(window: window) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let window = 32
    }

    public init(profile: HeadProfile, compressionRatio: Double, window: Int = Defaults.window) throws {
        guard window > 0 else { throw PressError.invalidParameter(name: "window", reason: "must be positive, got \(window)") }
        guard profile.queryRetrieval != nil else {
            let reason = "has no per-query-head scores; measure it again with tokenpress calibrate"
            throw PressError.invalidParameter(name: "profile", reason: reason)
        }
        self.profile = profile
        self.compressionRatio = compressionRatio
        self.window = window
    }

    public func compress(_ cache: KVCache) throws {
        let profile = try self.profile.selecting(for: cache)
        let scorer = RetrievalHeadScorer(profile: profile, compressionRatio: compressionRatio, window: window)
        try LayerAdaptivePress(scorer: scorer, compressionRatio: compressionRatio, window: window).compress(cache)
    }
}

/// Scores a KV head's tokens by the window attention of the most retrieving query head of its group.
struct RetrievalHeadScorer: HeadScorerPress {
    let profile: HeadProfile
    let compressionRatio: Double
    let window: Int
    var description: String { "compresskv@\(compressionRatio)" }
    var needs: AttentionNeeds { AttentionNeeds(window: window) }

    func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        let group = cache.layers[layer].spec.queryHeads(of: head)
        let retrieval = profile.queryRetrieval?[layer] ?? []
        let score = { (head: Int) in retrieval.indices.contains(head) ? retrieval[head] : 0 }
        let chosen = group.max { score($0) < score($1) } ?? group.lowerBound
        return try AttentionScoring.pooledWindowScores(cache, layer: layer, head: head, queryHeads: chosen ..< chosen + 1, window: window,
                                                       kernel: 5, press: self)
    }
}

extension CompressKVPress {
    public static let declaration = PressDeclaration(
        name: "compresskv", family: .profile,
        summary: "in each group, the query head that retrieves most (per-query-head echo + induction from the "
            + "profile) chooses the KV head's tokens from its window attention (pooled, window kept); layer budgets "
            + "from `layer-adaptive`",
        paper: "CompressKV",
        parameters: [.integer("window", Defaults.window, "last queries of the retrieval query head that choose")],
        factory: .profile { profile, arguments in
            try CompressKVPress(profile: profile, compressionRatio: arguments.ratio, window: arguments.integer("window"))
        })
}
