/// The KV heads of one layer, and how the layer attends.
public final class LayerCache {
    public let spec: AttentionSpec
    public private(set) var heads: [HeadCache]

    public init(spec: AttentionSpec) {
        self.spec = spec
        heads = (0 ..< spec.kvHeads).map { _ in HeadCache(headDimension: spec.headDimension) }
    }

    init(spec: AttentionSpec, heads: [HeadCache]) {
        self.spec = spec
        self.heads = heads
    }

    public var byteCount: Int { heads.reduce(0) { $0 + $1.byteCount } }

    /// Puts `head` in place of head `index` (a cache read back from an archive).
    func replaceHead(_ index: Int, with head: HeadCache) {
        heads[index] = head
    }
    public var positionBytes: Int { heads.reduce(0) { $0 + $1.positionBytes } }

    /// Appends `tokens` tokens. `keys`, `values`: [tokens, kvHeads, headDimension].
    public func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, tokens: Int, firstPosition: Int) {
        let kvHeads = heads.count
        for (h, head) in heads.enumerated() {
            let d = head.headDimension
            head.append(keys: keys + h * d, values: values + h * d, stride: kvHeads * d, tokens: tokens,
                        firstPosition: firstPosition)
        }
    }

    /// An independent deep copy; storage shared with other layers is copied once per `copies`.
    func copy(sharing copies: SharedStorageCopies) -> LayerCache {
        LayerCache(spec: spec, heads: heads.map { $0.copy(sharing: copies) })
    }
}
