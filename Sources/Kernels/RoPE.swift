import Foundation

/// Which dimensions RoPE turns together.
public enum RoPELayout: Sendable, Hashable {
    /// llama.cpp's "normal" RoPE (llama): dimensions 2i and 2i + 1.
    case adjacentPairs
    /// llama.cpp's NEOX RoPE (Qwen, Gemma): dimensions i and i + dimensions/2.
    case neoxHalves
}

/// Rotary position embedding as llama.cpp applies it. Angles follow llama.cpp's recurrence θ ← θ·base^(−2/d) in
/// single precision, and the rotation uses its fused multiply-adds, so results match it bit for bit.
public struct RoPE: Sendable, Hashable {
    public let dimensions: Int
    public let base: Float
    public let layout: RoPELayout
    /// Divides pair i's angle (Llama 3's `rope_freqs.weight`: long wavelengths slowed for a longer context).
    public let frequencyFactors: [Float]?
    /// Multiplies every angle (linear RoPE scaling: 1 / the file's scaling factor).
    public let frequencyScale: Float

    public init(dimensions: Int, base: Float, layout: RoPELayout = .adjacentPairs, frequencyFactors: [Float]? = nil,
                frequencyScale: Float = 1) {
        precondition(frequencyFactors.map { $0.count == dimensions / 2 } ?? true, "one frequency factor per pair")
        self.dimensions = dimensions
        self.base = base
        self.layout = layout
        self.frequencyFactors = frequencyFactors
        self.frequencyScale = frequencyScale
    }

    /// Pair i's angle per position, in double precision (for presses that reason about rotations, not for keys).
    public func angularFrequency(pair i: Int) -> Double {
        let factor = Double(frequencyFactors?[i] ?? 1)
        return pow(Double(base), -2 * Double(i) / Double(dimensions)) / factor * Double(frequencyScale)
    }

    /// The pair of dimensions pair `i` turns, in `layout`.
    @inline(__always)
    public func pair(_ i: Int) -> (first: Int, second: Int) {
        layout == .adjacentPairs ? (2 * i, 2 * i + 1) : (i, i + dimensions / 2)
    }

    /// cos/sin for each of the `dimensions/2` pairs at `position`.
    public func table(position: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let scale = powf(base, -2 / Float(dimensions))
        var theta = Float(position)
        let scaled = frequencyFactors != nil || frequencyScale != 1
        for i in 0 ..< dimensions / 2 {
            // ggml's order: the angle divided by the pair's factor, then multiplied by the frequency scale.
            let angle = scaled ? frequencyScale * (theta / (frequencyFactors?[i] ?? 1)) : theta
            cos[i] = Foundation.cos(angle)
            sin[i] = Foundation.sin(angle)
            theta *= scale
        }
    }

    /// Rotates `heads` vectors of `headDimension` floats in place (only the first `dimensions` of each).
    public func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, headDimension: Int,
                       cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        for h in 0 ..< heads {
            let v = x + h * headDimension
            for i in 0 ..< dimensions / 2 {
                let (a, b) = pair(i)
                let x0 = v[a]
                let x1 = v[b]
                // The exact fusion llama.cpp's compiled loop uses: one product rounded, the other fused.
                v[a] = FusedMultiplyAdd.fma(cos[i], x0, -(sin[i] * x1))
                v[b] = FusedMultiplyAdd.fma(sin[i], x0, cos[i] * x1)
            }
        }
    }

    /// `row` (one head of `dimensions`-or-more values) rotated by `delta` positions: what re-indexing does to a
    /// stored key whose position changes by `delta` (rotations add up).
    public func rotated(_ row: [Float], by delta: Int) -> [Float] {
        var cos = [Float](repeating: 0, count: dimensions / 2)
        var sin = cos
        table(position: delta, cos: &cos, sin: &sin)
        var out = row
        rotate(&out, heads: 1, headDimension: row.count, cos: cos, sin: sin)
        return out
    }
}
