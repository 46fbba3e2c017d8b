/// f16 ↔ f32 conversion for KV storage. The vectorized path uses the exponent-rebias trick
/// (shift the 15 low bits into place, multiply by 2^112), exact for normals and subnormals.
public enum HalfConversion {
    /// Scalar twin.
    public static func toFloatScalar(_ source: UnsafePointer<Float16>, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0 ..< count { destination[i] = Float(source[i]) }
    }

    public static func toFloat(_ source: UnsafePointer<Float16>, _ destination: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeRawPointer(source)
        var i = 0
        let magic = SIMD8<Float>(repeating: Float(bitPattern: 0x7780_0000))  // 2^112
        while i + 8 <= count {
            let h = SIMD8<UInt32>(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt16>.self))
            let sign = (h & 0x8000) &<< 16
            let magnitude = (h & 0x7FFF) &<< 13
            var value = Float32SIMD.bits(magnitude) * magic
            // Inf/NaN: exponent 31 must map to 255, which the multiply does not do.
            let special = (h & 0x7C00) .== 0x7C00
            let specialBits = magnitude | 0x7F80_0000
            value = value.replacing(with: Float32SIMD.bits(specialBits), where: special)
            let result = Float32SIMD.bits(value.bitPattern | sign)
            UnsafeMutableRawPointer(destination + i).storeBytes(of: result, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { destination[i] = Float(source[i]); i += 1 }
    }

    public static func toHalf(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float16>, count: Int) {
        for i in 0 ..< count { destination[i] = Float16(source[i]) }
    }
}

enum Float32SIMD {
    @inline(__always) static func bits(_ b: SIMD8<UInt32>) -> SIMD8<Float> { unsafeBitCast(b, to: SIMD8<Float>.self) }
}

extension SIMD8 where Scalar == Float {
    @inline(__always) var bitPattern: SIMD8<UInt32> { unsafeBitCast(self, to: SIMD8<UInt32>.self) }
}
