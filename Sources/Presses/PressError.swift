/// Bad press parameters, named in one line.
public enum PressError: Error, Equatable, CustomStringConvertible, Sendable {
    case unknownPress(String, known: [String])
    case invalidRatio(Double)
    case invalidParameter(name: String, reason: String)

    public var description: String {
        switch self {
        case .unknownPress(let name, let known): return "unknown press '\(name)' (known: \(known.joined(separator: ", ")))"
        case .invalidRatio(let r): return "--ratio must be in [0, 1) (the fraction of tokens removed), got \(r)"
        case .invalidParameter(let name, let reason): return "invalid press parameter \(name): \(reason)"
        }
    }
}
