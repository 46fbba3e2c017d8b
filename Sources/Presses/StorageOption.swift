import Kernels
import KVCache

/// One way the target allocator can hold a group of a head's tokens, from the most bytes to none: f16 rows, KIVI
/// codes of 8, 4, 3 or 2 bits (keys per channel over groups of tokens, values per token over groups of channels),
/// or evicted.
public enum StorageOption: Hashable, Sendable, CustomStringConvertible {
    case f16
    case bits(Int)
    case evicted

    /// Every option, from the most bytes per token to the fewest.
    public static let ladder: [StorageOption] = [.f16, .bits(8), .bits(4), .bits(3), .bits(2), .evicted]

    /// The name a sensitivity file and a plan use: "f16", "8", "4", "3", "2", "evict".
    public var description: String {
        switch self {
        case .f16: return "f16"
        case .bits(let bits): return "\(bits)"
        case .evicted: return "evict"
        }
    }

    /// The precision the tokens are stored at, nil when they are dropped.
    public var precision: TokenPrecision? {
        switch self {
        case .f16: return .f16
        case .bits(let bits): return .bits(bits)
        case .evicted: return nil
        }
    }

    /// Bits per stored element (16 for f16, the code width for KIVI codes), 0 when evicted.
    public var bits: Int {
        switch self {
        case .f16: return 16
        case .bits(let bits): return bits
        case .evicted: return 0
        }
    }

    /// What one more token costs at this option, amortized (key scales and zero points are shared by `group`
    /// tokens; a scattered position costs 4 bytes): the rate the allocator trades against predicted KL.
    public func bytesPerToken(headDimension d: Int, group: Int) -> Double {
        switch self {
        case .f16:
            return Double(4 * d + 4)
        case .bits(let bits):
            let codes = 2 * PackedCodes.byteCount(codes: d, bits: bits)
            let valueScales = 4 * d / group
            return Double(codes + valueScales + 4) + Double(4 * d + 4) / Double(group)
        case .evicted:
            return 0
        }
    }

    /// An upper bound on the bytes of one segment holding `tokens` tokens at this option, everything counted as
    /// `byteCount` counts it (positions as runs or a list: never more than 4 bytes a token plus 36).
    public func segmentBytes(tokens: Int, headDimension d: Int, group: Int) -> Int {
        guard tokens > 0 else { return 0 }
        func positions(_ n: Int) -> Int { 4 * n + 36 }
        switch self {
        case .f16:
            return 4 * d * tokens + positions(tokens)
        case .bits(let bits):
            let groups = (tokens + group - 1) / group
            let codes = 2 * tokens * PackedCodes.byteCount(codes: d, bits: bits)
            return codes + groups * d * 4 + tokens * (d / group) * 4 + positions(groups) + positions(tokens)
        case .evicted:
            return 0
        }
    }
}
