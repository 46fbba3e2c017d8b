import Kernels

/// The two corrections GEAR adds to a quantized backbone, for one side (keys or values) of a segment: a rank-r
/// factorization A·Bᵀ of the quantization residual (A [rows, r], B [d, r], both f16) and `outliers` exact elements
/// per row (channel index and f16 value).
struct LowRankAndOutliers {
    let dimension: Int
    let rank: Int
    let outliers: Int
    private(set) var factorA: ContiguousArray<UInt16> = []   // f16 bits, [rows, rank]
    private(set) var factorB: ContiguousArray<UInt16> = []   // f16 bits, [dimension, rank]
    private var outlierChannels: ContiguousArray<UInt8> = [] // [rows, outliers]
    private var outlierValues: ContiguousArray<UInt16> = []  // f16 bits, [rows, outliers]

    init(dimension: Int, rank: Int, outliers: Int) {
        self.dimension = dimension
        self.rank = rank
        self.outliers = outliers
    }

    var byteCount: Int { (factorA.count + factorB.count + outlierValues.count) * 2 + outlierChannels.count }

    /// Records each row's `outliers` largest magnitudes and returns the rows without them (zeros in their place).
    mutating func takeOutliers(_ rows: [[Float]]) -> [[Float]] {
        outlierChannels = []
        outlierValues = []
        return rows.map { row in
            var rest = row
            let channels = outliers > 0 ? SparseSegment.largest(row, kept: outliers) : []
            for c in channels {
                outlierChannels.append(UInt8(c))
                outlierValues.append(HalfConversion.bits(fromFloat: row[c]))
                rest[c] = 0
            }
            return rest
        }
    }

    /// Fits A·Bᵀ to `residual` ([rows][d]) by power iteration from a fixed start (deterministic), A's columns
    /// orthonormal; stores both in f16.
    mutating func fit(residual: [[Float]]) {
        let n = residual.count
        let d = dimension
        guard rank > 0, n > 0 else {
            factorA = ContiguousArray(repeating: 0, count: n * rank)
            factorB = ContiguousArray(repeating: 0, count: d * rank)
            return
        }
        var b = (0 ..< d * rank).map { Float(($0 &* 2_654_435_761) % 1001) / 500 - 1 }
        var a = [Float](repeating: 0, count: n * rank)
        for _ in 0 ..< 4 {
            // A = R·B, columns orthonormalized (Gram–Schmidt); B = Rᵀ·A.
            for i in 0 ..< n {
                for k in 0 ..< rank {
                    var s: Float = 0
                    for c in 0 ..< d { s += residual[i][c] * b[c * rank + k] }
                    a[i * rank + k] = s
                }
            }
            for k in 0 ..< rank {
                for earlier in 0 ..< k {
                    var dot: Float = 0
                    for i in 0 ..< n { dot += a[i * rank + k] * a[i * rank + earlier] }
                    for i in 0 ..< n { a[i * rank + k] -= dot * a[i * rank + earlier] }
                }
                var norm: Float = 0
                for i in 0 ..< n { norm += a[i * rank + k] * a[i * rank + k] }
                norm = norm.squareRoot()
                for i in 0 ..< n { a[i * rank + k] = norm > 0 ? a[i * rank + k] / norm : 0 }
            }
            for c in 0 ..< d {
                for k in 0 ..< rank {
                    var s: Float = 0
                    for i in 0 ..< n { s += residual[i][c] * a[i * rank + k] }
                    b[c * rank + k] = s
                }
            }
        }
        factorA = ContiguousArray(a.map { HalfConversion.bits(fromFloat: $0) })
        factorB = ContiguousArray(b.map { HalfConversion.bits(fromFloat: $0) })
    }

