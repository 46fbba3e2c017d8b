// Based on: GEAR: An Efficient KV Cache Compression Recipe for Near-Lossless Generative Inference of LLM.
import KVCache

/// Keeps every token as GEAR does: the largest `outliers` share of each key and value row kept exactly, the rest
/// quantized at `bits` (KIVI's layout), and the quantization residual approximated by a rank-`rank` factorization
/// (power iteration); attention reads the three parts as stored (`GEARSegment`). Applied to the prompt once it is
/// in; generated tokens stay f16.
public struct GEARPress: KVPress {
    public let settings: GEARSettings
    public let outlierShare: Double
    public var description: String {
        "gear:bits=\(settings.bits),rank=\(settings.rank),outliers=\(outlierShare),group=\(settings.group)"
    }

    public enum Defaults {
        public static let bits = 4
        public static let rank = 2
        public static let outliers = 0.02
        public static let group = 32
    }

    public init(bits: Int = Defaults.bits, rank: Int = Defaults.rank, outliers: Double = Defaults.outliers,
                group: Int = Defaults.group) throws {
        do {
            _ = try KIVISettings(bits: bits, group: group, residual: 0)
        } catch let error as KVStorageError {
            throw PressError.invalidParameter(name: "gear", reason: error.description)
        }
        guard (0 ... 16).contains(rank) else {
            throw PressError.invalidParameter(name: "rank", reason: "must be between 0 and 16, got \(rank)")
        }
        guard outliers >= 0, outliers <= 0.5 else {
            throw PressError.invalidParameter(name: "outliers", reason: "must be a share in [0, 0.5], got \(outliers)")
        }
        outlierShare = outliers
        // The outliers per row follow the head dimension, known only when compressing.
        settings = GEARSettings(bits: bits, group: group, rank: rank, outliersPerRow: 0)
    }

    /// Exact elements kept per row of `dimension` values.
    public func outliersPerRow(dimension: Int) -> Int { Int((outlierShare * Double(dimension)).rounded()) }

    public func compress(_ cache: KVCache) throws {
        let d = cache.headDimension
        guard d % settings.group == 0 else {
            let reason = "\(settings.group) does not divide the head dimension \(d)"
            throw PressError.invalidParameter(name: "group", reason: reason)
        }
        guard settings.rank <= d else {
            throw PressError.invalidParameter(name: "rank", reason: "\(settings.rank) exceeds the head dimension \(d)")
        }
        let sized = GEARSettings(bits: settings.bits, group: settings.group, rank: settings.rank,
                                 outliersPerRow: outliersPerRow(dimension: d))
        for (l, layer) in cache.layers.enumerated() {
            for h in layer.heads.indices {
                cache.storeOwnTokens(layer: l, head: h) { keys, values, positions in
                    GEARSegment(headDimension: d, settings: sized, keys: keys, values: values, positions: positions)
                }
            }
        }
    }
}

extension GEARPress {
    public static let declaration = PressDeclaration(
        name: "gear", family: .precision,
        summary: "GEAR: every token kept as a `bits`-bit backbone + a rank-`rank` fit of its residual + the `outliers` "
            + "share of each row exact",
        paper: "GEAR: An Efficient KV Cache Compression Recipe for Near-Lossless Generative Inference of LLM",
        parameters: [
            .integer("bits", Defaults.bits, "backbone bits: 2, 3, 4 or 8"),
            .integer("rank", Defaults.rank, "rank of the residual's factorization per head and side"),
            .real("outliers", Defaults.outliers, "share of each row kept exactly"),
            .integer("group", Defaults.group, "tokens per key group and channels per value group"),
        ],
        ignoresRatio: true,
        factory: .standalone { arguments in
            try GEARPress(bits: arguments.integer("bits"), rank: arguments.integer("rank"),
                          outliers: arguments.real("outliers"), group: arguments.integer("group"))
        })
}
