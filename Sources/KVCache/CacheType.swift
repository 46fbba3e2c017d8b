import Kernels

/// How llama.cpp stores each token's key or value row (`--cache-type-k`, `--cache-type-v`): f16, or one of its
/// 32-element block formats, each block with an f16 scale (and minimum for the `_1` types). Names and layouts
/// are llama.cpp's, so a cache of a type holds what llama.cpp's would.
public enum CacheType: String, CaseIterable, Sendable, CustomStringConvertible {
    case f16
    case q8_0
    case q4_0
    case q4_1
    case q5_0
    case q5_1

    public var description: String { rawValue }

    /// The block format (nil for f16).
    public var format: (any Q8DotFormat.Type)? {
        switch self {
        case .f16: return nil
        case .q8_0: return BlockQ8_0.self
        case .q4_0: return BlockQ4_0.self
        case .q4_1: return BlockQ4_1.self
        case .q5_0: return BlockQ5_0.self
        case .q5_1: return BlockQ5_1.self
        }
    }

    /// Bytes of one row of `dimension` values.
    public func rowBytes(dimension: Int) -> Int {
        guard let format else { return dimension * 2 }
        return dimension / format.blockElements * format.blockBytes
    }

    /// Storage bits per value, scales included (f16 16, q8_0 8.5, q4_0 4.5, q4_1 5, q5_0 5.5, q5_1 6).
    public var bitsPerValue: Double {
        guard let format else { return 16 }
        return Double(format.blockBytes * 8) / Double(format.blockElements)
    }

    /// Whether rows of `dimension` values can use this type (block types need whole blocks of 32).
    public func fits(dimension: Int) -> Bool { self == .f16 || dimension % 32 == 0 }

    /// Parses a user's name ("q4_0", "Q4_0"), naming the choices when it is none of them.
    public static func parse(_ name: String) throws -> CacheType {
        guard let type = CacheType(rawValue: name.lowercased()) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            throw KVStorageError.invalid("unknown cache type '\(name)'; choose one of \(names)")
        }
        return type
    }
}
