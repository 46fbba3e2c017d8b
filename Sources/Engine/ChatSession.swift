import KVCache
import Sampling
import Tokenizer

/// A conversation with the model through its chat template, keeping one cache across turns: when the conversation
/// so far is a prefix of the next prompt, only the new tokens are prefilled.
public final class ChatSession {
    public let engine: InferenceEngine
    private let template: ChatTemplate
    private let system: String?
    public private(set) var messages: [ChatMessage]
    private let cache: KVCache
    /// The tokens `cache` holds, in order (empty when it must be rebuilt).
    private var cachedTokens: [Int] = []

    /// - Parameter system: an optional system message, kept across `reset()`.
    public init(engine: InferenceEngine, system: String? = nil) throws {
        self.engine = engine
        template = try engine.chatTemplate()
        self.system = system
        messages = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        cache = engine.makeCache()
    }

    /// Tokens the last reply did not have to prefill again.
    public private(set) var reusedTokens = 0

    /// Sends `text` as the user and generates the reply (added to `messages`).
    /// - Throws: `EngineError.conversationTooLong` when the prompt and `maxTokens` no longer fit the context (the
    ///   message is not added; `reset()` starts over).
    public func reply(to text: String, maxTokens: Int, sampling: SamplingParameters = .greedy,
                      onText: (String) -> Void = { _ in }, until: ((String) -> Bool)? = nil) throws -> GenerationResult {
        let prompt = engine.tokenizer.encode(template.render(messages + [ChatMessage(role: "user", content: text)]))
        guard prompt.count + maxTokens <= engine.contextLength else {
            throw EngineError.conversationTooLong(tokens: prompt.count + maxTokens, context: engine.contextLength)
        }
        // Reuse the cache when the conversation so far is a prefix of the new prompt.
        if !prompt.starts(with: cachedTokens) || cachedTokens.count >= prompt.count { dropCache() }
        reusedTokens = cachedTokens.count
        let result = try engine.generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling, cache: cache,
                                         onText: onText, until: until)
        messages.append(ChatMessage(role: "user", content: text))
        messages.append(ChatMessage(role: "assistant", content: result.text))
        cachedTokens = prompt + result.tokens
        // A reply that did not end with the end-of-turn token the template expects is rebuilt next turn.
        if result.stopReason != .endOfGeneration { dropCache() }
        return result
    }

    /// Forgets the conversation (the system message stays).
    public func reset() {
        messages = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        dropCache()
    }

    private func dropCache() {
        cache.removeAll()
        cachedTokens = []
    }
}
