import ArgumentParser
import Engine
import KVCache
import Presses

/// `--cache-type-k` / `--cache-type-v`: llama.cpp's KV cache types, for every command that fills a cache.
struct CacheOptions: ParsableArguments {
    @Option(name: .customLong("cache-type-k"), help: ArgumentHelp(
        "Store keys as this llama.cpp cache type: \(CacheOptions.typeNames) (default: f16).", valueName: "type"))
    var keyType: String?
    @Option(name: .customLong("cache-type-v"), help: ArgumentHelp(
        "Store values as this llama.cpp cache type: \(CacheOptions.typeNames) (default: f16). Rows are quantized as they "
            + "are appended and attended in their stored form; kivi and other precision presses choose their own storage.",
        valueName: "type"))
    var valueType: String?
    @Flag(name: .customLong("kv-rotate"), help: ArgumentHelp(
        "Hadamard-rotate quantized key and value rows before storing them (llama.cpp rotates by default; set "
            + "LLAMA_ATTN_ROT_DISABLE=1 there to compare): outlier channels no longer set a block's scale."))
    var rotate = false

    static let typeNames = CacheType.allCases.map(\.rawValue).joined(separator: ", ")

    var isSet: Bool { keyType != nil || valueType != nil || rotate }

    /// The storage the options name (f16 when none is given); an unknown type is a one-line error.
    func storage() throws -> KVStorage {
        do {
            let key = try keyType.map(CacheType.parse) ?? .f16
            let value = try valueType.map(CacheType.parse) ?? .f16
            if rotate, key == .f16, value == .f16 {
                throw CLIError("--kv-rotate rotates quantized rows; give --cache-type-k or --cache-type-v too")
            }
            return .cacheTypes(key: key, value: value, rotated: rotate)
        } catch let error as KVStorageError {
            throw CLIError(error.description)
        }
    }

    /// Checks the types, and that a precision press (which stores the cache its own way) is not given with them.
    func validate(press: String?) throws {
        _ = try storage()
        guard isSet, let press else { return }
        let precision = PressRegistry.names(of: .precision) + PressRegistry.names(of: .target)
        if precision.contains(where: { press.range(of: "\\b\($0)\\b", options: .regularExpression) != nil }) {
            throw CLIError("--press \(press) chooses how the cache is stored; drop --cache-type-k/--cache-type-v/--kv-rotate")
        }
    }

    /// Makes `engine`'s caches use the chosen types (checked against the model's head dimension).
    func apply(to engine: InferenceEngine) throws {
        do {
            try engine.useCacheStorage(try storage())
        } catch let error as KVStorageError {
            throw CLIError(error.description)
        }
    }
}
