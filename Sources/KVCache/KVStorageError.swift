/// A storage setting that cannot be used (bits, group or residual out of range, an unknown cache type).
public enum KVStorageError: Error, CustomStringConvertible, Equatable {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let message): return message
        }
    }
}
