/// y = x / sqrt(mean(x²) + ε) · weight, with the sum of squares in double as llama.cpp does.
public enum RMSNorm {
    public static func apply(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float,
                             output y: UnsafeMutablePointer<Float>, count: Int) {
        var sum: Double = 0
        for i in 0 ..< count { sum += Double(x[i] * x[i]) }
        let scale = 1 / (Float(sum / Double(count)) + epsilon).squareRoot()
        for i in 0 ..< count { y[i] = (x[i] * scale) * weight[i] }
    }
}
