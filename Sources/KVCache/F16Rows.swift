import CKernels
import Kernels

/// Attention over rows stored as f16, with both kernels: the C kernels read the f16 bits directly; the portable
/// twin converts one row at a time to floats and adds in the same order, so both give the same bits.
enum F16Rows {
    /// logits[j] = query · row_j for the `count` rows at `rows`.
    static func logits(query: UnsafePointer<Float>, rows: UnsafePointer<Float16>, count: Int, dimension d: Int,
                       order: SummationOrder, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                       into logits: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        switch kernel {
        case .avx2:
            let bits = UnsafeRawPointer(rows).assumingMemoryBound(to: UInt16.self)
            tp_scores_f16(query, bits, Int32(count), Int32(d), order.kernelCode, logits)
        case .portable:
            for j in 0 ..< count {
                HalfConversion.toFloat(rows + j * d, scratch, count: d)
                logits[j] = order.dot(query, scratch, count: d)
            }
        }
    }

    /// output[i] = Σ_j f16(weights[j]) · row_j[i] for the `count` rows at `rows`; row j goes to accumulator
    /// j mod `order.accumulators`.
    static func weightedSum(weights: UnsafePointer<Float>, rows: UnsafePointer<Float16>, count: Int, dimension d: Int,
                            order: SummationOrder, kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        switch kernel {
        case .avx2:
            let bits = UnsafeRawPointer(rows).assumingMemoryBound(to: UInt16.self)
            tp_weighted_sum_f16(weights, bits, Int32(count), Int32(d), order.kernelCode, lanes, output)
        case .portable:
            let accumulators = order.accumulators
            lanes.update(repeating: 0, count: accumulators * d)
            for j in 0 ..< count {
                HalfConversion.toFloat(rows + j * d, scratch, count: d)
                let weight = HalfConversion.roundedToHalf(weights[j])
                VectorMath.axpy(weight, scratch, lanes + (j % accumulators) * d, count: d)
            }
            for i in 0 ..< d { output[i] = order.combine(lanes, element: i, stride: d) }
        }
    }

    /// `logits` in `.vectorDot` order for `queryCount` queries at `queries + g·d` at once, query g's logits at
    /// `logits + g·stride` (d a multiple of 32): the AVX2 kernel reads each row once for all of them, with the bits
    /// of `logits` query by query. `scratch` holds d floats.
    static func groupLogits(queries: UnsafePointer<Float>, queryCount: Int, rows: UnsafePointer<Float16>, count: Int,
                            dimension d: Int, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                            into logits: UnsafeMutablePointer<Float>, stride: Int) {
        guard count > 0 else { return }
        switch kernel {
        case .avx2:
            let bits = UnsafeRawPointer(rows).assumingMemoryBound(to: UInt16.self)
            tp_f16_group_scores(queries, Int32(queryCount), bits, Int32(count), Int32(d), logits, stride)
        case .portable:
            for g in 0 ..< queryCount {
                Self.logits(query: queries + g * d, rows: rows, count: count, dimension: d, order: .vectorDot,
                            kernel: kernel, scratch: scratch, into: logits + g * stride)
            }
        }
    }

    /// `weightedSum` in `.vectorDot` order for `queryCount` queries (weights at `weights + g·stride`, output at
    /// `output + g·d`) over `channels` only (a multiple of 8 wide; other channels are left alone), each row read once
    /// for all queries, with the bits of `weightedSum` query by query. `scratch` holds (32·queryCount + 1)·d floats.
    static func groupWeightedSum(weights: UnsafePointer<Float>, stride: Int, queryCount: Int, rows: UnsafePointer<Float16>,
                                 count: Int, channels: Range<Int>, dimension d: Int, kernel: AttentionKernel,
                                 scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let width = channels.count
        let lanes = scratch
        switch kernel {
        case .avx2:
            let bits = UnsafeRawPointer(rows).assumingMemoryBound(to: UInt16.self)
            tp_f16_group_weighted_sum(weights, stride, Int32(queryCount), bits, Int32(count), Int32(d),
                                      Int32(channels.lowerBound), Int32(channels.upperBound), lanes, output, d)
        case .portable:
            let order = SummationOrder.vectorDot
            let accumulators = order.accumulators
            let row = lanes + accumulators * width
            for g in 0 ..< queryCount {
                lanes.update(repeating: 0, count: accumulators * width)
                for j in 0 ..< count {
                    HalfConversion.toFloat(rows + j * d + channels.lowerBound, row, count: width)
                    let weight = HalfConversion.roundedToHalf(weights[g * stride + j])
                    VectorMath.axpy(weight, row, lanes + (j % accumulators) * width, count: width)
                }
                for (i, c) in channels.enumerated() {
                    output[g * d + c] = order.combine(lanes, element: i, stride: width)
                }
            }
        }
    }

    /// Row `index` of `storage` ([rows, d] f16) as floats.
    static func row(_ index: Int, of storage: ContiguousArray<Float16>, dimension d: Int) -> [Float] {
        storage[index * d ..< (index + 1) * d].map { HalfConversion.float(fromBits: $0.bitPattern) }
    }

    /// Keeps the rows at `indices` (ascending) of `storage`.
    static func retain(_ indices: [Int], of storage: ContiguousArray<Float16>, dimension d: Int) -> ContiguousArray<Float16> {
        // Row copies between buffers: appending slices row by row cost a sweep of 65 configurations about
        // two seconds a prompt.
        storage.withUnsafeBufferPointer { source in
            ContiguousArray(unsafeUninitializedCapacity: indices.count * d) { kept, initialized in
                for (row, i) in indices.enumerated() {
                    precondition(i >= 0 && (i + 1) * d <= source.count, "row \(i) out of the storage")
                    (kept.baseAddress! + row * d).initialize(from: source.baseAddress! + i * d, count: d)
                }
                initialized = indices.count * d
            }
        }
    }

    /// Rotates each row i of `storage` by RoPE at position `delta[i]`, rounding back to f16 (rows whose delta is 0
    /// stay untouched).
    static func rotate(_ storage: inout ContiguousArray<Float16>, by delta: [Int32], dimension d: Int, rope: RoPE) {
        let half = rope.dimensions / 2
        var tables: [Int32: (cos: [Float], sin: [Float])] = [:]
        var row = [Float](repeating: 0, count: d)
        for (i, change) in delta.enumerated() where change != 0 {
            if tables[change] == nil {
                var c = [Float](repeating: 0, count: half)
                var s = c
                rope.table(position: Int(change), cos: &c, sin: &s)
                tables[change] = (c, s)
            }
            let table = tables[change]!
            for j in 0 ..< d { row[j] = HalfConversion.float(fromBits: storage[i * d + j].bitPattern) }
            rope.rotate(&row, heads: 1, headDimension: d, cos: table.cos, sin: table.sin)
            for j in 0 ..< d { storage[i * d + j] = HalfConversion.half(row[j]) }
        }
    }
}
