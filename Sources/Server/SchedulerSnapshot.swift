import KVCache

/// What one running sequence holds, as `GET /slots` and the page show it.
struct SequenceSnapshot: Codable, Sendable {
    let id: Int
    /// "prompt" while the prompt is read, "decoding" after.
    let state: String
    let promptTokens: Int
    let cachedTokens: Int
    let generatedTokens: Int
    /// Tokens at positions in the cache (compressed tokens included).
    let positions: Int
    let bytes: Int
    let denseBytes: Int
    let applied: String
    /// Bytes per layer, then per KV head within each layer.
    let layerBytes: [Int]
    let headBytes: [[Int]]

    enum CodingKeys: String, CodingKey {
        case id, state, positions, bytes, applied
        case promptTokens = "prompt_tokens"
        case cachedTokens = "cached_tokens"
        case generatedTokens = "generated_tokens"
        case denseBytes = "dense_f16_bytes"
        case layerBytes = "layer_bytes"
        case headBytes = "head_bytes"
    }

    init(_ sequence: RunningSequence) {
        let cache = sequence.cache
        id = sequence.identifier
        state = sequence.isReadingPrompt ? "prompt" : "decoding"
        promptTokens = sequence.job.prompt.count
        cachedTokens = sequence.cachedTokens
        generatedTokens = sequence.decoder.result.tokens.count
        positions = cache.nextPosition
        bytes = cache.byteCount
        denseBytes = cache.denseF16ByteCount(tokens: cache.nextPosition)
        applied = sequence.job.compression.applied
        layerBytes = cache.layers.map(\.byteCount)
        headBytes = cache.layers.map { $0.heads.map(\.byteCount) }
    }
}

/// A cached prompt kept for reuse, as `/slots` lists it (its `id` is what `/slots/{id}?action=save` takes).
struct PromptCacheSnapshot: Codable, Sendable {
    let id: Int
    let tokens: Int
    let bytes: Int
    let compression: String
    /// True for an uncompressed cache that any prompt sharing its start can continue.
    let extendable: Bool

    init(_ entry: PrefixCache.Entry) {
        id = entry.id
        tokens = entry.tokens.count
        bytes = entry.bytes
        compression = entry.compression
        extendable = entry.extendable
    }
}

/// The scheduler's state between two steps.
struct SchedulerSnapshot: Codable, Sendable {
    var sequences: [SequenceSnapshot] = []
    var promptCaches: [PromptCacheSnapshot] = []
    var waiting = 0
    var prefixCacheBytes = 0
    var prefixCacheEntries = 0

    enum CodingKeys: String, CodingKey {
        case sequences, waiting
        case promptCaches = "prompt_caches"
        case prefixCacheBytes = "prefix_cache_bytes"
        case prefixCacheEntries = "prefix_cache_entries"
    }
}
