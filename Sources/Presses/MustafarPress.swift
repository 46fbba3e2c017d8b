// Based on: Mustafar: Promoting Unstructured Sparsity for KV Cache Pruning in LLM Inference.
import KVCache

/// Keeps every token but prunes its key and value elements: in each row only the `1 − sparsity` share of
/// largest-magnitude values stays, stored as a bitmap and the kept values (`SparseSegment`), and attention runs
/// on that sparse form. Applied to the prompt once it is in; generated tokens stay dense.
public struct MustafarPress: KVPress {
    public let sparsity: Double
    public var description: String { "mustafar:sparsity=\(sparsity)" }

    public enum Defaults {
        public static let sparsity = 0.5
    }

    public init(sparsity: Double = Defaults.sparsity) throws {
        guard sparsity > 0, sparsity < 1 else {
            let reason = "must be in (0, 1) (the share of each row's elements pruned), got \(sparsity)"
            throw PressError.invalidParameter(name: "sparsity", reason: reason)
        }
        self.sparsity = sparsity
    }

    /// Values each row keeps: at least one.
    public func kept(dimension: Int) -> Int { max(1, dimension - Int((sparsity * Double(dimension)).rounded())) }

    public func compress(_ cache: KVCache) throws {
        let d = cache.headDimension
        let kept = kept(dimension: d)
        for (l, layer) in cache.layers.enumerated() {
            for h in layer.heads.indices {
                cache.storeOwnTokens(layer: l, head: h) { keys, values, positions in
                    let sparse = SparseSegment(headDimension: d, kept: kept)
                    for t in positions.indices { sparse.append(key: keys[t], value: values[t], position: positions[t]) }
                    return sparse
                }
            }
        }
    }
}

extension MustafarPress {
    public static let declaration = PressDeclaration(
        name: "mustafar", family: .precision,
        summary: "Mustafar: every token kept, each key and value row pruned to its largest `1 − sparsity` values "
            + "(bitmap + f16 values), attended in that sparse form",
        paper: "Mustafar: Promoting Unstructured Sparsity for KV Cache Pruning in LLM Inference",
        parameters: [.real("sparsity", Defaults.sparsity, "share of each row's elements pruned, in (0, 1)")],
        ignoresRatio: true,
        factory: .standalone { try MustafarPress(sparsity: $0.real("sparsity")) })
}
