import KVCache
import Presses
import Sampling
import Tokenizer

/// One sequence's decoding once its prompt is in the cache: takes the logits of its last position, picks the next
/// token, turns tokens into text and watches stop strings, the token limit and the context. `InferenceEngine.generate`
/// runs one of these; the server runs several, their forward passes batched (`LanguageModel.forward(batch:)`).
public struct SequenceDecoder {
    public private(set) var result = GenerationResult()
    public let maxTokens: Int
    private var sampler: SamplerChain
    private var history: [Int]
    private var decoder = StreamingDecoder()
    private var stops: StopStringMatcher
    private let until: ((String) -> Bool)?
    private let tokenizer: Tokenizer
    private let contextLength: Int
    /// False: end-of-generation tokens are kept like any other (llama-server's `ignore_eos`).
    private let stopsAtEndOfGeneration: Bool
    /// True once generation has ended; `result.stopReason` says why.
    public private(set) var isFinished = false

    public init(prompt: [Int], maxTokens: Int, sampling: SamplingParameters, stopStrings: [String],
                tokenizer: Tokenizer, contextLength: Int, until: ((String) -> Bool)? = nil,
                stopsAtEndOfGeneration: Bool = true) {
        self.maxTokens = maxTokens
        sampler = SamplerChain(sampling)
        history = prompt
        stops = StopStringMatcher(stops: stopStrings)
        self.until = until
        self.tokenizer = tokenizer
        self.contextLength = contextLength
        self.stopsAtEndOfGeneration = stopsAtEndOfGeneration
    }

    /// Reads the logits of the sequence's last position and returns the token to run through the model next, or nil
    /// when generation has ended (text already decoded is passed to `onText`; call `finish` then).
    /// - Parameter press: a press that keeps the cache small while decoding may move its tokens to positions within
    ///   the context (keys re-rotated) so generation goes on past it, as StreamingLLM does.
    public mutating func next(logits: [Float], cache: KVCache, press: (any KVPress)?,
                              onText: (String) -> Void) throws -> Int? {
        if result.tokens.count >= maxTokens { return end(.maxTokens) }
        if cache.nextPosition >= contextLength {
            let moved = press?.compressesDuringDecoding == true ? cache.reindex() : 0
            if moved == 0 || cache.nextPosition >= contextLength { return end(.contextFull) }
            result.statistics.positionReindexings += 1
        }
        // A broken file can make every logit NaN; sampling would then pick nothing in particular.
        guard logits.allSatisfy(\.isFinite) else { throw EngineError.nonFiniteLogits(step: result.tokens.count) }
        let token = sampler.sample(logits: logits, history: history)
        if stopsAtEndOfGeneration, tokenizer.endOfGeneration.contains(token) { return end(.endOfGeneration) }
        result.tokens.append(token)
        history.append(token)
        let (text, stopped) = stops.feed(decoder.append(tokenizer.piece(token)))
        result.text += text
        onText(text)
        if stopped { return end(.stopString) }
        if let until, until(result.text) { return end(.condition) }
        if result.tokens.count >= maxTokens { return end(.maxTokens) }
        return token
    }

    /// Ends generation early for a reason of the caller's (e.g. the client went away).
    public mutating func stop(_ reason: StopReason) {
        _ = end(reason)
    }

    /// Passes on the text held back (a partial character or a possible stop string's start) and returns the result.
    public mutating func finish(onText: (String) -> Void) -> GenerationResult {
        if result.stopReason != .stopString {
            let tail = stops.feed(decoder.flush()).emit + stops.flush()
            result.text += tail
            onText(tail)
        }
        result.statistics.generatedTokens = result.tokens.count
        return result
    }

    private mutating func end(_ reason: StopReason) -> Int? {
        result.stopReason = reason
        isFinished = true
        return nil
    }
}
