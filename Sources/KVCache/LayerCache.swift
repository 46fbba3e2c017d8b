/// The KV heads of one layer.
public final class LayerCache: @unchecked Sendable {
    public let heads: [HeadCache]

    public init(kvHeads: Int, headDimension: Int) {
        heads = (0 ..< kvHeads).map { _ in HeadCache(headDimension: headDimension) }
    }

    public var byteCount: Int { heads.reduce(0) { $0 + $1.byteCount } }

    /// Appends `tokens` tokens. `keys`, `values`: [tokens, kvHeads, headDimension].
    public func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, tokens: Int, firstPosition: Int) {
        let kvHeads = heads.count
        for (h, head) in heads.enumerated() {
            let d = head.headDimension
            for t in 0 ..< tokens {
                let offset = (t * kvHeads + h) * d
                head.append(key: keys + offset, value: values + offset, position: firstPosition + t)
            }
        }
    }
}
