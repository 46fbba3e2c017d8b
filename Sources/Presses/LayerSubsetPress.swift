import KVCache

/// A press run on some layers only; the others keep every token. kvpress presses only Gemma 3's global layers:
/// its sliding-window layers already hold no more than their window, so pressing them saves little and costs the
/// local context. The press sees a view of the chosen layers (`KVCache.view(layers:)`): budgets it shares across
/// layers (pyramid, layer-adaptive, razor) are shared among them, and head profiles are read for them.
public struct LayerSubsetPress: KVPress {
    public let inner: any KVPress
    /// Indices of the pressed layers, ascending.
    public let layers: [Int]
    /// How `description` names the layers ("global layers", or their list).
    public let label: String

    public init(_ inner: any KVPress, layers: [Int], label: String) {
        precondition(!layers.isEmpty && layers == layers.sorted(), "pressed layers must be ascending and not empty")
        self.inner = inner
        self.layers = layers
        self.label = label
    }

    public var description: String { "\(inner.description) (\(label))" }
    public var needs: AttentionNeeds { inner.needs }
    public var prefillChunk: Int? { inner.prefillChunk }
    public var compressesDuringDecoding: Bool { inner.compressesDuringDecoding }
    /// A precision press stores every layer its way: only eviction is kept to the chosen layers.
    public var storage: KVStorage? { inner.storage }

    public func compress(_ cache: KVCache) throws {
        try onChosenLayers(of: cache) { try inner.compress($0) }
    }

    public func compressDuringPrefill(_ cache: KVCache, positions: Range<Int>) throws {
        try onChosenLayers(of: cache) { try inner.compressDuringPrefill($0, positions: positions) }
    }

    public func compressDuringDecoding(_ cache: KVCache, step: Int) throws {
        try onChosenLayers(of: cache) { try inner.compressDuringDecoding($0, step: step) }
    }

    private func onChosenLayers(of cache: KVCache, _ body: (KVCache) throws -> Void) throws {
        let view = cache.view(layers: layers)
        defer { cache.absorbStatistics(of: view, layers: layers) }
        try body(view)
    }
}
