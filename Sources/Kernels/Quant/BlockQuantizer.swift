/// Rows of floats into llama.cpp's 32-element blocks, by the rules its CPU backend uses when it writes a quantized
/// KV cache (`quantize_row_*_ref` for Q4_0/Q4_1/Q5_0/Q5_1; Q8_0 rounds half to even, as its AVX2 code does), so a
/// cache of these types holds the codes llama.cpp's would. Each format's `dequantize` reads them back.
public enum BlockQuantizer {
    /// The formats a KV cache may use.
    public static func supports(_ format: any QuantFormat.Type) -> Bool {
        [BlockQ8_0.typeID, BlockQ4_0.typeID, BlockQ4_1.typeID, BlockQ5_0.typeID, BlockQ5_1.typeID]
            .contains(format.typeID)
    }

    /// Encodes `count` floats (a multiple of 32) at `x` into `count / 32` blocks of `format` at `output`.
    public static func quantize(_ x: UnsafePointer<Float>, count: Int, as format: any QuantFormat.Type,
                                into output: UnsafeMutableRawPointer) {
        precondition(count % 32 == 0, "a row of \(count) values is not whole blocks of 32")
        for b in 0 ..< count / 32 {
            let block = output + b * format.blockBytes
            let values = x + b * 32
            switch format.typeID {
            case BlockQ8_0.typeID: q8_0(values, block)
            case BlockQ4_0.typeID: q4_0(values, block)
            case BlockQ4_1.typeID: q4_1(values, block)
            case BlockQ5_0.typeID: q5_0(values, block)
            case BlockQ5_1.typeID: q5_1(values, block)
            default: preconditionFailure("\(format.name) is not a KV cache format")
            }
        }
    }

    /// d = max|x|/127; q = x/d rounded half to even.
    private static func q8_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0 ..< 32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let inverse: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        for j in 0 ..< 32 {
            let q = Q8Activations.roundedToInt32(x[j] * inverse)
            block.storeBytes(of: Int8(truncatingIfNeeded: min(max(q, -128), 127)), toByteOffset: 2 + j, as: Int8.self)
        }
    }

    /// The value of largest magnitude, with its sign (ties: the first), as llama.cpp's symmetric formats pick it.
    private static func signedMaximum(_ x: UnsafePointer<Float>) -> Float {
        var amax: Float = 0
        var extreme: Float = 0
        for j in 0 ..< 32 where amax < abs(x[j]) {
            amax = abs(x[j])
            extreme = x[j]
        }
        return extreme
    }

    private static func minimumAndMaximum(_ x: UnsafePointer<Float>) -> (Float, Float) {
        var low = Float.greatestFiniteMagnitude
        var high = -Float.greatestFiniteMagnitude
        for j in 0 ..< 32 {
            low = min(low, x[j])
            high = max(high, x[j])
        }
        return (low, high)
    }

    /// d = extreme/−8; q = min(15, trunc(x/d + 8.5)).
    private static func q4_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let d = signedMaximum(x) / -8
        let inverse: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        for j in 0 ..< 16 {
            let low = min(15, truncatedByte(x[j] * inverse + 8.5))
            let high = min(15, truncatedByte(x[j + 16] * inverse + 8.5))
            block.storeBytes(of: low | high << 4, toByteOffset: 2 + j, as: UInt8.self)
        }
    }

    /// d = (max − min)/15, m = min; q = min(15, trunc((x − m)/d + 0.5)).
    private static func q4_1(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let (low, high) = minimumAndMaximum(x)
        let d = (high - low) / 15
        let inverse: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        storeHalf(low, block, 2)
        for j in 0 ..< 16 {
            let first = min(15, truncatedByte((x[j] - low) * inverse + 0.5))
            let second = min(15, truncatedByte((x[j + 16] - low) * inverse + 0.5))
            block.storeBytes(of: first | second << 4, toByteOffset: 4 + j, as: UInt8.self)
        }
    }

    /// d = extreme/−16; q = min(31, trunc(x/d + 16.5)); the fifth bits go to a 32-bit mask.
    private static func q5_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let d = signedMaximum(x) / -16
        let inverse: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        var codes = [UInt8](repeating: 0, count: 32)
        for j in 0 ..< 32 { codes[j] = min(31, truncatedByte(x[j] * inverse + 16.5)) }
        storeFiveBits(codes, block, maskOffset: 2)
    }

    /// d = (max − min)/31, m = min; q = trunc((x − m)/d + 0.5).
    private static func q5_1(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let (low, high) = minimumAndMaximum(x)
        let d = (high - low) / 31
        let inverse: Float = d != 0 ? 1 / d : 0
        storeHalf(d, block, 0)
        storeHalf(low, block, 2)
        var codes = [UInt8](repeating: 0, count: 32)
        for j in 0 ..< 32 { codes[j] = min(31, truncatedByte((x[j] - low) * inverse + 0.5)) }
        storeFiveBits(codes, block, maskOffset: 4)
    }

    /// Low nibbles after the mask (element j and j+16 share byte j); bit 4 of element j is bit j of the mask.
    private static func storeFiveBits(_ codes: [UInt8], _ block: UnsafeMutableRawPointer, maskOffset: Int) {
        var mask: UInt32 = 0
        for j in 0 ..< 32 { mask |= UInt32(codes[j] >> 4) << UInt32(j) }
        block.storeBytes(of: mask.littleEndian, toByteOffset: maskOffset, as: UInt32.self)
        for j in 0 ..< 16 {
            let byte = (codes[j] & 0x0F) | (codes[j + 16] & 0x0F) << 4
            block.storeBytes(of: byte, toByteOffset: maskOffset + 4 + j, as: UInt8.self)
        }
    }

    /// C's `(int8_t)v` for the values these rules produce (0 ≤ v < 33), without a trap on NaN or overflow.
    @inline(__always)
    private static func truncatedByte(_ v: Float) -> UInt8 {
        guard v.isFinite, v > 0 else { return 0 }
        return UInt8(min(v, 127).rounded(.towardZero))
    }

    @inline(__always)
    private static func storeHalf(_ value: Float, _ block: UnsafeMutableRawPointer, _ offset: Int) {
        block.storeBytes(of: HalfConversion.bits(fromFloat: value).littleEndian, toByteOffset: offset, as: UInt16.self)
    }
}
