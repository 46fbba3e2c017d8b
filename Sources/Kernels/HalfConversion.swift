/// f16 ↔ f32 conversion for KV storage. The vectorized path uses the exponent-rebias trick
/// (shift the 15 low bits into place, multiply by 2^112), exact for normals and subnormals.
public enum HalfConversion {
    /// f16 bits to f32 without the library call Swift makes on CPUs without F16C (~10× faster).
    @inline(__always)
    public static func float(fromBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let magnitude = UInt32(h & 0x7FFF) << 13
        if h & 0x7C00 == 0x7C00 { return Float(bitPattern: sign | magnitude | 0x7F80_0000) }  // inf, NaN
        return Float(bitPattern: sign | (Float(bitPattern: magnitude) * 0x1p112).bitPattern)
    }

    /// f32 to the nearest f16 (ties to even), as f16 bits; without a library call.
    @inline(__always)
    public static func bits(fromFloat x: Float) -> UInt16 {
        let b = x.bitPattern
        let sign = UInt16(truncatingIfNeeded: (b >> 16) & 0x8000)
        let magnitude = b & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {  // inf or NaN (keep NaN quiet)
            return sign | 0x7C00 | (magnitude > 0x7F80_0000 ? 0x0200 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF) : 0)
        }
        if magnitude >= 0x4780_0000 { return sign | 0x7C00 }  // ≥ 65536: overflow to inf
        if magnitude >= 0x3880_0000 {  // normal half: rebias the exponent, round the 13 dropped bits to even
            let rounded = magnitude &+ 0x0FFF &+ ((magnitude >> 13) & 1)
            let half = (rounded &- 0x3800_0000) >> 13
            return sign | UInt16(truncatingIfNeeded: half)  // a carry into the exponent (even to inf) is correct
        }
        // Subnormal half (or zero): let the FPU round x·2^24 to an integer count of 2^-24 steps, ties to even.
        let scaled = Float(bitPattern: magnitude) * 0x1p24
        return sign | UInt16(scaled.rounded(.toNearestOrEven))
    }

    /// x rounded to the nearest f16 value, as an f16 (the conversion every f16 store of the cache uses).
    @inline(__always)
    public static func half(_ x: Float) -> Float16 { Float16(bitPattern: bits(fromFloat: x)) }

    /// x rounded to the nearest f16 value, as a float.
    @inline(__always)
    public static func roundedToHalf(_ x: Float) -> Float { float(fromBits: bits(fromFloat: x)) }

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
}

enum Float32SIMD {
    @inline(__always) static func bits(_ b: SIMD8<UInt32>) -> SIMD8<Float> { unsafeBitCast(b, to: SIMD8<Float>.self) }
}

extension SIMD8 where Scalar == Float {
    @inline(__always) var bitPattern: SIMD8<UInt32> { unsafeBitCast(self, to: SIMD8<UInt32>.self) }
}
