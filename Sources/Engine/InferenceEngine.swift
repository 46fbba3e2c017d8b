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
        if let press { press.prepare(cache) }
        let step = max(1, min(batchSize, press?.prefillChunk ?? batchSize))
        var logits: [Float] = []
        var start = 0
        while start < tokens.count {
            let end = min(start + step, tokens.count)
            let first = cache.nextPosition
            logits = try model.forward(tokens: Array(tokens[start ..< end]), cache: cache, logits: .lastToken)
            peakBytes = max(peakBytes, cache.byteCount)
            try press?.compressDuringPrefill(cache, positions: first ..< cache.nextPosition)
            start = end
        }
        return logits
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
        guard maxTokens >= 0 else { throw EngineError.invalidParameter(name: "token count", reason: "\(maxTokens) is negative") }
        guard !prompt.isEmpty else { throw EngineError.emptyPrompt }
        guard prompt.count <= contextLength else { throw EngineError.promptTooLong(tokens: prompt.count, context: contextLength) }
        let cache = existing ?? makeCache()
        var result = GenerationResult()
        result.statistics.promptTokens = prompt.count - cache.nextPosition

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
        result.statistics.pressSavedBytesAfterPrompt = unpressedBytes - cache.byteCount
        result.statistics.prefillSeconds = prefillTime.seconds
        result.statistics.cacheBytesAfterPrompt = cache.byteCount
        result.statistics.denseCacheBytesAfterPrompt = cache.denseF16ByteCount(tokens: cache.nextPosition)
        result.statistics.windowSavedBytesAfterPrompt = cache.windowSavedBytes
        result.statistics.peakCacheBytes = peak
        result.statistics.bitsPerElementAfterPrompt = cache.bitsPerElement
        result.statistics.layerBytesAfterPrompt = cache.layers.map(\.byteCount)

        var sampler = SamplerChain(sampling)
        var history = prompt
        var decoder = StreamingDecoder()
        var stops = StopStringMatcher(stops: stopStrings)
        let decodeStart = clock.now
        defer { result.statistics.decodeSeconds = (clock.now - decodeStart).seconds }
        while true {
            if result.tokens.count >= maxTokens { result.stopReason = .maxTokens; break }
            // Prompt and generated tokens together never exceed the context — unless a press keeps the cache
            // small while decoding: then its tokens move to positions within the cache (keys re-rotated) and
            // generation goes on, as StreamingLLM does.
            if cache.nextPosition >= contextLength {
                let moved = press?.compressesDuringDecoding == true ? cache.reindex() : 0
                if moved == 0 || cache.nextPosition >= contextLength { result.stopReason = .contextFull; break }
                result.statistics.positionReindexings += 1
            }
            // A broken file can make every logit NaN; sampling would then pick nothing in particular.
            guard logits.allSatisfy(\.isFinite) else { throw EngineError.nonFiniteLogits(step: result.tokens.count) }
            let token = sampler.sample(logits: logits, history: history)
            if tokenizer.endOfGeneration.contains(token) { result.stopReason = .endOfGeneration; break }
            result.tokens.append(token)
            history.append(token)
            let (text, stopped) = stops.feed(decoder.append(tokenizer.piece(token)))
            result.text += text
            onText(text)
            if stopped { result.stopReason = .stopString; break }
            if let until, until(result.text) { result.stopReason = .condition; break }
            if result.tokens.count >= maxTokens { result.stopReason = .maxTokens; break }
            logits = try model.forward(tokens: [token], cache: cache, logits: .lastToken)
            try press?.compressDuringDecoding(cache, step: result.tokens.count)
            result.statistics.peakCacheBytes = max(result.statistics.peakCacheBytes, cache.byteCount)
        }
        if result.stopReason != .stopString {
            let tail = stops.feed(decoder.flush()).emit + stops.flush()
            result.text += tail
            onText(tail)
        }
        result.statistics.generatedTokens = result.tokens.count
        result.statistics.decodeSeconds = (clock.now - decodeStart).seconds
        return result
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
