import Foundation

/// gate ← silu(gate)·up, silu(x) = x / (1 + e^−x).
public enum SwiGLU {
    public static func apply(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0 ..< count {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }
}
