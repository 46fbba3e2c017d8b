/// Tensor element types of GGML that TokenPress reads, with their block layout.
/// Ids are GGML's (`enum ggml_type`); a block holds `blockElements` values in `blockBytes` bytes.
public enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case bf16 = 30

    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        }
    }

    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return 256
        }
    }

    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18   // f16 d, 16 bytes of nibbles
        case .q4_1: return 20   // f16 d, f16 m, 16 bytes of nibbles
        case .q5_0: return 22   // f16 d, 4 bytes high bits, 16 bytes of nibbles
        case .q5_1: return 24   // f16 d, f16 m, 4 bytes high bits, 16 bytes of nibbles
        case .q8_0: return 34   // f16 d, 32 int8
        case .q2_K: return 84   // 16 scales, 64 qs, f16 d, f16 dmin
        case .q3_K: return 110  // 32 hmask, 64 qs, 12 scales, f16 d
        case .q4_K: return 144  // f16 d, f16 dmin, 12 scales, 128 qs
        case .q5_K: return 176  // f16 d, f16 dmin, 12 scales, 32 qh, 128 qs
        case .q6_K: return 210  // 128 ql, 64 qh, 16 scales, f16 d
        }
    }

    /// Bytes taken by `elements` values (which must be a whole number of blocks).
    public func byteCount(elements: Int) -> Int { elements / blockElements * blockBytes }

    /// Names of GGML types TokenPress knows of but does not support, for error messages.
    public static func knownName(_ id: UInt32) -> String? {
        if let supported = GGMLType(rawValue: id) { return supported.name }
        let others: [UInt32: String] = [
            9: "Q8_1", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL",
            21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
            29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
        ]
        return others[id]
    }
}
