import Foundation

/// In-place softmax of `x·scale`, sum accumulated in double (as llama.cpp's `soft_max`).
public enum Softmax {
    public static func apply(_ x: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
        guard count > 0 else { return }
        var maximum = -Float.infinity
        for i in 0 ..< count { x[i] *= scale; maximum = max(maximum, x[i]) }
        var sum: Double = 0
        for i in 0 ..< count {
            let e = expf(x[i] - maximum)
            x[i] = e
            sum += Double(e)
        }
        let inverse = Float(1 / sum)
        for i in 0 ..< count { x[i] *= inverse }
    }
}
