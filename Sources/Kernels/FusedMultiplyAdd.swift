/// a·b + c rounded once, as the FMA instructions llama.cpp's kernels use. Computed in double: the product of two
/// floats is exact there, so only the final roundings remain (a double-rounding difference is ~2⁻²⁹ rare).
/// This keeps results identical to llama.cpp on any CPU, with or without an FMA unit.
public enum FusedMultiplyAdd {
    @inline(__always)
    public static func fma(_ a: Float, _ b: Float, _ c: Float) -> Float {
        Float(Double(a) * Double(b) + Double(c))
    }

    @inline(__always)
    public static func fma(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>(SIMD8<Double>(a) * SIMD8<Double>(b) + SIMD8<Double>(c))
    }

    @inline(__always)
    public static func fma(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16<Float>(SIMD16<Double>(a) * SIMD16<Double>(b) + SIMD16<Double>(c))
    }
}

/// Horizontal sums in the exact association order of the x86 (AVX2) reductions llama.cpp uses.
public enum HorizontalSum {
    /// `hsum_float_8` and tinyBLAS's `hsum`: t = high half + low half, then (t0+t2) + (t1+t3).
    @inline(__always)
    public static func of8(_ a: SIMD8<Float>) -> Float {
        let t = a.highHalf + a.lowHalf
        return (t[0] + t[2]) + (t[1] + t[3])
    }

    /// `GGML_F32x8_REDUCE` of four 8-lane accumulators: x0+x2, x1+x3, their sum, then halves and two `hadd`s.
    @inline(__always)
    public static func ofFour8(_ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>) -> Float {
        let x = (x0 + x2) + (x1 + x3)
        let t = x.lowHalf + x.highHalf
        return (t[0] + t[1]) + (t[2] + t[3])
    }
}
