/// Unquantized formats: one value per "block".
public enum FormatF32: QuantFormat {
    public static let typeID: UInt32 = 0
    public static let name = "F32"
    public static let blockElements = 1
    public static let blockBytes = 4
    public static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        output.pointee = block.loadUnaligned(as: Float.self)
    }
}

public enum FormatF16: QuantFormat {
    public static let typeID: UInt32 = 1
    public static let name = "F16"
    public static let blockElements = 1
    public static let blockBytes = 2
    public static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        output.pointee = loadHalf(block, 0)
    }
}

/// bfloat16: the top 16 bits of an IEEE float.
public enum FormatBF16: QuantFormat {
    public static let typeID: UInt32 = 30
    public static let name = "BF16"
    public static let blockElements = 1
    public static let blockBytes = 2
    public static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        output.pointee = Float(bitPattern: UInt32(block.loadUnaligned(as: UInt16.self)) << 16)
    }
}
