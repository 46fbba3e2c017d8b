/// The precision one group of a head's tokens is kept at by a mixed-precision press: f16 rows, or KIVI codes of
/// a few bits (keys per channel over token groups, values per token over channel groups).
public enum TokenPrecision: Sendable, Equatable, CustomStringConvertible {
    case f16
    case bits(Int)

    public var description: String {
        switch self {
        case .f16: return "f16"
        case .bits(let bits): return "\(bits)-bit"
        }
    }

    /// 16 means f16; 2, 3, 4 and 8 are code widths; anything else is a one-line error naming `name`.
    public static func parse(_ bits: Int, name: String) throws -> TokenPrecision {
        if bits == 16 { return .f16 }
        guard [2, 3, 4, 8].contains(bits) else {
            throw KVStorageError.invalid("\(name) must be 2, 3, 4, 8 or 16 (f16) bits, got \(bits)")
        }
        return .bits(bits)
    }
}
