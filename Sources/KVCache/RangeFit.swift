import Kernels

/// The range [low, high] a group's uniform grid of 2^bits levels spans. Min–max (KIVI's choice) never clips but
/// spends most levels on the one or two extreme values of a group; at 2 bits, four levels over 32 values, a
/// slightly narrower range that clips those values has a far smaller squared error over the group. `meanSquare`
/// searches shrunken ranges and refits scale and zero point by least squares to the codes they give, keeping
/// whichever has the least squared error (the min–max range is one of the candidates, so it is never worse).
public enum RangeFit: String, Sendable, CaseIterable {
    case minMax = "minmax"
    case meanSquare = "mse"

    /// Shrink steps tried from each end of the min–max range, as fractions of its width.
    static let shrinkSteps: [Float] = [0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.3]
    /// Least-squares refits after the best shrink is found.
    static let refits = 2

    /// The best (zero, scale) for `count` values read `stride` apart, each candidate judged as stored (f16).
    static func fit(_ x: UnsafePointer<Float>, count: Int, stride: Int, levels: Float,
                    low: Float, high: Float) -> (zero: Float, scale: Float) {
        let width = high - low
        guard width > 0, width.isFinite else { return (low, 0) }
        var best = stored(zero: low, scale: width / levels)
        var bestError = squaredError(x, count: count, stride: stride, levels: levels,
                                     zero: best.zero, scale: best.scale)
        for a in shrinkSteps {
            for b in shrinkSteps where a + b < 0.7 {
                let (zero, scale) = stored(zero: low + a * width, scale: (width * (1 - a - b)) / levels)
                let error = squaredError(x, count: count, stride: stride, levels: levels, zero: zero, scale: scale,
                                         stoppingAt: bestError)
                if error < bestError {
                    bestError = error
                    best = (zero, scale)
                }
            }
        }
        for _ in 0 ..< refits {
            guard let line = leastSquares(x, count: count, stride: stride, levels: levels, zero: best.zero,
                                          scale: best.scale) else { break }
            let refit = stored(zero: line.zero, scale: line.scale)
            let error = squaredError(x, count: count, stride: stride, levels: levels, zero: refit.zero,
                                     scale: refit.scale, stoppingAt: bestError)
            guard error < bestError else { break }
            bestError = error
            best = refit
        }
        return best
    }

    /// Zero point and scale rounded to f16, as the quantizer stores them.
    static func stored(zero: Float, scale: Float) -> (zero: Float, scale: Float) {
        (HalfConversion.float(fromBits: HalfConversion.bits(fromFloat: zero)),
         HalfConversion.float(fromBits: HalfConversion.bits(fromFloat: scale)))
    }

    /// The code of `value`: round to nearest on the grid (halves away from zero, as `rounded()`), clamped to its
    /// levels (the quantizer's one rule); 0 where the grid has no width or the quotient is not finite.
    @inline(__always)
    static func code(_ value: Float, levels: Float, zero: Float, scale: Float) -> Float {
        guard scale > 0 else { return 0 }
        let q = (value - zero) / scale
        guard q.isFinite else { return 0 }
        // `rounded()` is a libm call on baseline x86-64 (a tenth of a prefill with `fit=mse`, which codes every value
        // ~50 times), and rounding by truncation compiles to a branch on a coin toss. A negative quotient clamps to 0
        // however it rounds, one past levels + 1 to levels; in between, adding and subtracting 1.5·2^23 rounds
        // exactly to the nearest integer with ties to even, and the rare tie that went down is moved up.
        let inRange = min(max(q, 0), levels + 1)
        let magic: Float = 12_582_912
        var rounded = (inRange + magic) - magic
        if rounded - inRange == -0.5 { rounded += 1 }
        return min(rounded, levels)
    }

    /// Σ (x − decoded x)² in order; once the partial sum reaches `bound` it is returned as it stands: adding
    /// squares never lowers a sum, so the whole would not be below `bound` either (most candidates stop early).
    static func squaredError(_ x: UnsafePointer<Float>, count: Int, stride: Int, levels: Float,
                             zero: Float, scale: Float, stoppingAt bound: Float = .infinity) -> Float {
        var sum: Float = 0
        for i in 0 ..< count {
            let v = x[i * stride]
            let e = v - (scale * code(v, levels: levels, zero: zero, scale: scale) + zero)
            sum += e * e
            if sum >= bound { return sum }
        }
        return sum
    }

    /// The line through (code, value) of least squared error: value ≈ scale·code + zero. Nil when every value
    /// takes one code (no slope to fit) or the fitted scale is not positive.
    static func leastSquares(_ x: UnsafePointer<Float>, count: Int, stride: Int, levels: Float,
                             zero: Float, scale: Float) -> (zero: Float, scale: Float)? {
        var (sq, sqq, sv, sqv) = (Float(0), Float(0), Float(0), Float(0))
        for i in 0 ..< count {
            let v = x[i * stride]
            let q = code(v, levels: levels, zero: zero, scale: scale)
            sq += q
            sqq += q * q
            sv += v
            sqv += q * v
        }
        let n = Float(count)
        let denominator = n * sqq - sq * sq
        guard denominator > 0 else { return nil }
        let newScale = (n * sqv - sq * sv) / denominator
        guard newScale > 0, newScale.isFinite else { return nil }
        return ((sv - newScale * sq) / n, newScale)
    }
}
