import CKernels
import Kernels

/// Attention over rows stored in one of llama.cpp's block formats, computed on the blocks: the query is quantized
/// to 8 bits once per call and dotted with every key row by the integer kernels the weight matrices use (as
/// llama.cpp multiplies a quantized K cache: Q converted to the format's `vec_dot_type`); value rows are decoded
/// one at a time and added with their weight. The AVX2 logits are bit-identical to the portable ones.
enum BlockRows {
    /// logits[j] = query · row_j for the `count` rows of `format` at `rows`. `scratch` holds `d` floats: the
    /// quantized query (d bytes of codes, then d/32 scales and d/32 sums) lives there.
    static func logits(query: UnsafePointer<Float>, rows: UnsafeRawPointer, count: Int, dimension d: Int,
                       format: any Q8DotFormat.Type, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                       into logits: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        let blocks = d / 32
        let quants = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: Int8.self)
        let scales = scratch + d / 4
        let sums = scales + blocks
        Q8Activations.quantizeRow(query, count: d, quants: quants, scales: scales, sums: sums)
        let rowBytes = blocks * format.blockBytes
        switch kernel {
        case .avx2:
            // A group of one query: the bits of tp_matmul_q8 for one token, eight rows reduced at a time.
            tp_group_logits_q(Int32(format.typeID), rows, rowBytes, Int32(count), Int32(blocks), 1, quants, scales,
                              sums, logits, count)
        case .portable:
            let activations = Q8Row(quants: quants, scales: scales, sums: sums)
            for j in 0 ..< count {
                logits[j] = format.dot(row: rows + j * rowBytes, activations: activations, blocks: blocks)
            }
        }
    }

    /// output[i] = Σ_j weights[j] · row_j[i] over the `count` rows of `format` at `rows`, on the codes: each block
    /// adds weight·scale times its codes, and the weighted minimums are added once per block at the end (the
    /// AVX2 kernel does the same operations). `scratch` holds `d` floats, `lanes` d / 32.
    static func weightedSum(weights: UnsafePointer<Float>, rows: UnsafeRawPointer, count: Int, dimension d: Int,
                            format: any Q8DotFormat.Type, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                            lanes: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let blocks = d / 32
        let rowBytes = blocks * format.blockBytes
        if kernel == .avx2 {
            tp_weighted_sum_q(Int32(format.typeID), rows, rowBytes, Int32(count), Int32(d), weights, lanes, output)
            return
        }
        portableWeightedSum(weights: weights, rows: rows, count: count, blocks: 0 ..< blocks, dimension: d,
                            format: format, scratch: scratch, into: output)
    }

    /// The portable weighted sum over the channels of `blocks` only (others are left alone). `scratch` holds
    /// 32 floats.
    private static func portableWeightedSum(weights: UnsafePointer<Float>, rows: UnsafeRawPointer, count: Int,
                                            blocks: Range<Int>, dimension d: Int, format: any Q8DotFormat.Type,
                                            scratch: UnsafeMutablePointer<Float>,
                                            into output: UnsafeMutablePointer<Float>) {
        let rowBytes = d / 32 * format.blockBytes
        let hasMinimum = format.typeID == BlockQ4_1.typeID || format.typeID == BlockQ5_1.typeID
        let out = UnsafeMutableRawPointer(output)
        let codes = UnsafeRawPointer(scratch)
        for b in blocks {
            (output + 32 * b).update(repeating: 0, count: 32)
            var minimums: Float = 0
            for j in 0 ..< count {
                let block = rows + j * rowBytes + b * format.blockBytes
                let (scale, minimum) = BlockCodes.decode(format, block: block, into: scratch)
                let weight = SIMD8<Float>(repeating: weights[j] * scale)
                if hasMinimum { minimums = FusedMultiplyAdd.fma(weights[j], minimum, minimums) }
                for k in 0 ..< 4 {
                    let offset = (32 * b + 8 * k) * 4
                    let sum = out.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                    let x = codes.loadUnaligned(fromByteOffset: 32 * k, as: SIMD8<Float>.self)
                    out.storeBytes(of: FusedMultiplyAdd.fma(weight, x, sum), toByteOffset: offset, as: SIMD8<Float>.self)
                }
            }
            if hasMinimum { for i in 32 * b ..< 32 * (b + 1) { output[i] += minimums } }
        }
    }

    /// `logits` for `queryCount` queries at `queries + g·d` at once, query g's logits at `logits + g·stride`: each
    /// block is decoded once for all of them (AVX2, or AVX-512 where the CPU has it), with the bits of `logits`
    /// query by query. `scratch` holds `queryCount · d` floats (the quantized queries).
    static func groupLogits(queries: UnsafePointer<Float>, queryCount: Int, rows: UnsafeRawPointer, count: Int,
                            dimension d: Int, format: any Q8DotFormat.Type, kernel: AttentionKernel,
                            scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>,
                            stride: Int) {
        guard count > 0 else { return }
        let blocks = d / 32
        let quants = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: Int8.self)
        let scales = scratch + queryCount * d / 4
        let sums = scales + queryCount * blocks
        for g in 0 ..< queryCount {
            Q8Activations.quantizeRow(queries + g * d, count: d, quants: quants + g * d, scales: scales + g * blocks,
                                      sums: sums + g * blocks)
        }
        let rowBytes = blocks * format.blockBytes
        switch kernel {
        case .avx2:
            tp_group_logits_q(Int32(format.typeID), rows, rowBytes, Int32(count), Int32(blocks), Int32(queryCount),
                              quants, scales, sums, logits, stride)
        case .portable:
            for g in 0 ..< queryCount {
                let activations = Q8Row(quants: quants + g * d, scales: scales + g * blocks, sums: sums + g * blocks)
                for j in 0 ..< count {
                    logits[g * stride + j] = format.dot(row: rows + j * rowBytes, activations: activations, blocks: blocks)
                }
            }
        }
    }

    /// `weightedSum` for `queryCount` queries (weights at `weights + g·stride`, output at `output + g·d`) over the
    /// channels of `blocks` (whole 32-value blocks), each block decoded once for all queries, with the bits of
    /// `weightedSum` query by query. `scratch` holds 32 floats.
    static func groupWeightedSum(weights: UnsafePointer<Float>, stride: Int, queryCount: Int, rows: UnsafeRawPointer,
                                 count: Int, blocks: Range<Int>, dimension d: Int, format: any Q8DotFormat.Type,
                                 kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                                 into output: UnsafeMutablePointer<Float>) {
        let rowBytes = d / 32 * format.blockBytes
        if kernel == .avx2 {
            tp_group_weighted_sum_q(Int32(format.typeID), rows, rowBytes, Int32(count), Int32(blocks.lowerBound),
                                    Int32(blocks.upperBound), Int32(queryCount), weights, stride, output, d)
            return
        }
        for g in 0 ..< queryCount {
            portableWeightedSum(weights: weights + g * stride, rows: rows, count: count, blocks: blocks, dimension: d,
                                format: format, scratch: scratch, into: output + g * d)
        }
    }

    /// Row `index` of `storage` decoded to floats.
    static func row(_ index: Int, of storage: ContiguousArray<UInt8>, dimension d: Int,
                    format: any Q8DotFormat.Type) -> [Float] {
        let rowBytes = d / 32 * format.blockBytes
        var row = [Float](repeating: 0, count: d)
        storage.withUnsafeBytes { bytes in
            row.withUnsafeMutableBufferPointer { out in
                format.dequantize(row: bytes.baseAddress! + index * rowBytes, count: d, into: out.baseAddress!)
            }
        }
        return row
    }
}
