// Based on: KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache.
import KVCache

/// Keeps every token and stores it at fewer bits: keys per channel over groups of tokens (keys have outlier
/// channels), values per token over groups of channels, asymmetric with f16 scale and zero point, the most recent
/// `residual` tokens in f16. Tokens are quantized as they are appended (the press sets the cache's storage before
/// prefill), so prefill's peak memory drops too. Composes with eviction: `snapkv@0.5+kivi:bits=2`.
public struct KIVIPress: KVPress {
    public let settings: KIVISettings
    public var description: String { settings.description }
    public var storage: KVStorage? { .kivi(settings) }

    public init(settings: KIVISettings) { self.settings = settings }

    /// Quantizes what the cache holds when it was filled without the press (a no-op when prefill used it).
    public func compress(_ cache: KVCache) throws {
        cache.setStorage(.kivi(settings))
    }
}

extension KIVIPress {
    public static let declaration = PressDeclaration(
        name: "kivi", family: .precision,
        summary: "KIVI: every token kept, keys quantized per channel and values per token at `bits` bits in groups "
            + "(keys at `keybits` when set), the last `residual` tokens in f16; quantized as they are appended",
        paper: "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache",
        parameters: [
            .integer("bits", KIVISettings.Defaults.bits, "bits per code: 2, 3, 4 or 8 (keys too unless keybits)"),
            .integer("keybits", 0, "bits per key code when keys should differ: 2, 3, 4 or 8; 0 = as bits"),
            .integer("group", KIVISettings.Defaults.group, "tokens per key group and channels per value group"),
            .integer("residual", KIVISettings.Defaults.residual, "most recent tokens kept in f16"),
            .integer("sinks", KIVISettings.Defaults.sinks, "first tokens kept in f16 for good (not in the paper)"),
            .choice("fit", KIVISettings.Defaults.fit.rawValue, RangeFit.allCases.map(\.rawValue),
                    "each group's range: minmax (the paper) or mse (least squared error, may clip)"),
            .flag("rotate", KIVISettings.Defaults.rotate,
                  "1 to store rows Hadamard-rotated, as llama.cpp's rotated cache (not in the paper)"),
        ],
        ignoresRatio: true,
        factory: .standalone { arguments in
            do {
                let keyBits = try arguments.integer("keybits")
                let settings = try KIVISettings(bits: try arguments.integer("bits"),
                                                keyBits: keyBits == 0 ? nil : keyBits,
                                                group: try arguments.integer("group"),
                                                residual: try arguments.integer("residual"),
                                                sinks: try arguments.integer("sinks"),
                                                fit: RangeFit(rawValue: arguments.choice("fit"))!,
                                                rotate: try arguments.flag("rotate"))
                return KIVIPress(settings: settings)
            } catch let error as KVStorageError {
                throw PressError.invalidParameter(name: "kivi", reason: error.description)
            }
        })
}
