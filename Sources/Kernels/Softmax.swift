import CKernels

/// In-place softmax of `x·scale`, as llama.cpp's `soft_max` on AVX2: exps by `ExpApproximation`,
/// summed per chunk of 8 (in `hsum_float_8` order) into a double.
public enum Softmax {
    public static func apply(_ x: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
        guard count > 0 else { return }
        if KernelDispatch.useAVX2 {
            tp_softmax(x, Int32(count), scale)
            return
        }
        applyPortable(x, count: count, scale: scale)
    }

    /// The portable path (and the reference for the AVX2 kernel).
    public static func applyPortable(_ x: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
        guard count > 0 else { return }
        var maximum = -Float.infinity
        for i in 0 ..< count { x[i] *= scale; maximum = max(maximum, x[i]) }
        var sum: Double = 0
        var chunk = SIMD8<Float>()
        for i in 0 ..< count {
            let e = ExpApproximation.exp(x[i] - maximum)
            x[i] = e
            chunk[i & 7] = e
            if i & 7 == 7 || i == count - 1 {
                sum += Double(HorizontalSum.of8(chunk))
                chunk = SIMD8<Float>()
            }
        }
        let inverse = Float(1 / sum)
        for i in 0 ..< count { x[i] *= inverse }
    }
}
