import Kernels

/// Per-layer, per-KV-head cache of keys and values. Layers and heads hold independent token sets,
/// so compression can shorten any head without the model knowing.
public final class KVCache {
    public let layers: [LayerCache]
    /// The model's index of each layer here: 0 ..< layers.count, except in a view (`view(layers:)`).
    public let modelLayers: [Int]
    public let kvHeads: Int
    public let headDimension: Int
    /// Positions consumed so far (the next token's position), whatever the cache retained.
    public var nextPosition = 0
    /// Attention statistics the model records for presses that asked for them (nil: none recorded).
    public var statistics: AttentionStatistics?
    /// Tokens sliding-window layers released (summed over their heads), see `advance(by:)`.
    public internal(set) var windowReleasedTokens = 0
    /// Whether sliding-window layers release the tokens no later query sees (false keeps them: for tests).
    public var releasesOutsideWindows = true
    /// Scores shared by presses compressing copies of this cache (see `ScoreMemo`); copies share it, views do not.
    public var scoreMemo: ScoreMemo?

    /// A cache for layers that attend as `specs` say (one per layer; the model supplies them).
    public init(specs: [AttentionSpec]) {
        precondition(!specs.isEmpty, "a cache needs at least one layer")
        kvHeads = specs[0].kvHeads
        headDimension = specs[0].headDimension
        layers = specs.map { LayerCache(spec: $0) }
        modelLayers = Array(specs.indices)
    }

    private init(copying layers: [LayerCache], modelLayers: [Int]) {
        self.layers = layers
        self.modelLayers = modelLayers
        kvHeads = layers[0].spec.kvHeads
        headDimension = layers[0].spec.headDimension
    }

    /// A cache over some of this cache's layers (indices into `layers`, ascending), sharing their storage: what a
    /// press does to the view's layers it does to this cache's. The view holds a copy of those layers' statistics;
    /// `absorbStatistics(of:layers:)` brings them back once the press has run.
    public func view(layers chosen: [Int]) -> KVCache {
        precondition(!chosen.isEmpty && chosen == chosen.sorted() && chosen.allSatisfy(layers.indices.contains),
                     "a view needs ascending layer indices of this cache")
        let v = KVCache(copying: chosen.map { layers[$0] }, modelLayers: chosen.map { modelLayers[$0] })
        v.nextPosition = nextPosition
        v.windowReleasedTokens = windowReleasedTokens
        v.releasesOutsideWindows = releasesOutsideWindows
        v.statistics = statistics?.selecting(layers: chosen)
        return v
    }

    /// Takes back the statistics of the layers `view` (made by `view(layers: chosen)`) holds, after a press ran on it.
    public func absorbStatistics(of view: KVCache, layers chosen: [Int]) {
        guard let statistics, let viewed = view.statistics else { return }
        statistics.replace(layers: chosen, from: viewed)
    }

    /// Exact bytes of every layer's segments (keys, values, scales, zero points, positions, shared storage once).
    public var byteCount: Int { layers.reduce(0) { $0 + $1.byteCount } }
    /// The part of `byteCount` positions take: 8 bytes per run of consecutive positions per head segment.
    public var positionBytes: Int { layers.reduce(0) { $0 + $1.positionBytes } }

    /// Stores every head's tokens as `storage` from now on (the tokens held are stored again that way).
    public func setStorage(_ storage: KVStorage) {
        for layer in layers { for head in layer.heads { head.setStorage(storage) } }
    }

    /// Stores one head's tokens as `storage` (heads may differ: per-head precision).
    public func setStorage(_ storage: KVStorage, layer: Int, head: Int) {
        layers[layer].heads[head].setStorage(storage)
    }

    /// Stores one head's tokens at two precisions (see `HeadCache.storeMixed`); its statistics follow the new order.
    public func storeMixed(layer: Int, head: Int, important: Set<Int>, high: TokenPrecision, low: TokenPrecision,
                           codes: CodeSettings) {
        let order = layers[layer].heads[head].storeMixed(important: important, high: high, low: low, codes: codes)
        statistics?.retain(layer: layer, head: head, indices: order)
    }

