import Kernels

/// Row-wise steps every block of every architecture repeats, on the scratch views of a forward pass.
enum RowOperations {
    /// RMSNorm of `rows` rows of `width` floats each, from `x` into `y` (in place when they are the same).
    static func normalize(_ x: Buffer, into y: Buffer, weight: [Float], rows: Int, width: Int, epsilon: Float) {
        weight.withUnsafeBufferPointer { w in
            for t in 0 ..< rows {
                RMSNorm.apply(x.p + t * width, weight: w.baseAddress!, epsilon: epsilon, output: y.p + t * width,
                              count: width)
            }
        }
    }

    /// destination += source, element by element (the residual connection).
    static func add(_ source: Buffer, into destination: Buffer, count: Int) {
        for i in 0 ..< count { destination.p[i] += source.p[i] }
    }

    /// Adds `bias` to each of `rows` rows of `bias.count` floats (nothing when there is no bias).
    static func addBias(_ bias: [Float]?, to x: Buffer, rows: Int) {
        guard let bias else { return }
        let width = bias.count
        for t in 0 ..< rows {
            let row = x.p + t * width
            for i in 0 ..< width { row[i] += bias[i] }
        }
    }

    /// x ·= factor, element by element.
    static func scale(_ x: Buffer, by factor: Float, count: Int) {
        for i in 0 ..< count { x.p[i] *= factor }
    }
}

/// A view of part of the scratch buffer (no copy-on-write checks in the hot loop).
struct Buffer {
    let p: UnsafeMutablePointer<Float>
}

/// The activations of one forward pass of `tokens` tokens, as views into one reused allocation: x, normed,
/// projected [n, width]; q, attended [n, heads, headDim]; k, v [n, kvHeads, headDim]; gate, up [n, ff].
struct BlockScratch {
    let x, normed, projected, q, attended, k, v, gate, up: Buffer

    init(_ scratch: ScratchBuffer, configuration c: ModelConfiguration, tokens n: Int) {
        let width = n * c.embeddingLength
        let qDim = n * c.headCount * c.headDimension
        let kvDim = n * c.kvHeadCount * c.headDimension
        let ff = n * c.feedForwardLength
        var base = scratch.floats(3 * width + 2 * qDim + 2 * kvDim + 2 * ff)
        func take(_ size: Int) -> Buffer {
            defer { base += size }
            return Buffer(p: base)
        }
        (x, normed, projected) = (take(width), take(width), take(width))
        (q, attended) = (take(qDim), take(qDim))
        (k, v) = (take(kvDim), take(kvDim))
        (gate, up) = (take(ff), take(ff))
    }
}

extension MatMul {
    /// The logits of the rows `request` asks for: the final RMSNorm of their hidden states (`hidden`, [n, width])
    /// into `normed`, then the output matrix.
    func logits(hidden: Buffer, tokens n: Int, request: LogitsRequest, outputNorm: [Float], output: WeightMatrix,
                normed: Buffer, configuration c: ModelConfiguration) -> [Float] {
        let width = c.embeddingLength
        let first = request == .lastToken ? n - 1 : 0
        let rows = n - first
        RowOperations.normalize(Buffer(p: hidden.p + first * width), into: normed, weight: outputNorm, rows: rows,
                                width: width, epsilon: c.rmsEpsilon)
        var logits = [Float](repeating: 0, count: rows * c.vocabularySize)
        logits.withUnsafeMutableBufferPointer {
            multiply(output, input: normed.p, tokens: rows, output: $0.baseAddress!)
        }
        return logits
    }
}
