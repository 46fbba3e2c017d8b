/// A GGUF metadata value. Arrays may nest (GGUF allows arrays of arrays).
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double)
    case bool(Bool)
    case string(String)
    /// `elementType` is kept so an empty array round-trips through the writer.
    case array(elementType: GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// The value as an integer, if it is one of the integer types.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a floating-point number, if it is numeric.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    /// A short human-readable rendering (arrays are summarised).
    public var summary: String {
        switch self {
        case .string(let s):
            let flat = s.replacingOccurrences(of: "\n", with: "\\n")
            return flat.count > 60 ? "\"\(flat.prefix(57))...\"" : "\"\(flat)\""
        case .bool(let b): return b ? "true" : "false"
        case .float32(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        case .array(let elementType, let values):
            let head = values.prefix(4).map(\.summary).joined(separator: ", ")
            return "[\(elementType.name) × \(values.count)]" + (values.isEmpty ? "" : " [\(head)\(values.count > 4 ? ", ..." : "")]")
        default: return intValue.map(String.init) ?? "?"
        }
    }
}

/// GGUF metadata value type ids (`enum gguf_type`).
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5
    case float32 = 6, bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    public var name: String { String(describing: self) }
}
