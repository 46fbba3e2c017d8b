import Foundation

/// Rotary position embedding, "normal" layout (pairs of adjacent dimensions), as llama.cpp applies to llama.
/// Angles follow llama.cpp's recurrence θ ← θ·base^(−2/d) in single precision, and the rotation uses its
/// fused multiply-adds, so results match it bit for bit.
public struct RoPE: Sendable {
    public let dimensions: Int
    public let base: Float

    public init(dimensions: Int, base: Float) {
        self.dimensions = dimensions
        self.base = base
    }

    /// cos/sin for each of the `dimensions/2` pairs at `position`.
    public func table(position: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let scale = powf(base, -2 / Float(dimensions))
        var theta = Float(position)
        for i in 0 ..< dimensions / 2 {
            cos[i] = Foundation.cos(theta)
            sin[i] = Foundation.sin(theta)
            theta *= scale
        }
    }

    /// Rotates `heads` vectors of `headDimension` floats in place (only the first `dimensions` of each).
    public func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, headDimension: Int,
                       cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        for h in 0 ..< heads {
            let v = x + h * headDimension
            for i in 0 ..< dimensions / 2 {
                let x0 = v[2 * i], x1 = v[2 * i + 1]
                // The exact fusion llama.cpp's compiled loop uses: one product rounded, the other fused.
                v[2 * i] = FusedMultiplyAdd.fma(cos[i], x0, -(sin[i] * x1))
                v[2 * i + 1] = FusedMultiplyAdd.fma(sin[i], x0, cos[i] * x1)
            }
        }
    }
}
