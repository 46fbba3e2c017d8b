import Kernels

/// Round-to-nearest asymmetric quantization of one group: scale = (max − min)/(2^bits − 1) and zero = min, both
/// stored as f16, code = round((x − zero)/scale) clamped to the range, so |x − (scale·code + zero)| ≤ scale/2
/// up to the f16 rounding of scale and zero.
public enum AsymmetricQuantizer {
    /// Quantizes `count` values read `stride` apart, giving each code to `store(i, code)`; returns the f16 bits
    /// of scale and zero.
    public static func quantize(_ x: UnsafePointer<Float>, count: Int, stride: Int, bits: Int,
                                store: (Int, UInt8) -> Void) -> (scale: UInt16, zero: UInt16) {
        var low = Float.greatestFiniteMagnitude
        var high = -Float.greatestFiniteMagnitude
        for i in 0 ..< count {
            low = min(low, x[i * stride])
            high = max(high, x[i * stride])
        }
        let levels = Float((1 << bits) - 1)
        let scaleBits = HalfConversion.bits(fromFloat: (high - low) / levels)
        let zeroBits = HalfConversion.bits(fromFloat: low)
        let scale = HalfConversion.float(fromBits: scaleBits)
        let zero = HalfConversion.float(fromBits: zeroBits)
        for i in 0 ..< count {
            let q = scale > 0 ? ((x[i * stride] - zero) / scale).rounded() : 0
            store(i, UInt8(min(max(q.isFinite ? q : 0, 0), levels)))
        }
        return (scaleBits, zeroBits)
    }
}
