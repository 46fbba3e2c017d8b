// Based on: Expected Attention: KV Cache Compression by Estimating Attention from Future Queries Distribution (arXiv 2510.00636).
import Foundation
import Kernels
import KVCache

/// Scores each key by the attention that future queries are expected to give it. The queries seen so far
/// (before RoPE, sinks left out) give a mean μ and covariance Σ per query head; RoPE averaged over the next
/// `futurePositions` positions, R̄, moves them to where future queries will be. For a Gaussian query,
/// E[exp(q·k/√d)] = exp(μ'·k/√d + kᵀΣ'k/2d) with μ' = R̄μ, Σ' = R̄ΣR̄ᵀ; the softmax of that over the keys,
/// averaged over the group and times ‖v‖, is the score. The first `sinks` tokens are always kept.
public struct ExpectedAttentionPress: HeadScorerPress {
    public let compressionRatio: Double
    public let futurePositions: Int
    public let sinks: Int
    public let useCovariance: Bool
    public let useValueNorm: Bool
    public var description: String { "expected@\(compressionRatio)" }
    public var scoreKey: String? {
        "expected future=\(futurePositions) sinks=\(sinks) covariance=\(useCovariance) values=\(useValueNorm)"
    }
    public var needs: AttentionNeeds { AttentionNeeds(queryMoments: true) }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let futurePositions = 512
        public static let sinks = 4
        public static let useCovariance = true
        public static let useValueNorm = true
    }

    public init(compressionRatio: Double, futurePositions: Int = Defaults.futurePositions, sinks: Int = Defaults.sinks,
                useCovariance: Bool = Defaults.useCovariance, useValueNorm: Bool = Defaults.useValueNorm) throws {
        guard futurePositions > 0 else {
            throw PressError.invalidParameter(name: "future", reason: "must be positive, got \(futurePositions)")
        }
        guard sinks >= 0 else { throw PressError.invalidParameter(name: "sinks", reason: "must be ≥ 0, got \(sinks)") }
        self.compressionRatio = compressionRatio
        self.futurePositions = futurePositions
        self.sinks = sinks
        self.useCovariance = useCovariance
        self.useValueNorm = useValueNorm
    }

    public func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float] {
        let statistics = try AttentionScoring.statistics(cache, for: self)
        let spec = cache.layers[layer].spec
        let kv = cache.layers[layer].heads[head]
        let d = spec.headDimension
        let n = kv.count
        let first = min(sinks, n)
        guard n > first else { return Array(repeating: .infinity, count: n) }
        let keys = kv.keyRows()
        let rotation = averageRotation(rope: spec.rope, start: cache.nextPosition, dimension: d)
        let group = cache.layers[layer].spec.queryHeads(of: head)
        var mean = [Float](repeating: 0, count: n - first)
        for qh in group {
            guard let moments = statistics.queryMoments(layer: layer, queryHead: qh, headDimension: d) else {
                throw PressError.windowLargerThanPrompt(press: description, window: sinks + 1, tokens: cache.nextPosition)
            }
            let mu = rotate(moments.mean, rotation, rope: spec.rope)
            let sigma = useCovariance ? rotateCovariance(moments.covariance, rotation, rope: spec.rope, dimension: d) : []
            var logits = [Float](repeating: 0, count: n - first)
            var projected = [Float](repeating: 0, count: d)
            let scale = spec.scale
            let halfScaleSquared = scale * scale / 2
            keys.withUnsafeBufferPointer { k in
                for j in first ..< n {
                    let key = k.baseAddress! + j * d
                    var z = VectorMath.dot(mu, key, count: d) * scale
                    if useCovariance {
                        sigma.withUnsafeBufferPointer { s in
                            for i in 0 ..< d { projected[i] = VectorMath.dot(s.baseAddress! + i * d, key, count: d) }
                        }
                        // E[exp(s·qᵀk)] over q ~ N(μ, Σ): exp(s·μᵀk + s²·kᵀΣk / 2), s the layer's scale.
                        z += VectorMath.dot(projected, key, count: d) * halfScaleSquared
                    }
                    logits[j - first] = z
                }
            }
            logits.withUnsafeMutableBufferPointer { Softmax.apply($0.baseAddress!, count: n - first) }
            for j in mean.indices { mean[j] += logits[j] / Float(group.count) }
        }
        if useValueNorm {
            let values = kv.valueRows()
            for j in first ..< n {
                var sum: Float = 0
                for i in 0 ..< d { sum += values[j * d + i] * values[j * d + i] }
                mean[j - first] *= sum.squareRoot()
            }
        }
        return Array(repeating: .infinity, count: first) + mean
    }

    /// Per rotated pair i, the mean of cos(pθᵢ) and sin(pθᵢ) over the next `futurePositions` positions p.
    public func averageRotation(rope: RoPE, start: Int, dimension d: Int) -> [(cos: Float, sin: Float)] {
        let pairs = min(rope.dimensions, d) / 2
        return (0 ..< pairs).map { i in
            let theta = rope.angularFrequency(pair: i)
            var c = 0.0, s = 0.0
            for p in start ..< start + futurePositions { c += cos(Double(p) * theta); s += sin(Double(p) * theta) }
            return (Float(c / Double(futurePositions)), Float(s / Double(futurePositions)))
        }
    }

    /// R̄x: each pair of `rope`'s layout turned as RoPE turns it (dimensions past the rotated ones unchanged).
    public func rotate(_ x: [Float], _ r: [(cos: Float, sin: Float)], rope: RoPE) -> [Float] {
        var y = x
        for (i, (c, s)) in r.enumerated() {
            let (a, b) = rope.pair(i)
            y[a] = c * x[a] - s * x[b]
            y[b] = s * x[a] + c * x[b]
        }
        return y
    }

    /// R̄ Σ R̄ᵀ: rotate every column, then every row.
    public func rotateCovariance(_ sigma: [Float], _ r: [(cos: Float, sin: Float)], rope: RoPE, dimension d: Int) -> [Float] {
        var columns = sigma
        for row in 0 ..< d {
            let rotated = rotate(Array(sigma[row * d ..< (row + 1) * d]), r, rope: rope)   // (Σ R̄ᵀ) row = R̄ (Σ row)
            columns.replaceSubrange(row * d ..< (row + 1) * d, with: rotated)
        }
        var result = columns
        for column in 0 ..< d {
            let rotated = rotate((0 ..< d).map { columns[$0 * d + column] }, r, rope: rope)
            for row in 0 ..< d { result[row * d + column] = rotated[row] }
        }
        return result
    }
}

extension ExpectedAttentionPress {
    public static let declaration = PressDeclaration(
        name: "expected", family: .scorer,
        summary: "expected attention of future queries: query mean and covariance (before RoPE), RoPE averaged over "
            + "the next `future` positions, × ‖v‖; sinks kept",
        statistics: "query moments", paper: "Expected Attention (arXiv 2510.00636)",
        parameters: [
            .integer("future", Defaults.futurePositions, "future positions RoPE is averaged over"),
            .integer("sinks", Defaults.sinks, "first tokens always kept"),
            .flag("covariance", Defaults.useCovariance, "1 to use the query covariance"),
            .flag("vnorm", Defaults.useValueNorm, "1 to weight by ‖v‖"),
        ],
        factory: .scorer { arguments in
            try ExpectedAttentionPress(compressionRatio: arguments.ratio, futurePositions: arguments.integer("future"),
                                       sinks: arguments.integer("sinks"), useCovariance: arguments.flag("covariance"),
                                       useValueNorm: arguments.flag("vnorm"))
        })
}
