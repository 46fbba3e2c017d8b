// Based on: A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression.
import Kernels
import KVCache

/// Keeps the tokens whose keys have the smallest L2 norm (low-norm keys draw high attention).
public struct KnormPress: HeadScorerPress {
    public let compressionRatio: Double
    public var description: String { "knorm@\(compressionRatio)" }
    public var scoreKey: String? { "knorm" }

    public init(compressionRatio: Double) { self.compressionRatio = compressionRatio }

    public func scores(layer: Int, head index: Int, cache: KVCache) -> [Float] {
        let head = cache.layers[layer].heads[index]
        let d = head.headDimension
        let keys = head.keyRows()
        return (0 ..< head.count).map { j in
            var sum: Float = 0
            for i in 0 ..< d { sum += keys[j * d + i] * keys[j * d + i] }
            return -sum.squareRoot()
        }
    }
}

extension KnormPress {
    public static let declaration = PressDeclaration(
        name: "knorm", family: .scorer, summary: "−‖key‖",
        paper: "A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression",
        factory: .scorer { KnormPress(compressionRatio: $0.ratio) })
}
