import Foundation
import Kernels

/// How one layer attends, supplied by the model: everything about attention that differs between architectures.
/// The cache, attention, statistics and presses read it instead of assuming llama's choices.
public struct AttentionSpec: Sendable, Equatable {
    public let headDimension: Int
    public let queryHeads: Int
    public let kvHeads: Int
    /// The factor on every logit q · k before the softmax.
    public let scale: Float
    /// The rotation of queries and keys: layout, base and rotated dimensions of this layer.
    public let rope: RoPE
    /// When set, a query at position p sees only keys at positions p − window + 1 ... p, and the layer keeps at
    /// most that many tokens.
    public let slidingWindow: Int?
    /// When set, a logit z becomes cap · tanh(z / cap) (after `scale`).
    public let logitSoftCap: Float?

    public init(headDimension: Int, queryHeads: Int, kvHeads: Int, scale: Float, rope: RoPE,
                slidingWindow: Int? = nil, logitSoftCap: Float? = nil) {
        precondition(kvHeads > 0 && queryHeads % kvHeads == 0, "query heads must be a multiple of KV heads")
        self.headDimension = headDimension
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.scale = scale
        self.rope = rope
        self.slidingWindow = slidingWindow
        self.logitSoftCap = logitSoftCap
    }

    /// Scaled dot-product attention as the transformer paper defines it (scale 1/√d), with `rope`.
    public static func scaledDotProduct(headDimension: Int, queryHeads: Int, kvHeads: Int, rope: RoPE) -> AttentionSpec {
        AttentionSpec(headDimension: headDimension, queryHeads: queryHeads, kvHeads: kvHeads,
                      scale: 1 / Float(headDimension).squareRoot(), rope: rope)
    }

    /// Query heads per KV head (grouped-query attention).
    public var groupSize: Int { queryHeads / kvHeads }

    /// The query heads that read KV head `head`.
    public func queryHeads(of head: Int) -> Range<Int> { head * groupSize ..< (head + 1) * groupSize }

    /// The first position a query at `position` sees.
    public func firstVisible(from position: Int) -> Int {
        guard let window = slidingWindow else { return Int.min }
        return position - window + 1
    }

    /// Attention weights from logits q · k, in place: scaled, soft-capped when the layer caps them, softmax.
    public func softmax(_ logits: UnsafeMutablePointer<Float>, count: Int) {
        guard let cap = logitSoftCap else {
            Softmax.apply(logits, count: count, scale: scale)
            return
        }
        for j in 0 ..< count { logits[j] = cap * tanhf(logits[j] * scale / cap) }
        Softmax.apply(logits, count: count, scale: 1)
    }
}
