import Engine
import Foundation
import KVCache
import Presses
import Sampling

/// One admitted job on the engine thread: its prompt read batch by batch (the compressed part first, then the rest),
/// then decoded a token per scheduler step, its forward pass batched with the other sequences'.
final class RunningSequence {
    enum Phase {
        /// Reading the part of the prompt the press compresses.
        case compressing(PromptPrefill)
        /// Reading the rest of the prompt (after compression, or after a cached prefix).
        case reading(PromptPrefill)
        case decoding
    }

    let job: GenerationJob
    let identifier: Int
    let cache: KVCache
    let press: (any KVPress)?
    private(set) var phase: Phase
    private(set) var decoder: SequenceDecoder
    /// Logits of the last position, waiting for `nextToken`.
    private var logits: [Float]?
    private(set) var statistics = GenerationStatistics()
    private(set) var cachedTokens = 0
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var decodeStarted: ContinuousClock.Instant?
    private var promptRecorded = false
    /// Bytes the admission counts for this sequence (an estimate until its prompt is read).
    var reservedBytes: Int

    init(job: GenerationJob, identifier: Int, engine: InferenceEngine, prefixCache: PrefixCache,
         press: (any KVPress)?, reservedBytes: Int) {
        self.job = job
        self.identifier = identifier
        self.press = press
        self.reservedBytes = reservedBytes
        started = clock.now
        decoder = SequenceDecoder(prompt: job.prompt, maxTokens: job.maxTokens, sampling: job.sampling,
                                  stopStrings: job.stopStrings, tokenizer: engine.tokenizer,
                                  contextLength: engine.contextLength,
                                  stopsAtEndOfGeneration: !job.ignoresEndOfGeneration)
        statistics.promptTokens = job.prompt.count
        let hit = prefixCache.lookup(prompt: job.prompt, compressedPrefix: job.compressedPrefix,
                                     compression: job.cacheKey, reserve: job.reserveTokens)
        if let hit {
            cache = hit.cache
            cachedTokens = hit.tokens
            logits = hit.logits
        } else {
            cache = engine.model.makeCache()
            if job.compression.storage != .f16 { cache.setStorage(job.compression.storage) }
        }
        let batch = engine.batchSize
        if logits != nil {
            phase = .decoding
        } else if hit == nil, let press {
            let part = Array(job.prompt[..<job.compressedPrefix])
            phase = .compressing(PromptPrefill(tokens: part, cache: cache, press: press, batchSize: batch))
        } else {
            let rest = Array(job.prompt[cachedTokens...])
            phase = .reading(PromptPrefill(tokens: rest, cache: cache, press: nil, batchSize: batch))
        }
        if case .decoding = phase { recordPrompt(unpressedBytes: cache.byteCount, peak: cache.byteCount) }
    }

    var isReadingPrompt: Bool {
        if case .decoding = phase { return false }
        return true
    }

    var hasLogits: Bool { logits != nil }

    /// Reads one batch of the prompt; compresses and caches the compressed part once it is all in.
    func advancePrompt(engine: InferenceEngine, prefixCache: PrefixCache) throws {
        switch phase {
        case .decoding:
            return
        case .compressing(var reading):
            try reading.advance(model: engine.model)
            guard reading.isFinished else {
                phase = .compressing(reading)
                return
            }
            let unpressed = cache.byteCount
            if let press { try engine.finishPrompt(cache, press: press) }
            prefixCache.store(cache: cache, tokens: reading.tokens, logits: reading.logits, compression: job.cacheKey,
                              extendable: false, reserve: job.plannedReserve)
            if reading.tokens.count == job.prompt.count {
                logits = reading.logits
                recordPrompt(unpressedBytes: unpressed, peak: reading.peakBytes)
                phase = .decoding
            } else {
                statistics.pressSavedBytesAfterPrompt = unpressed - cache.byteCount
                let rest = Array(job.prompt[reading.tokens.count...])
                phase = .reading(PromptPrefill(tokens: rest, cache: cache, press: nil, batchSize: engine.batchSize))
            }
        case .reading(var reading):
            try reading.advance(model: engine.model)
            guard reading.isFinished else {
                phase = .reading(reading)
                return
            }
            logits = reading.logits
            let saved = statistics.pressSavedBytesAfterPrompt
            recordPrompt(unpressedBytes: cache.byteCount + saved, peak: reading.peakBytes)
            phase = .decoding
        }
    }