    /// Stores one head's tokens one segment per tier (see `HeadCache.storeTiers`), dropping those in no tier; its
    /// statistics follow the new order.
    public func storeTiers(layer: Int, head: Int, _ tiers: [(precision: TokenPrecision, indices: [Int])],
                           codes: CodeSettings) {
        let order = layers[layer].heads[head].storeTiers(tiers, codes: codes)
        statistics?.retain(layer: layer, head: head, indices: order)
    }

    /// Stores one head's tokens in the segment `make` builds (see `HeadCache.storeOwnTokens`); statistics follow.
    public func storeOwnTokens(layer: Int, head: Int,
                               _ make: (_ keys: [[Float]], _ values: [[Float]], _ positions: [Int32]) -> any KVSegment) {
        let order = layers[layer].heads[head].storeOwnTokens(make)
        statistics?.retain(layer: layer, head: head, indices: order)
    }

    /// Bits the cache spends per key or value element it holds, everything counted (codes, scales, zero
    /// points, positions): 16.25 for an f16 cache of 64-value heads, whose positions add 0.25.
    public var bitsPerElement: Double {
        let elements = layers.reduce(0) { $0 + $1.heads.reduce(0) { $0 + $1.attendedCount * $1.headDimension * 2 } }
        return elements == 0 ? 0 : Double(byteCount * 8) / Double(elements)
    }

    /// Bytes a dense f16 cache of `tokens` tokens would take (keys and values only), for savings figures.
    public func denseF16ByteCount(tokens: Int) -> Int { layers.count * kvHeads * tokens * headDimension * 2 * 2 }

    /// The most pressable tokens any head holds: the prompt length as presses see it, before any press.
    public var longestPressableHead: Int {
        layers.reduce(0) { longest, layer in layer.heads.reduce(longest) { max($0, $1.count) } }
    }

    /// Keeps only the tokens at `indices` (ascending) in one head, with their statistics.
    public func retain(layer: Int, head: Int, indices: [Int]) {
        layers[layer].heads[head].retain(indices: indices)
        statistics?.retain(layer: layer, head: head, indices: indices)
    }

    /// Inserts a token into one head (see `HeadCache.insert`); its statistics start at zero.
    public func insert(layer: Int, head: Int, key: [Float], value: [Float], position: Int) {
        let index = layers[layer].heads[head].insert(key: key, value: value, position: position)
        statistics?.insert(layer: layer, head: head, at: index)
    }

    /// Tokens retained per head (own and shared ones: what attention reads), summed over every layer and head.
    public var retainedTokens: Int { layers.reduce(0) { $0 + $1.heads.reduce(0) { $0 + $1.attendedCount } } }

    /// Moves the tokens at `indices` (ascending, present in both) out of head `head` of layers `first` and `first + 1`
    /// and into `tokens`, which both then read (see `SharedTokens`); the moved tokens' statistics are dropped.
    public func share(_ tokens: SharedTokens, firstLayer first: Int, head: Int, removing indices: (first: [Int], second: [Int])) {
        for (slot, removed) in [indices.first, indices.second].enumerated() {
            let layer = first + slot
            let headCache = layers[layer].heads[head]
            precondition(!headCache.isSharing, "layer \(layer) head \(head) already shares tokens")
            let gone = Set(removed)
            retain(layer: layer, head: head, indices: (0 ..< headCache.count).filter { !gone.contains($0) })
            headCache.attach(SharedTokenView(tokens, slot: slot))
        }
    }

    /// An independent deep copy (compress once, then ask several questions of copies). Storage two heads share is
    /// copied once and read by both copies, as in the original.
    public func copy() -> KVCache {
        let copies = SharedStorageCopies()
        let c = KVCache(copying: layers.map { $0.copy(sharing: copies) }, modelLayers: modelLayers)
        c.nextPosition = nextPosition
        c.windowReleasedTokens = windowReleasedTokens
        c.releasesOutsideWindows = releasesOutsideWindows
        c.statistics = statistics?.copy()
        c.scoreMemo = scoreMemo
        return c
    }

