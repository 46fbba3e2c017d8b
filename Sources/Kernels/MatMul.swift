import CKernels

/// output[t, r] = Σ_c weights[r, c] · input[t, c], threaded over weight rows.
/// Formats with integer kernels multiply against 8-bit quantized activations (as llama.cpp does);
/// the others dequantize each weight row once and reuse it for every token.
public final class MatMul {
    private let activations = Q8Activations()
    private let kActivations = Q8KActivations()
    /// Use the scalar twins (for tests of the portable path).
    public var useScalarKernels = false

    public init() {}

    /// - Parameters:
    ///   - weights: [rows, columns]
    ///   - input: [tokens, columns]
    ///   - output: [tokens, rows]
    public func multiply(_ weights: WeightMatrix, input: UnsafePointer<Float>, tokens: Int, output: UnsafeMutablePointer<Float>) {
        if let format = weights.format as? any Q8DotFormat.Type {
            activations.quantize(input, rows: tokens, rowLength: weights.columns)
            multiplyQuantized(weights, format: format, tokens: tokens, output: output)
        } else if Self.usesQ8K(weights.format) {
            kActivations.quantize(input, rows: tokens, rowLength: weights.columns)
            multiplyQ8K(weights, tokens: tokens, output: output)
        } else {
            multiplyDequantized(weights, input: input, tokens: tokens, output: output)
        }
    }

    /// Several matrices over the same input (a block's query, key and value projections; its gate and up): the
    /// input is quantized once and all their rows are shared out in one parallel job, so a decode step waits on
    /// one barrier instead of one per matrix. Each output is exactly what `multiply` would write.
    /// - Parameter outputs: one [tokens, rows of that matrix] buffer per matrix.
    public func multiply(_ matrices: [WeightMatrix], input: UnsafePointer<Float>, tokens: Int,
                         outputs: [UnsafeMutablePointer<Float>]) {
        precondition(matrices.count == outputs.count, "one output per matrix")
        guard let fused = fusedFormat(of: matrices) else {
            for (weights, output) in zip(matrices, outputs) {
                multiply(weights, input: input, tokens: tokens, output: output)
            }
            return
        }
        activations.quantize(input, rows: tokens, rowLength: matrices[0].columns)
        let first = activations.row(0)
        let blocks = Int32(matrices[0].columns / 32)
        // Row r of the concatenation is row r − starts[m] of matrix m.
        var starts = [0]
        for weights in matrices { starts.append(starts[starts.count - 1] + weights.rows) }
        let boundaries = starts
        ParallelFor.run(boundaries[boundaries.count - 1], minimumChunk: 16) { range in
            for m in matrices.indices {
                let low = max(range.lowerBound, boundaries[m])
                let high = min(range.upperBound, boundaries[m + 1])
                guard low < high else { continue }
                let weights = matrices[m]
                tp_matmul_q8(fused, weights.data, weights.rowBytes, Int32(low - boundaries[m]),
                             Int32(high - boundaries[m]), blocks, first.quants, first.scales, first.sums,
                             Int32(tokens), outputs[m], weights.rows)
            }
        }
    }

    /// The C kernel's type code when every matrix can go through it in one job (same integer format and width, AVX2).
    private func fusedFormat(of matrices: [WeightMatrix]) -> Int32? {
        guard KernelDispatch.useAVX2, !useScalarKernels, let columns = matrices.first?.columns else { return nil }
        guard let format = matrices[0].format as? any Q8DotFormat.Type else { return nil }
        let same = matrices.allSatisfy { $0.columns == columns && ($0.format as? any Q8DotFormat.Type) == format }
        return same ? Int32(format.typeID) : nil
    }

