import Kernels

/// Round-to-nearest asymmetric quantization of one group over the range `fit` chooses, scale and zero point stored
/// as f16, code = round((x − zero)/scale) clamped to the range. With min–max (scale = (max − min)/(2^bits − 1),
/// zero = min), |x − (scale·code + zero)| ≤ scale/2 up to the f16 rounding of scale and zero; least squares may
/// clip the extremes for a smaller error over the group (`RangeFit`).
public enum AsymmetricQuantizer {
    /// Quantizes `count` values read `stride` apart, giving each code to `store(i, code)`; returns the f16 bits
    /// of scale and zero.
    public static func quantize(_ x: UnsafePointer<Float>, count: Int, stride: Int, bits: Int, fit: RangeFit = .minMax,
                                store: (Int, UInt8) -> Void) -> (scale: UInt16, zero: UInt16) {
        var low = Float.greatestFiniteMagnitude
        var high = -Float.greatestFiniteMagnitude
        for i in 0 ..< count {
            low = min(low, x[i * stride])
            high = max(high, x[i * stride])
        }
        let levels = Float((1 << bits) - 1)
        var (zeroValue, scaleValue) = (low, (high - low) / levels)
        if fit == .meanSquare {
            (zeroValue, scaleValue) = RangeFit.fit(x, count: count, stride: stride, levels: levels,
                                                   low: low, high: high)
        }
        let scaleBits = HalfConversion.bits(fromFloat: scaleValue)
        let zeroBits = HalfConversion.bits(fromFloat: zeroValue)
        let scale = HalfConversion.float(fromBits: scaleBits)
        let zero = HalfConversion.float(fromBits: zeroBits)
        for i in 0 ..< count {
            store(i, UInt8(RangeFit.code(x[i * stride], levels: levels, zero: zero, scale: scale)))
        }
        return (scaleBits, zeroBits)
    }
}