    /// The next token to run, or nil when generation has ended; reports its text (and log-probability).
    func nextToken(vocabulary: Int, tokenizer: (Int) -> String) throws -> Int? {
        guard let current = logits else { return nil }
        logits = nil
        lastLogits = current
        if decodeStarted == nil { decodeStarted = clock.now }
        let before = decoder.result.tokens.count
        let token = try decoder.next(logits: current, cache: cache, press: press) { text in
            if !text.isEmpty { job.events.yield(.text(text)) }
        }
        if let wanted = job.topLogprobs, decoder.result.tokens.count > before, let chosen = decoder.result.tokens.last {
            job.events.yield(.token(Self.logprob(of: chosen, in: current, top: wanted, text: tokenizer)))
        }
        return token
    }

    /// Takes the logits of the token just run, and lets a decoding press compress.
    func accept(logits row: [Float]) throws {
        logits = row
        try press?.compressDuringDecoding(cache, step: decoder.result.tokens.count)
        statistics.peakCacheBytes = max(statistics.peakCacheBytes, cache.byteCount)
    }

    /// Ends the generation early (cancelled or failed elsewhere).
    func stop() {
        decoder.stop(.condition)
    }

    /// The finished generation (call once `nextToken` has returned nil).
    func finish() -> JobOutcome {
        var result = decoder.finish { text in
            if !text.isEmpty { job.events.yield(.text(text)) }
        }
        statistics.generatedTokens = result.tokens.count
        statistics.positionReindexings = result.statistics.positionReindexings
        statistics.decodeSeconds = decodeStarted.map { (clock.now - $0).seconds } ?? 0
        result.statistics = statistics
        let queued = (started - job.received).seconds
        return JobOutcome(result: result, cachedTokens: cachedTokens, applied: job.compression.applied,
                          queuedSeconds: queued)
    }

    /// Whether the cache holds every token at its own position, so it can be kept for a longer prompt's reuse.
    var isExtendable: Bool {
        !job.compression.hasPress && statistics.positionReindexings == 0
    }

    /// The tokens the cache holds once generation has ended (the last sampled token was never run).
    var cachedSequence: [Int] {
        Array((job.prompt + decoder.result.tokens).prefix(cache.nextPosition))
    }

    /// The logits after `cachedSequence` (kept with a reusable cache).
    private(set) var lastLogits: [Float]?

    private func recordPrompt(unpressedBytes: Int, peak: Int) {
        guard !promptRecorded else { return }
        promptRecorded = true
        statistics.recordPrompt(cache: cache, unpressedBytes: unpressedBytes, peakBytes: peak)
        statistics.prefillSeconds = (clock.now - started).seconds
        statistics.promptTokens = job.prompt.count - cachedTokens
    }

    /// log p(token) and the `top` most likely tokens, from raw logits (before temperature and filters, as OpenAI).
    static func logprob(of token: Int, in logits: [Float], top: Int, text: (Int) -> String) -> TokenLogprob {
        let largest = logits.max() ?? 0
        let sum = logits.reduce(0.0) { $0 + exp(Double($1 - largest)) }
        let normalizer = Double(largest) + log(sum)
        let value = { (index: Int) in Double(logits[index]) - normalizer }
        // The `top` largest by one pass, kept in descending order (ties: the lower id first).
        var best: [Int] = []
        for index in logits.indices where best.count < top || logits[index] > logits[best[best.count - 1]] {
            let place = best.firstIndex { logits[index] > logits[$0] } ?? best.count
            best.insert(index, at: place)
            if best.count > top { best.removeLast() }
        }
        return TokenLogprob(token: token, text: text(token), logprob: value(token),
                            top: best.map { ($0, text($0), value($0)) })
    }
}
