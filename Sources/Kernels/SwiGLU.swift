/// gate ← silu(gate)·up, silu(x) = x / (1 + e^−x) (with llama.cpp's exp, see `ExpApproximation`).
public enum SwiGLU {
    public static func apply(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0 ..< count { gate[i] = ExpApproximation.silu(gate[i]) * up[i] }
    }
}
