import Foundation

/// What a user asks of the cache instead of a ratio: a memory budget (bytes, or a share of the prompt's dense f16
/// cache) or a quality bound (predicted mean KL to the full cache). The target allocator meets it.
public enum CompressionTarget: Sendable, Equatable, CustomStringConvertible {
    /// At most this many bytes of KV cache.
    case bytes(Int)
    /// At most this share (0 < share) of the dense f16 cache of the prompt (≥ 1: nothing to compress).
    case share(Double)
    /// The smallest cache whose predicted mean KL over the next tokens stays at or below this.
    case meanKL(Double)

    public var description: String {
        switch self {
        case .bytes(let bytes): return Self.format(bytes: bytes)
        case .share(let share): return "\(Self.trim(share * 100))%"
        case .meanKL(let kl): return "KL ≤ \(kl)"
        }
    }

    /// Parses `--kv-memory`: `24MiB`, `512KiB`, `1.5GiB`, `3000000` (bytes), `25%` or `0.25` of the dense cache
    /// (a plain number below 1 is a share). Anything else, zero or negative is a one-line error naming the option.
    public static func memory(_ text: String, option: String = "--kv-memory") throws -> CompressionTarget {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func invalid(_ why: String) -> PressError { .invalidTarget(option: option, reason: why) }
        let units: [(String, Double)] = [("GiB", 1_073_741_824), ("MiB", 1_048_576), ("KiB", 1024), ("GB", 1e9), ("MB", 1e6),
                                         ("KB", 1e3), ("kB", 1e3), ("B", 1), ("%", 0.01)]
        var number = trimmed
        var unit: (name: String, factor: Double)?
        for (name, factor) in units where trimmed.hasSuffix(name) {
            number = String(trimmed.dropLast(name.count)).trimmingCharacters(in: .whitespaces)
            unit = (name, factor)
            break
        }
        let malformed = "'\(text)' is not a size (examples: 24MiB, 512KiB, 25%, 0.25)"
        guard let value = Double(number), !number.isEmpty, number.first != "+" else { throw invalid(malformed) }
        guard value.isFinite else { throw invalid(malformed) }
        guard value > 0 else { throw invalid("must be more than 0, got '\(text)'") }
        if unit?.name == "%" { return .share(value / 100) }
        if unit == nil, value < 1 { return .share(value) }
        let bytes = value * (unit?.factor ?? 1)
        guard bytes >= 1, bytes < 1e15 else { throw invalid("'\(text)' is out of range") }
        return .bytes(Int(bytes.rounded(.down)))
    }

    /// Parses `--max-kl`: a positive finite number (nats).
    public static func klBound(_ value: Double, option: String = "--max-kl") throws -> CompressionTarget {
        guard value.isFinite, value > 0 else {
            throw PressError.invalidTarget(option: option, reason: "must be a positive number of nats, got \(value)")
        }
        return .meanKL(value)
    }

    /// The byte budget for a prompt whose dense f16 cache takes `dense` bytes (nil for a KL target).
    public func budget(dense: Int) -> Int? {
        switch self {
        case .bytes(let bytes): return bytes
        case .share(let share): return Int((Double(dense) * share).rounded(.down))
        case .meanKL: return nil
        }
    }

    /// `24.0 MiB`, `512.0 KiB`, `900 B`.
    public static func format(bytes: Int) -> String {
        if bytes >= 1 << 20 { return String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) }
        if bytes >= 1 << 10 { return String(format: "%.1f KiB", Double(bytes) / Double(1 << 10)) }
        return "\(bytes) B"
    }

    private static func trim(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))" : String(format: "%g", value)
    }
}
