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

    /// Row `index` of `storage` ([rows, d] f16) as floats.
    static func row(_ index: Int, of storage: ContiguousArray<Float16>, dimension d: Int) -> [Float] {
        storage[index * d ..< (index + 1) * d].map { HalfConversion.float(fromBits: $0.bitPattern) }
    }

    /// Keeps the rows at `indices` (ascending) of `storage`.
    static func retain(_ indices: [Int], of storage: ContiguousArray<Float16>, dimension d: Int) -> ContiguousArray<Float16> {
        var kept = ContiguousArray<Float16>()
        kept.reserveCapacity(indices.count * d)
        for i in indices { kept.append(contentsOf: storage[i * d ..< (i + 1) * d]) }
        return kept
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
