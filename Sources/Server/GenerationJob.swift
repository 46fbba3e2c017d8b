import Engine
import Foundation
import Sampling

/// A generation a client asked for, checked and tokenized: the scheduler runs it and reports through `events`.
final class GenerationJob: @unchecked Sendable {
    let prompt: [Int]
    /// Leading prompt tokens the press compresses; the rest (the last user message) is read after compression, so
    /// the compressed part can be reused by a request asking something else of the same document.
    let compressedPrefix: Int
    let compression: CompressionChoice
    let sampling: SamplingParameters
    let stopStrings: [String]
    let maxTokens: Int
    /// Alternatives to report with each token's log-probability (nil: no log-probabilities).
    let topLogprobs: Int?
    /// Generate past end-of-generation tokens (llama-server's `ignore_eos`).
    var ignoresEndOfGeneration = false
    let events: AsyncStream<JobEvent>.Continuation
    /// Which cached prompts this job may continue: those compressed the same way (a memory target's also need room
    /// for this job's tokens, see `PrefixCache.lookup`).
    var cacheKey: String { compression.key }
    /// Tokens a memory target must keep room for: the uncompressed rest of the prompt and the generated tokens.
    var reserveTokens: Int { prompt.count - compressedPrefix + maxTokens }
    /// The room a memory target plans for: `reserveTokens` rounded up to a power of two, so a later question of
    /// about the same length (and the same `max_tokens`) fits the same compressed document and reuses it.
    var plannedReserve: Int {
        guard compression.target != nil else { return 0 }
        var room = 1
        while room < reserveTokens { room *= 2 }
        return room
    }
    let received = ContinuousClock.now
    private let lock = NSLock()
    private var cancelled = false

    init(prompt: [Int], compressedPrefix: Int, compression: CompressionChoice, sampling: SamplingParameters,
         stopStrings: [String], maxTokens: Int, topLogprobs: Int?, events: AsyncStream<JobEvent>.Continuation) {
        self.prompt = prompt
        self.compressedPrefix = compressedPrefix
        self.compression = compression
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.maxTokens = maxTokens
        self.topLogprobs = topLogprobs
        self.events = events
    }

    /// Stops the job after the token being decoded and frees its cache (the client went away).
    func cancel() {
        lock.withLock { cancelled = true }
    }

    var isCancelled: Bool { lock.withLock { cancelled } }
}

/// What a running job reports, in order: text pieces (and log-probabilities when asked), then its outcome.
enum JobEvent: Sendable {
    case text(String)
    case token(TokenLogprob)
    case finished(JobOutcome)
    case failed(APIError)
}

/// A generated token's log-probability and the most likely alternatives at its position.
struct TokenLogprob: Sendable {
    let token: Int
    let text: String
    let logprob: Double
    let top: [(token: Int, text: String, logprob: Double)]
}

/// A finished job: the generation and what its cache held.
struct JobOutcome: Sendable {
    let result: GenerationResult
    /// Prompt tokens taken from the prefix cache.
    let cachedTokens: Int
    let applied: String
    /// Seconds from arrival to the start of reading the prompt (time in the queue).
    let queuedSeconds: Double
}
