/// The orthonormal Walsh–Hadamard rotation H/√d of a vector of d = 2^k values, in place, by the fast transform
/// (d·log₂d additions, then one exact scaling when log₂d is even). Rotating K and V rows before quantizing spreads
/// an outlier channel over all of them, so a block's scale is not set by one value (llama.cpp's "rotate activations"
/// for quantized KV caches). H/√d is its own inverse: rotating twice gives the row back, up to rounding.
public enum HadamardRotation {
    public static func supports(dimension d: Int) -> Bool { d >= 2 && d & (d - 1) == 0 }

    public static func rotate(_ x: UnsafeMutablePointer<Float>, count d: Int) {
        var h = 1
        while h < d {
            var start = 0
            while start < d {
                for j in start ..< start + h {
                    let a = x[j]
                    let b = x[j + h]
                    x[j] = a + b
                    x[j + h] = a - b
                }
                start += 2 * h
            }
            h *= 2
        }
        let scale = 1 / Float(d).squareRoot()
        for j in 0 ..< d { x[j] *= scale }
    }

    /// `row` rotated, as a new array (rotating a rotated row turns it back).
    public static func rotated(_ row: [Float]) -> [Float] {
        var row = row
        row.withUnsafeMutableBufferPointer { rotate($0.baseAddress!, count: $0.count) }
        return row
    }

    /// Calls `body` with a rotated copy of `rows` rows of `dimension` values (contiguous); `rows` is left as it is.
    public static func withRotatedCopy<R>(of rows: UnsafePointer<Float>, count: Int, dimension d: Int,
                                          _ body: (UnsafePointer<Float>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: count * d) { turned in
            let base = turned.baseAddress!
            base.initialize(from: rows, count: count * d)
            for r in 0 ..< count { rotate(base + r * d, count: d) }
            return body(base)
        }
    }
}
