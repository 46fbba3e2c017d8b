// Based on: A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression.
import Kernels
import KVCache

/// Keeps the tokens whose keys have the smallest L2 norm (low-norm keys draw high attention).
public struct KnormPress: ScorerPress {
    public let compressionRatio: Double
    public var description: String { "knorm@\(compressionRatio)" }

    public init(compressionRatio: Double) { self.compressionRatio = compressionRatio }

    public func scores(layer: Int, head index: Int, cache: KVCache) -> [Float] {
        let head = cache.layers[layer].heads[index]
        let d = head.headDimension
        return head.withStorage { keys, _ in
            let raw = UnsafeRawPointer(keys).assumingMemoryBound(to: UInt16.self)
            return (0 ..< head.count).map { j in
                var sum: Float = 0
                for i in 0 ..< d {
                    let x = HalfConversion.float(fromBits: raw[j * d + i])
                    sum += x * x
                }
                return -sum.squareRoot()
            }
        }
    }
}
