import KVCache

/// Hyperparameters every decoder-only transformer shares.
public struct ModelConfiguration: Sendable, Equatable {
    public var architecture: String
    public var vocabularySize: Int
    public var embeddingLength: Int        // model width
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDimension: Int
    public var feedForwardLength: Int
    public var contextLength: Int
    public var rmsEpsilon: Float
    public var ropeBase: Float
    public var ropeDimension: Int
}

/// Which rows of logits a forward pass returns.
public enum LogitsRequest: Sendable {
    case lastToken
    case allTokens
}

/// A causal language model that runs a batch of tokens through its layers, appending to a KV cache.
public protocol LanguageModel: AnyObject {
    var configuration: ModelConfiguration { get }

    /// Runs `tokens` at positions `cache.nextPosition ..< cache.nextPosition + tokens.count`.
    /// - Parameters:
    ///   - tokens: token ids, each in `0 ..< vocabularySize`.
    ///   - cache: receives every token's keys and values; its `nextPosition` advances.
    ///   - logits: which rows to return.
    /// - Returns: logits [rows, vocabularySize] flattened; rows is 1 or `tokens.count`.
    func forward(tokens: [Int], cache: KVCache, logits: LogitsRequest) throws -> [Float]

    /// How layer `layer` attends (scale, RoPE, window, soft-cap): what the cache, statistics and presses read.
    func attentionSpec(layer: Int) -> AttentionSpec

    /// A cache sized for this model.
    func makeCache() -> KVCache
}

extension LanguageModel {
    public func makeCache() -> KVCache {
        KVCache(specs: (0 ..< configuration.layerCount).map { attentionSpec(layer: $0) })
    }
}
