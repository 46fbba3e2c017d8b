import Foundation

/// gate ← gelu(gate)·up with GELU's tanh approximation, as ggml's CPU backend computes it: the argument is rounded
/// to f16 and GELU read from a 65,536-entry table of f16 results (inputs ≤ −10 give 0, inputs ≥ 10 pass through).
/// Reading the same table is what makes Gemma's feed-forward bit-identical to llama.cpp's.
public enum GeGLU {
    public static func apply(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        table.withUnsafeBufferPointer { table in
            for i in 0 ..< count {
                gate[i] = gelu(gate[i], table: table.baseAddress!) * up[i]
            }
        }
    }

    /// GELU of one value through the f16 table (the argument rounded to f16 without a library call: Swift's
    /// Float16 conversions call into the runtime on x86).
    @inline(__always)
    static func gelu(_ x: Float, table: UnsafePointer<Float>) -> Float {
        if x <= -10 { return 0 }
        if x >= 10 { return x }
        return table[Int(HalfConversion.bits(fromFloat: x))]
    }

    /// The tanh approximation of GELU in f32: 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))).
    public static func geluTanh(_ x: Float) -> Float {
        let sqrtTwoOverPi: Float = 0.79788456080286535587989211986876
        let coefficient: Float = 0.044715
        return 0.5 * x * (1 + tanhf(sqrtTwoOverPi * x * (1 + coefficient * x * x)))
    }

    /// GELU of every f16 value, rounded to f16 and kept as the f32 of that f16 (made once, 256 KiB).
    static let table: [Float] = (0 ... UInt16.max).map { bits in
        Float(Float16(geluTanh(Float(Float16(bitPattern: bits)))))
    }
}
