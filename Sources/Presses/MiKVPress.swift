// Based on: No Token Left Behind: Reliable KV Cache Compression via Importance-Aware Mixed Precision Quantization (MiKV).
import KVCache

/// Keeps every token: the ones its scorer would keep stay at `high` precision, the ones it would evict are kept
/// at `low` bits instead of being lost. The scorer's ratio is the share of tokens demoted. MiKV balances outlier
/// channels of queries and keys before quantizing the demoted keys; here keys are quantized per channel (each
/// channel its own scale and zero point per group of tokens, as KIVI does), which gives outlier channels their own
/// range by construction.
public struct MiKVPress: KVPress {
    public let scorer: any ScorerPress
    public let high: TokenPrecision
    public let low: TokenPrecision
    public let group: Int
    /// Each quantized group's range (`RangeFit`); least squares helps here, where the scorer keeps the sinks exact.
    public let fit: RangeFit
    public var description: String {
        "mikv(\(scorer.description)):high=\(high),low=\(low)" + (fit == .minMax ? "" : ",fit=\(fit.rawValue)")
    }
    public var needs: AttentionNeeds { scorer.needs }

    public enum Defaults {
        public static let high = 16
        public static let low = 2
        public static let group = 32
    }

    public init(scorer: any ScorerPress, high: TokenPrecision = .f16, low: TokenPrecision = .bits(Defaults.low),
                group: Int = Defaults.group, fit: RangeFit = .minMax) {
        self.scorer = scorer
        self.high = high
        self.low = low
        self.group = group
        self.fit = fit
    }

    public func compress(_ cache: KVCache) throws {
        guard scorer.compressionRatio > 0 else { return }
        try MixedPrecision.apply(cache, deciding: scorer, high: high, low: low, group: group, fit: fit)
    }
}

extension MiKVPress {
    public static let declaration = PressDeclaration(
        name: "mikv", family: .precision,
        summary: "MiKV: the tokens SCORER would evict (the ratio of them) are kept at `low` bits, the rest at `high`",
        paper: "No Token Left Behind: Reliable KV Cache Compression via Importance-Aware Mixed Precision Quantization",
        parameters: [
            .integer("high", Defaults.high, "bits of the tokens the scorer keeps (16: f16)"),
            .integer("low", Defaults.low, "bits of the tokens it would evict: 2, 3, 4 or 8"),
            .integer("group", Defaults.group, "tokens per key group and channels per value group"),
            .choice("fit", RangeFit.minMax.rawValue, RangeFit.allCases.map(\.rawValue),
                    "each group's range: minmax (the paper) or mse (least squared error, may clip)"),
        ],
        factory: .allocator { scorer, arguments in
            let (high, low) = try MixedPrecision.precisions(arguments, press: "mikv")
            return MiKVPress(scorer: scorer, high: high, low: low, group: try arguments.integer("group"),
                             fit: RangeFit(rawValue: arguments.choice("fit"))!)
        })
}
