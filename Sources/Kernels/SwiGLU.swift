import CKernels

/// gate ← silu(gate)·up, silu(x) = x / (1 + e^−x) (with llama.cpp's exp, see `ExpApproximation`).
public enum SwiGLU {
    public static func apply(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        if KernelDispatch.useAVX2 {
            tp_swiglu(gate, up, Int32(count))
            return
        }
        applyPortable(gate: gate, up: up, count: count)
    }

    /// The portable path (and the reference for the AVX2 kernel).
    public static func applyPortable(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0 ..< count { gate[i] = ExpApproximation.silu(gate[i]) * up[i] }
    }
}
