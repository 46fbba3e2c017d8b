import Foundation
import GGUF
import Kernels
import KVCache
import Models
import Presses
import Sampling
import Tokenizer

/// A loaded model with its tokenizer: prefill, token-by-token generation and perplexity.
public final class InferenceEngine {
    public let file: GGUFFile
    public let model: any LanguageModel
    public let tokenizer: Tokenizer
    /// Prompt tokens per forward pass during prefill (bounds activation memory, as llama.cpp's n_batch).
    public var batchSize = 512

    public init(modelPath: String) throws {
        file = try GGUFFile(path: modelPath)
        model = try ModelRegistry.load(file)
        tokenizer = try Tokenizer(file: file)
        guard tokenizer.vocabulary.count == model.configuration.vocabularySize else {
            let rows = model.configuration.vocabularySize
            throw TokenizerError.inconsistentVocabulary(
                "\(tokenizer.vocabulary.count) tokens in tokenizer.ggml.tokens but \(rows) rows in token_embd.weight")
        }
    }

    public var contextLength: Int { model.configuration.contextLength }

    /// How new caches store keys and values (`--cache-type-k/-v`); a precision press may override it per cache.
    public var cacheStorage: KVStorage = .f16

    /// A new, empty cache for this model, storing tokens as `cacheStorage` says.
    public func makeCache() -> KVCache {
        let cache = model.makeCache()
        if cacheStorage != .f16 { cache.setStorage(cacheStorage) }
        return cache
    }

    /// Sets `cacheStorage`, checked against this model's heads.
    public func useCacheStorage(_ storage: KVStorage) throws {
        try storage.check(dimension: model.makeCache().headDimension)
        cacheStorage = storage
    }

    /// Runs `tokens` through the model in batches; returns the logits of the last token.
    /// - Parameters:
    ///   - press: when given, its statistics are recorded, its prefill chunk size is used and it may compress
    ///     between passes (`ChunkedPress`); `compress` itself is left to the caller.
    ///   - peakBytes: raised to the largest cache size seen after any pass.
    public func prefill(_ tokens: [Int], cache: KVCache, press: (any KVPress)? = nil, peakBytes: inout Int) throws -> [Float] {
        var reading = PromptPrefill(tokens: tokens, cache: cache, press: press, batchSize: batchSize)
        while !reading.isFinished {
            try reading.advance(model: model)
        }
        peakBytes = max(peakBytes, reading.peakBytes)
        return reading.logits
    }

    /// Runs `tokens` through the model in batches; returns the logits of the last token.
    public func prefill(_ tokens: [Int], cache: KVCache) throws -> [Float] {
        var peak = 0
        return try prefill(tokens, cache: cache, peakBytes: &peak)
    }

    /// Applies `press` once the prompt is in, and drops the attention statistics when the press will not use them
    /// again (recording them while decoding would cost time for nothing).
    public func finishPrompt(_ cache: KVCache, press: any KVPress) throws {
        try press.compress(cache)
        if !press.compressesDuringDecoding { cache.statistics = nil }
    }

    /// Generates up to `maxTokens` tokens after `prompt`.
    /// - Parameters:
    ///   - cache: a cache already holding a prefix of the prompt's tokens (`cache.nextPosition` of them), or a new one.
    ///   - onText: receives text as it becomes final (never a broken UTF-8 sequence, never part of a stop string).
    ///   - press: compresses the cache once the prompt is in it (real bytes are freed; see `KVPress`).
    ///   - until: checked on the text so far after every token; generation stops once it holds (an evaluation stops
    ///     an answer that already contains everything it is scored for: later tokens cannot change its score).
    public func generate(prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stopStrings: [String] = [],
                         cache existing: KVCache? = nil, press: (any KVPress)? = nil,
                         onText: (String) -> Void = { _ in }, until: ((String) -> Bool)? = nil) throws -> GenerationResult {
        try checkGeneration(prompt: prompt, maxTokens: maxTokens)
        let cache = existing ?? makeCache()
        var sequence = SequenceDecoder(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stopStrings: stopStrings,
                                       tokenizer: tokenizer, contextLength: contextLength, until: until)
        var statistics = GenerationStatistics()
        statistics.promptTokens = prompt.count - cache.nextPosition

        let clock = ContinuousClock()
        var logits: [Float] = []
        var peak = cache.byteCount
        var unpressedBytes = 0
        let prefillTime = try clock.measure {
            // The last prompt token must run again to give fresh logits.
            if cache.nextPosition >= prompt.count { cache.removeAll() }
            logits = try prefill(Array(prompt[cache.nextPosition...]), cache: cache, press: press, peakBytes: &peak)
            unpressedBytes = cache.byteCount
            if let press { try finishPrompt(cache, press: press) }
        }
        statistics.recordPrompt(cache: cache, unpressedBytes: unpressedBytes, peakBytes: peak)
        statistics.prefillSeconds = prefillTime.seconds

        let decodeStart = clock.now
        while let token = try sequence.next(logits: logits, cache: cache, press: press, onText: onText) {
            logits = try model.forward(tokens: [token], cache: cache, logits: .lastToken)
            try press?.compressDuringDecoding(cache, step: sequence.result.tokens.count)
            statistics.peakCacheBytes = max(statistics.peakCacheBytes, cache.byteCount)
        }
        var result = sequence.finish(onText: onText)
        statistics.generatedTokens = result.tokens.count
        statistics.positionReindexings = result.statistics.positionReindexings
        statistics.decodeSeconds = (clock.now - decodeStart).seconds
        result.statistics = statistics
        return result
    }
}

extension InferenceEngine {
    /// Refuses a generation request the engine cannot run: a negative token count, an empty or too long prompt.
    func checkGeneration(prompt: [Int], maxTokens: Int) throws {
        guard maxTokens >= 0 else {
            throw EngineError.invalidParameter(name: "token count", reason: "\(maxTokens) is negative")
        }
        guard !prompt.isEmpty else { throw EngineError.emptyPrompt }
        guard prompt.count <= contextLength else {
            throw EngineError.promptTooLong(tokens: prompt.count, context: contextLength)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
