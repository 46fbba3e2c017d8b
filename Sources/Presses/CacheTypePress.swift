// Based on: llama.cpp's KV cache types (`--cache-type-k`, `--cache-type-v`; no paper).
import KVCache

/// Keeps every token, its key and value rows stored as llama.cpp cache types (q8_0, q4_0, q4_1, q5_0, q5_1 or
/// f16), quantized as they are appended: the baseline the precision presses are measured against, usable
/// wherever a press is (`eval`, `perplexity`, compositions) as `--cache-type-k/-v` are on the commands.
public struct CacheTypePress: KVPress {
    public let keyType: CacheType
    public let valueType: CacheType
    public let rotated: Bool
    public var description: String { "cache-type:k=\(keyType),v=\(valueType)" + (rotated ? ",rotate=1" : "") }
    public var storage: KVStorage? { .cacheTypes(key: keyType, value: valueType, rotated: rotated) }

    public init(keyType: CacheType, valueType: CacheType, rotated: Bool = false) {
        self.keyType = keyType
        self.valueType = valueType
        self.rotated = rotated
    }

    /// Stores what the cache holds as these types when it was filled without the press.
    public func compress(_ cache: KVCache) throws {
        guard let storage else { return }
        try storage.check(dimension: cache.headDimension)
        cache.setStorage(storage)
    }
}

extension CacheTypePress {
    public static let declaration = PressDeclaration(
        name: "cache-type", family: .precision,
        summary: "llama.cpp's KV cache types: every token kept, key and value rows stored in its 32-value blocks",
        paper: "— (llama.cpp)",
        parameters: [
            .choice("k", CacheType.q8_0.rawValue, CacheType.allCases.map(\.rawValue), "key type"),
            .choice("v", CacheType.q8_0.rawValue, CacheType.allCases.map(\.rawValue), "value type"),
            .flag("rotate", false, "Hadamard-rotate quantized rows before storing them (as llama.cpp does)"),
        ],
        ignoresRatio: true,
        factory: .standalone { arguments in
            CacheTypePress(keyType: CacheType(rawValue: arguments.choice("k"))!,
                           valueType: CacheType(rawValue: arguments.choice("v"))!, rotated: try arguments.flag("rotate"))
        })
}
