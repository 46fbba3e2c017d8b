import KVCache
import Models
import Presses

/// A prompt read into a cache one batch at a time, so a caller can interleave other work between batches (the
/// server decodes its other sequences between the batches of a long prompt).
public struct PromptPrefill {
    public let tokens: [Int]
    public let cache: KVCache
    public let press: (any KVPress)?
    /// Tokens per forward pass: the engine's batch size, or the press's chunk when it compresses while reading.
    public let step: Int
    /// Tokens of `tokens` read so far.
    public private(set) var done = 0
    /// The logits of the last token read.
    public private(set) var logits: [Float] = []
    /// The largest cache size seen after any batch.
    public private(set) var peakBytes: Int

    /// - Parameter press: when given, its statistics are recorded, its prefill chunk size is used and it may compress
    ///   between batches (`ChunkedPress`); `compress` itself is left to the caller.
    public init(tokens: [Int], cache: KVCache, press: (any KVPress)?, batchSize: Int) {
        self.tokens = tokens
        self.cache = cache
        self.press = press
        step = max(1, min(batchSize, press?.prefillChunk ?? batchSize))
        peakBytes = cache.byteCount
        press?.prepare(cache)
    }

    public var isFinished: Bool { done >= tokens.count }

    /// Reads the next batch through `model`.
    public mutating func advance(model: any LanguageModel) throws {
        guard !isFinished else { return }
        let end = min(done + step, tokens.count)
        let first = cache.nextPosition
        logits = try model.forward(tokens: Array(tokens[done ..< end]), cache: cache, logits: .lastToken)
        peakBytes = max(peakBytes, cache.byteCount)
        try press?.compressDuringPrefill(cache, positions: first ..< cache.nextPosition)
        done = end
    }
}
