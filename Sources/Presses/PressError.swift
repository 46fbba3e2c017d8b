/// Bad press parameters, named in one line.
public enum PressError: Error, Equatable, CustomStringConvertible, Sendable {
    case unknownPress(String, known: [String])
    case invalidRatio(Double)
    case invalidParameter(name: String, reason: String)
    case unknownParameter(press: String, name: String, known: [String])
    case windowLargerThanPrompt(press: String, window: Int, tokens: Int)
    case missingStatistics(press: String)
    /// A memory or KL target (`--kv-memory`, `--max-kl`) that cannot be met or is not one.
    case invalidTarget(option: String, reason: String)

    public var description: String {
        switch self {
        case .unknownPress(let name, let known): return "unknown press '\(name)' (known: \(known.joined(separator: ", ")))"
        case .invalidRatio(let r): return "--ratio must be in [0, 1) (the fraction of tokens removed), got \(r)"
        case .invalidParameter(let name, let reason): return "invalid press parameter \(name): \(reason)"
        case .unknownParameter(let press, let name, let known):
            return "press \(press) has no parameter '\(name)' (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case .windowLargerThanPrompt(let press, let window, let tokens):
            return "\(press): observation window of \(window) queries is larger than the \(tokens) prompt tokens seen; "
                + "use a smaller window or a longer prompt"
        case .invalidTarget(let option, let reason):
            return "\(option): \(reason)"
        case .missingStatistics(let press):
            return "\(press) needs attention statistics, but the cache has none (attach them with press.prepare(cache) before prefill)"
        }
    }
}
