import KVCache
import Presses
import Sampling

/// A long context prefilled and compressed once, without any question, then asked several questions: each answer
/// runs on a copy of the compressed cache, so questions do not see each other.
public final class CompressedContext {
    public let engine: InferenceEngine
    /// The prompt text up to where a question starts, and its tokens.
    public let contextPart: String
    public let tokens: [Int]
    /// The compressed cache every question starts from.
    public let cache: KVCache
    /// What prefill and compression cost and kept.
    public let statistics: GenerationStatistics

    /// - Parameters:
    ///   - contextPart: the prompt up to where a question would start (see `QuestionPrompt`).
    ///   - press: the compression applied once the context is in (nil: the full cache).
    public init(engine: InferenceEngine, contextPart: String, press: (any KVPress)?) throws {
        self.engine = engine
        self.contextPart = contextPart
        tokens = engine.tokenizer.encode(contextPart)
        let cache = engine.makeCache()
        let prefill = try engine.generate(prompt: tokens, maxTokens: 0, cache: cache, press: press)
        self.cache = cache
        statistics = prefill.statistics
    }

    /// Answers the question whose prompt continues the context with `questionPart`.
    public func answer(questionPart: String, maxTokens: Int, sampling: SamplingParameters = .greedy,
                       stopStrings: [String] = [], onText: (String) -> Void = { _ in },
                       until: ((String) -> Bool)? = nil) throws -> GenerationResult {
        let question = engine.tokenizer.encode(questionPart, addSpecial: false)
        return try engine.generate(prompt: tokens + question, maxTokens: maxTokens, sampling: sampling,
                                   stopStrings: stopStrings, cache: cache.copy(), onText: onText, until: until)
    }
}
