// Based on: ZipCache: Accurate and Efficient KV Cache Quantization with Salient Token Identification.
import KVCache

/// ZipCache's rule: a token's saliency is its *normalized* attention — the attention it accumulated divided by the
/// number of queries that could see it, so early tokens are not favoured merely for being seen by more queries
/// (the bias of H2O's plain sums); the `ratio` least salient tokens are kept at `low` bits, the rest at `high`.
/// Saliency comes from the running sums prefill records over every query (ZipCache samples probe queries to avoid
/// materializing attention; here the sums are recorded during the prefill's own attention, so nothing extra is
/// materialized). Storage is KIVI's layout (per-channel keys), not ZipCache's channel-separable token-wise one.
public struct ZipCachePress: KVPress {
    public let saliency: NormalizedAttentionScorer
    public let high: TokenPrecision
    public let low: TokenPrecision
    public let group: Int
    public var description: String { "zipcache@\(saliency.compressionRatio):high=\(high),low=\(low)" }
    public var needs: AttentionNeeds { saliency.needs }

    public enum Defaults {
        public static let high = 4
        public static let low = 2
        public static let group = 32
    }

    public init(compressionRatio: Double, high: TokenPrecision = .bits(Defaults.high),
                low: TokenPrecision = .bits(Defaults.low), group: Int = Defaults.group) {
        saliency = NormalizedAttentionScorer(compressionRatio: compressionRatio)
        self.high = high
        self.low = low
        self.group = group
    }

    public func compress(_ cache: KVCache) throws {
        guard saliency.compressionRatio > 0 else { return }
        try MixedPrecision.apply(cache, deciding: saliency, high: high, low: low, codes: CodeSettings(group: group),
                                 name: "zipcache")
    }
}

/// Accumulated attention divided by the number of queries that could see each token (ZipCache's saliency).
public struct NormalizedAttentionScorer: HeadScorerPress {
    public let compressionRatio: Double
    public var description: String { "normalized-attention@\(compressionRatio)" }
    public var needs: AttentionNeeds { AttentionNeeds(accumulations: [.attention(decay: 1)]) }

    public func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        let statistics = try AttentionScoring.statistics(cache, for: self)
        let headCache = cache.layers[layer].heads[head]
        let sums = statistics.accumulated(.attention(decay: 1), layer: layer, head: head, count: headCache.count)
        let positions = headCache.positions
        return sums.indices.map { j in sums[j] / Float(max(1, cache.nextPosition - Int(positions[j]))) }
    }
}

extension ZipCachePress {
    public static let declaration = PressDeclaration(
        name: "zipcache", family: .precision,
        summary: "ZipCache: attention accumulated per query that saw the token; the ratio least salient at `low` bits, "
            + "the rest at `high`",
        statistics: "running sums",
        paper: "ZipCache: Accurate and Efficient KV Cache Quantization with Salient Token Identification",
        parameters: [
            .integer("high", Defaults.high, "bits of the salient tokens (16: f16)"),
            .integer("low", Defaults.low, "bits of the others: 2, 3, 4 or 8"),
            .integer("group", Defaults.group, "tokens per key group and channels per value group"),
        ],
        factory: .standalone { arguments in
            let (high, low) = try MixedPrecision.precisions(arguments, press: "zipcache")
            return ZipCachePress(compressionRatio: arguments.ratio, high: high, low: low,
                                 group: try arguments.integer("group"))
        })
}