    private func multiplyQuantized(_ weights: WeightMatrix, format: any Q8DotFormat.Type, tokens: Int,
                                   output: UnsafeMutablePointer<Float>) {
        let blocks = weights.columns / 32
        let rows = weights.rows
        let activations = self.activations
        let scalar = useScalarKernels
        if KernelDispatch.useAVX2 && !scalar {
            let first = activations.row(0)
            let typeID = Int32(format.typeID), rowBytes = weights.rowBytes
            ParallelFor.run(rows, minimumChunk: 16) { range in
                tp_matmul_q8(typeID, weights.data, rowBytes, Int32(range.lowerBound), Int32(range.upperBound), Int32(blocks),
                             first.quants, first.scales, first.sums, Int32(tokens), output, rows)
            }
            return
        }
        ParallelFor.run(rows, minimumChunk: 16) { range in
            // Rows in small tiles so a tile stays in L1 while every token passes over it.
            var tileStart = range.lowerBound
            while tileStart < range.upperBound {
                let tileEnd = min(tileStart + 16, range.upperBound)
                for t in 0 ..< tokens {
                    let a = activations.row(t)
                    let out = output + t * rows
                    for r in tileStart ..< tileEnd {
                        out[r] = scalar
                            ? format.dotScalar(row: weights.row(r), activations: a, blocks: blocks)
                            : format.dot(row: weights.row(r), activations: a, blocks: blocks)
                    }
                }
                tileStart = tileEnd
            }
        }
    }

    /// Q4_K, Q5_K and Q6_K (the rows of Q4_K_M and Q5_K_M files) multiply Q8_K activations in integers, as llama.cpp.
    static func usesQ8K(_ format: any QuantFormat.Type) -> Bool {
        format == BlockQ4_K.self || format == BlockQ5_K.self || format == BlockQ6_K.self
    }

    private func multiplyQ8K(_ weights: WeightMatrix, tokens: Int, output: UnsafeMutablePointer<Float>) {
        let rows = weights.rows
        let blocks = weights.columns / Q8KActivations.blockSize
        let a = kActivations
        if KernelDispatch.useAVX2 && !useScalarKernels {
            let typeID = Int32(weights.format.typeID)
            ParallelFor.run(rows, minimumChunk: 8) { range in
                _ = tp_matmul_q8k(typeID, weights.data, weights.rowBytes, Int32(range.lowerBound),
                                  Int32(range.upperBound), Int32(blocks), a.scales, a.quants, a.sums, Int32(tokens),
                                  output, rows)
            }
            return
        }
        let dot = weights.format == BlockQ4_K.self ? KQuantDot.q4K
            : weights.format == BlockQ5_K.self ? KQuantDot.q5K : KQuantDot.q6K
        ParallelFor.run(rows, minimumChunk: 8) { range in
            for r in range {
                for t in 0 ..< tokens {
                    output[t * rows + r] = dot(weights.row(r), blocks, a.scales + t * blocks,
                                               a.quants + t * blocks * 256, a.sums + t * blocks * 16)
                }
            }
        }
    }

    private func multiplyDequantized(_ weights: WeightMatrix, input: UnsafePointer<Float>, tokens: Int,
                                     output: UnsafeMutablePointer<Float>) {
        let columns = weights.columns, rows = weights.rows
        let typeID = Int32(weights.format.typeID)
        if KernelDispatch.useAVX2 && !useScalarKernels && (12 ... 14).contains(typeID) {
            // K-quants: each row decoded to f32 once (AVX2) and reused for every token.
            ParallelFor.run(rows, minimumChunk: 8) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: columns)
                defer { scratch.deallocate() }
                _ = tp_matmul_kquant(typeID, weights.data, weights.rowBytes, Int32(range.lowerBound), Int32(range.upperBound),
                                     Int32(columns), input, Int32(tokens), output, rows, scratch)
            }
            return
        }
        ParallelFor.run(rows, minimumChunk: 8) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: columns)
            defer { scratch.deallocate() }
            for r in range {
                weights.dequantizeRow(r, into: scratch)
                for t in 0 ..< tokens {
                    output[t * rows + r] = VectorMath.dot(scratch, input + t * columns, count: columns)
                }
            }
        }
    }
}
