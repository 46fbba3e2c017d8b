import Kernels

/// How a head stores its tokens: the choice a cache type (`--cache-type-k/-v`) or a precision press (`kivi`)
/// makes. Every head of a cache may hold its own (per-head precision).
public enum KVStorage: Sendable, Equatable, CustomStringConvertible {
    /// Keys and values as llama.cpp cache types; f16/f16 is the default, llama.cpp's own f16 cache. `rotated`:
    /// quantized rows are Hadamard-rotated before they are stored (`--kv-rotate`).
    case cacheTypes(key: CacheType, value: CacheType, rotated: Bool = false)
    /// KIVI's per-channel keys and per-token values at a few bits, recent tokens in f16.
    case kivi(KIVISettings)

    public static let f16 = KVStorage.cacheTypes(key: .f16, value: .f16)

    public var description: String {
        switch self {
        case .cacheTypes(let key, let value, let rotated):
            return (key == value ? "\(key)" : "K \(key), V \(value)") + (rotated ? ", rotated" : "")
        case .kivi(let settings): return settings.description
        }
    }

    /// Checks that heads of `dimension` values can be stored this way.
    public func check(dimension: Int) throws {
        switch self {
        case .cacheTypes(let key, let value, let rotated):
            for type in [key, value] where !type.fits(dimension: dimension) {
                throw KVStorageError.invalid("cache type \(type) needs a head dimension divisible by 32, not \(dimension)")
            }
            if rotated, !HadamardRotation.supports(dimension: dimension) {
                throw KVStorageError.invalid("--kv-rotate needs a head dimension that is a power of 2, not \(dimension)")
            }
        case .kivi(let settings):
            try settings.check(dimension: dimension)
        }
    }
}
