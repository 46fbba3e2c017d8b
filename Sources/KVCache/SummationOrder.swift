import Kernels

/// The two summation orders of llama.cpp's f16 dot products on AVX2 (see `CachedAttention`).
public enum SummationOrder: Sendable {
    /// `ggml_vec_dot_f16`: element e goes to accumulator e mod 32 (4 vectors × 8 lanes).
    case vectorDot
    /// tinyBLAS: element e goes to lane e mod 8 of one vector.
    case tiled

    public var accumulators: Int { self == .vectorDot ? 32 : 8 }

    /// The order's code in the C kernels (`tp_scores_f16`, `tp_weighted_sum_f16`).
    var kernelCode: Int32 { self == .tiled ? 0 : 1 }

    /// Σ a[i]·b[i] (inputs already f16-exact, so every product is exact).
    @inline(__always)
    public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        @inline(__always) func product(_ i: Int) -> SIMD8<Float> {
            if i + 8 <= count {
                let x = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let y = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                return x * y
            }
            var v = SIMD8<Float>()
            for k in 0 ..< max(0, count - i) { v[k] = a[i + k] * b[i + k] }
            return v
        }
        switch self {
        case .tiled:
            var acc = SIMD8<Float>()
            var i = 0
            while i < count { acc += product(i); i += 8 }
            return HorizontalSum.of8(acc)
        case .vectorDot:
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
            var i = 0
            while i < count {
                s0 += product(i)
                s1 += product(i + 8)
                s2 += product(i + 16)
                s3 += product(i + 24)
                i += 32
            }
            return HorizontalSum.ofFour8(s0, s1, s2, s3)
        }
    }

    /// Reduces the accumulators of element `i` (accumulator a at `lanes[a · stride + i]`) to one sum.
    @inline(__always)
    public func combine(_ lanes: UnsafePointer<Float>, element i: Int, stride: Int) -> Float {
        @inline(__always) func eight(_ first: Int) -> SIMD8<Float> {
            var v = SIMD8<Float>()
            for k in 0 ..< 8 { v[k] = lanes[(first + k) * stride + i] }
            return v
        }
        switch self {
        case .tiled:
            return HorizontalSum.of8(eight(0))
        case .vectorDot:
            return HorizontalSum.ofFour8(eight(0), eight(8), eight(16), eight(24))
        }
    }
}