    /// `row` plus row `index`'s low-rank part and outliers.
    func added(to row: [Float], row index: Int) -> [Float] {
        var out = row
        for c in 0 ..< dimension {
            for k in 0 ..< rank { out[c] += float(factorA, index * rank + k) * float(factorB, c * rank + k) }
        }
        for o in 0 ..< outliers {
            let slot = index * outliers + o
            out[Int(outlierChannels[slot])] += float(outlierValues, slot)
        }
        return out
    }

    /// logits[j] += (Bᵀq)·A_j + Σ q[c]·outlier for j in `tokens`.
    func addLogits(query: UnsafePointer<Float>, tokens: Range<Int>, into logits: UnsafeMutablePointer<Float>) {
        var projected = [Float](repeating: 0, count: rank)
        for k in 0 ..< rank {
            for c in 0 ..< dimension { projected[k] += query[c] * float(factorB, c * rank + k) }
        }
        for j in tokens {
            var extra: Float = 0
            for k in 0 ..< rank { extra += projected[k] * float(factorA, j * rank + k) }
            for o in 0 ..< outliers {
                let slot = j * outliers + o
                extra += query[Int(outlierChannels[slot])] * float(outlierValues, slot)
            }
            logits[j - tokens.lowerBound] += extra
        }
    }

    /// output += B·(Σ_j w_j A_j) + Σ_j w_j · outliers_j (into their channels).
    func addWeightedSum(weights: UnsafePointer<Float>, tokens: Range<Int>, into output: UnsafeMutablePointer<Float>) {
        var mixed = [Float](repeating: 0, count: rank)
        for j in tokens {
            let w = weights[j - tokens.lowerBound]
            for k in 0 ..< rank { mixed[k] += w * float(factorA, j * rank + k) }
            for o in 0 ..< outliers {
                let slot = j * outliers + o
                output[Int(outlierChannels[slot])] += w * float(outlierValues, slot)
            }
        }
        for c in 0 ..< dimension {
            for k in 0 ..< rank { output[c] += float(factorB, c * rank + k) * mixed[k] }
        }
    }

    mutating func retain(_ indices: [Int]) {
        factorA = ContiguousArray(indices.flatMap { factorA[$0 * rank ..< ($0 + 1) * rank] })
        outlierChannels = ContiguousArray(indices.flatMap { outlierChannels[$0 * outliers ..< ($0 + 1) * outliers] })
        outlierValues = ContiguousArray(indices.flatMap { outlierValues[$0 * outliers ..< ($0 + 1) * outliers] })
    }

    @inline(__always)
    private func float(_ storage: ContiguousArray<UInt16>, _ index: Int) -> Float {
        HalfConversion.float(fromBits: storage[index])
    }
}

extension LowRankAndOutliers {
    func archive(into writer: inout ArchiveWriter) {
        writer.array(factorA)
        writer.array(factorB)
        writer.array(outlierChannels)
        writer.array(outlierValues)
    }

    /// Reads the parts of `rows` rows, checking every count and that each outlier's channel is within the row.
    static func unarchive(from reader: inout ArchiveReader, dimension: Int, rank: Int, outliers: Int,
                          rows: Int) throws -> LowRankAndOutliers {
        var part = LowRankAndOutliers(dimension: dimension, rank: rank, outliers: outliers)
        part.factorA = try reader.array(of: UInt16.self)
        part.factorB = try reader.array(of: UInt16.self)
        part.outlierChannels = try reader.array(of: UInt8.self)
        part.outlierValues = try reader.array(of: UInt16.self)
        guard part.factorA.count == rows * rank, part.factorB.count == dimension * rank,
              part.outlierChannels.count == rows * outliers, part.outlierValues.count == rows * outliers else {
            throw CacheArchiveError.corrupted("GEAR's low-rank or outlier parts do not match its tokens")
        }
        guard part.outlierChannels.allSatisfy({ Int($0) < dimension }) else {
            throw CacheArchiveError.corrupted("a GEAR outlier outside the head's \(dimension) channels")
        }
        return part
    }
}
