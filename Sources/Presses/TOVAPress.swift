// Based on: Transformers are Multi-State RNNs (TOVA, arXiv 2401.06104).
import KVCache

/// Scores each token by the attention the current (last) query gives it, averaged over every query head of
/// the layer, so all heads of a layer agree; the last token is always kept.
public struct TOVAPress: ScorerPress {
    public let compressionRatio: Double
    public var description: String { "tova@\(compressionRatio)" }
    public var scoreKey: String? { "tova" }
    public var needs: AttentionNeeds { AttentionNeeds(window: 1) }

    public init(compressionRatio: Double) { self.compressionRatio = compressionRatio }

    /// The layer's attention is computed once and read by every head.
    public func scores(layer: Int, cache: KVCache) throws -> [[Float]] {
        // Heads may hold different tokens (after other presses), so attention is pooled by position.
        var byPosition: [Int32: Float] = [:]
        let heads = cache.layers[layer].heads
        for other in heads.indices {
            let group = cache.layers[layer].spec.queryHeads(of: other)
            let attention = try AttentionScoring.windowAttention(cache, layer: layer, head: other, queryHeads: group,
                                                                 window: 1, press: self)
            for (j, p) in heads[other].positions.enumerated() { byPosition[p, default: 0] += attention[j] * Float(group.count) }
        }
        return heads.map { head in
            var scores = head.positions.map { byPosition[$0] ?? 0 }
            AttentionScoring.protectRecent(&scores, window: 1)
            return scores
        }
    }
}

extension TOVAPress {
    public static let declaration = PressDeclaration(
        name: "tova", family: .scorer, summary: "attention of the current query, averaged over all heads of the layer",
        statistics: "last query", paper: "Transformers are Multi-State RNNs",
        factory: .scorer { TOVAPress(compressionRatio: $0.ratio) })
}
