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

extension ModelConfiguration {
    /// Checks a batch before it runs: every id inside the vocabulary, and room for it in the context.
    func checkBatch(_ tokens: [Int], nextPosition: Int) throws {
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw ModelError.invalidHyperparameter(key: "token", reason: "id \(bad) is outside the vocabulary of \(vocabularySize)")
        }
        guard nextPosition + tokens.count <= contextLength else {
            throw ModelError.contextOverflow(tokens: nextPosition + tokens.count, context: contextLength)
        }
    }
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

    /// Runs one token of each of several sequences, each at its own cache's next position, through the weights
    /// together (decode is bound by reading the weights: a batch of a few costs little more than one).
    /// - Returns: one row of logits per sequence, in order, flattened.
    func forward(batch tokens: [Int], caches: [KVCache]) throws -> [Float]

    /// How layer `layer` attends (scale, RoPE, window, soft-cap): what the cache, statistics and presses read.
    func attentionSpec(layer: Int) -> AttentionSpec

    /// A cache sized for this model.
    func makeCache() -> KVCache
}

extension LanguageModel {
    /// One sequence after the other: for models without a batched decode path.
    public func forward(batch tokens: [Int], caches: [KVCache]) throws -> [Float] {
        var logits: [Float] = []
        for (token, cache) in zip(tokens, caches) {
            logits += try forward(tokens: [token], cache: cache, logits: .lastToken)
        }
        return logits
    }

    /// Every layer's `attentionSpec(layer:)`, in order.
    public var attentionSpecs: [AttentionSpec] { (0 ..< configuration.layerCount).map { attentionSpec(layer: $0) } }

    public func makeCache() -> KVCache {
        KVCache(specs: attentionSpecs)
    }
}
