/// The vectorized exp llama.cpp's CPU backend uses for softmax and SiLU on AVX2 machines
/// (ARM's optimized-routines polynomial, max error ~1.5 ulp), reproduced lane by lane so outputs match it bit for bit.
public enum ExpApproximation {
    public static func exp(_ x: Float) -> Float {
        typealias F = FusedMultiplyAdd
        let r: Float = 0x1.8p23
        let z = F.fma(x, 0x1.715476p+0, r)
        let n = z - r
        let b = F.fma(-n, 0x1.7f7d1cp-20, F.fma(-n, 0x1.62e4p-1, x))
        // 2^n built directly in the exponent bits of z (whose low bits hold n).
        let e = z.bitPattern &<< 23
        let k = Float(bitPattern: e &+ (1 as Float).bitPattern)
        let u = b * b
        let j = F.fma(F.fma(F.fma(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, F.fma(0x1.555e66p-3, b, 0x1.fffdb6p-2)),
                      u, 0x1.ffffecp-1 * b)
        let magnitude = abs(n)
        guard magnitude > 126 else { return F.fma(k, j, k) }
        // Large |n|: scale in two steps so 2^n neither overflows nor underflows early.
        let g: UInt32 = n <= 0 ? 0x8200_0000 : 0
        let s1 = Float(bitPattern: g &+ 0x7F00_0000)
        if magnitude > 192 { return s1 * s1 }
        let s2 = Float(bitPattern: e &- g)
        return F.fma(s2, j, s2) * s1
    }

    /// silu(x) = x / (1 + exp(−x)), with this exp.
    @inline(__always)
    public static func silu(_ x: Float) -> Float {
        x / (1 + exp(0 - x))
    }
}
