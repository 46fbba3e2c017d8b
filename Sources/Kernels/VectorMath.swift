import Foundation

/// Float vector primitives used by norms, attention and the generic matmul path.
public enum VectorMath {
    /// Σ a[i]·b[i], 16 lanes at a time.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= count {
            let x = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc += x * y
            i += 16
        }
        var sum = acc.sum()
        while i < count { sum += a[i] * b[i]; i += 1 }
        return sum
    }

    /// Scalar twin of `dot`.
    public static func dotScalar(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sum: Float = 0
        for i in 0 ..< count { sum += a[i] * b[i] }
        return sum
    }

    /// y[i] += alpha·x[i].
    @inline(__always)
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        let a = SIMD16<Float>(repeating: alpha)
        while i + 16 <= count {
            let xs = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let v = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) + a * xs
            ry.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count { y[i] += alpha * x[i]; i += 1 }
    }
}
