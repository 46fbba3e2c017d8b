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
    /// How the demoted tokens are coded: group, range fit (least squares may help here, where the scorer keeps the
    /// sinks exact) and rotation.
    public let codes: CodeSettings
    public var description: String {
        let fitPart = codes.fit == .minMax ? "" : ",fit=\(codes.fit.rawValue)"
        let keyPart = codes.keyBits.map { ",keybits=\($0)" } ?? ""
        return "mikv(\(scorer.description)):high=\(high),low=\(low)" + fitPart + (codes.rotate ? ",rotate=1" : "")
            + keyPart
    }
    public var needs: AttentionNeeds { scorer.needs }

    public enum Defaults {
        public static let high = 16
        public static let low = 2
        public static let group = 32
    }

    public init(scorer: any ScorerPress, high: TokenPrecision = .f16, low: TokenPrecision = .bits(Defaults.low),
                codes: CodeSettings = CodeSettings(group: Defaults.group)) {
        self.scorer = scorer
        self.high = high
        self.low = low
        self.codes = codes
    }

    public func compress(_ cache: KVCache) throws {
        guard scorer.compressionRatio > 0 else { return }
        try MixedPrecision.apply(cache, deciding: scorer, high: high, low: low, codes: codes, name: "mikv")
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
            .flag("rotate", false, "1 to store the demoted tokens Hadamard-rotated (not in the paper)"),
            .integer("keybits", 0, "the demoted keys at no fewer bits than this: 2, 3, 4 or 8; 0 = as low"),
        ],
        factory: .allocator { scorer, arguments in
            let (high, low) = try MixedPrecision.precisions(arguments, press: "mikv")
            let fit = RangeFit(rawValue: arguments.choice("fit"))!
            let rotate = try arguments.flag("rotate")
            let keyBits = try arguments.integer("keybits")
            do {
                if keyBits != 0 { try KIVISettings.checkWidth(keyBits, setting: "keybits") }
            } catch let error as KVStorageError {
                throw PressError.invalidParameter(name: "mikv", reason: error.description)
            }
            let codes = CodeSettings(group: try arguments.integer("group"), fit: fit, rotate: rotate,
                                     keyBits: keyBits == 0 ? nil : keyBits)
            return MiKVPress(scorer: scorer, high: high, low: low, codes: codes)
        })
}