    /// The cache as bytes (see `CacheArchive`); attention statistics are not kept.
    /// - Throws: `CacheArchiveError.unsupported` for a segment kind the archive does not know.
    public func archive() throws -> [UInt8] {
        var writer = ArchiveWriter()
        writer.int(layers.count)
        writer.int(kvHeads)
        writer.int(headDimension)
        writer.int(nextPosition)
        writer.int(windowReleasedTokens)
        for layer in layers {
            for head in layer.heads { try head.archive(into: &writer) }
        }
        var bytes = CacheArchive.magic
        withUnsafeBytes(of: CacheArchive.version.littleEndian) { bytes += $0 }
        bytes += writer.bytes
        withUnsafeBytes(of: CacheArchive.checksum(bytes).littleEndian) { bytes += $0 }
        return bytes
    }

    /// Reads a cache `archive()` wrote, for a model whose layers attend as `specs` say.
    /// - Throws: `CacheArchiveError` for a truncated or corrupted archive, or one of another shape of model.
    public convenience init(archive bytes: [UInt8], specs: [AttentionSpec]) throws {
        let head = CacheArchive.magic.count + 4
        guard bytes.count >= head + 8 else { throw CacheArchiveError.truncated }
        guard Array(bytes[..<CacheArchive.magic.count]) == CacheArchive.magic else {
            throw CacheArchiveError.corrupted("not a TokenPress cache")
        }
        var trailer = ArchiveReader(Array(bytes[(bytes.count - 8)...]))
        guard try trailer.u64() == CacheArchive.checksum(bytes[..<(bytes.count - 8)]) else {
            throw CacheArchiveError.corrupted("the checksum does not match")
        }
        var version = ArchiveReader(Array(bytes[CacheArchive.magic.count ..< head]))
        let found = try version.u32()
        guard found == CacheArchive.version else {
            throw CacheArchiveError.otherVersion(found: found)
        }
        var reader = ArchiveReader(Array(bytes[head ..< (bytes.count - 8)]))
        self.init(specs: specs)
        let shape = (try reader.int(), try reader.int(), try reader.int())
        guard shape == (layers.count, kvHeads, headDimension) else {
            let why = "\(shape.0) layers × \(shape.1) KV heads × \(shape.2) dimensions, this model has "
                + "\(layers.count) × \(kvHeads) × \(headDimension)"
            throw CacheArchiveError.mismatch(why)
        }
        nextPosition = try reader.count()
        windowReleasedTokens = try reader.count()
        for layer in layers {
            for (index, _) in layer.heads.enumerated() {
                layer.replaceHead(index, with: try HeadCache.unarchive(from: &reader, headDimension: headDimension))
            }
        }
        guard reader.remaining == 0 else { throw CacheArchiveError.corrupted("\(reader.remaining) bytes left over") }
    }

    /// Forgets every token at position `count` or later, as if only the first `count` positions had been read: a
    /// prompt's cache reused by a prompt that shares only its start. Returns false, changing nothing, when a sliding
    /// window has released tokens (those before `count` could not come back).
    public func truncate(toPositions count: Int) -> Bool {
        guard count >= 0, count <= nextPosition, windowReleasedTokens == 0 else { return false }
        guard count < nextPosition else { return true }
        for (layer, layerCache) in layers.enumerated() {
            for (head, headCache) in layerCache.heads.enumerated() {
                // `positions` is built from the segments on every read: read once, or truncating is quadratic.
                let positions = headCache.positions
                let kept = positions.indices.filter { positions[$0] < count }
                retain(layer: layer, head: head, indices: kept)
            }
        }
        nextPosition = count
        return true
    }

    public func reserveCapacity(_ tokens: Int) {
        for layer in layers { for head in layer.heads { head.reserveCapacity(tokens) } }
    }

    public func removeAll() {
        for layer in layers { for head in layer.heads { head.removeAll() } }
        nextPosition = 0
        windowReleasedTokens = 0
        if let s = statistics {
            statistics = AttentionStatistics(needs: s.needs, layers: layers.count, kvHeads: kvHeads, momentSkip: s.momentSkip)
        }
    }
}
