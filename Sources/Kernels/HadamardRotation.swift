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
}
