/// A chat with the model through its chat template. The cache is kept across turns: when the conversation so far
/// is a prefix of the next prompt only the new message is prefilled (`reusedTokens` says how many were not).
///
/// The underlying `ChatSession` lives on the model's actor and is used only there, one call at a time, so a session
/// can be shared between tasks; turns sent concurrently are answered in turn. Its cache is freed with the session.
public final class Session: Sendable {
    let handle: ModelHandle
    var model: TokenPressModel { handle.model }
    var identifier: Int { handle.identifier }

    init(handle: ModelHandle) {
        self.handle = handle
    }

    /// The conversation so far (system message, then user and assistant turns).
    public var messages: [ChatMessage] {
        get async { await model.withChat(identifier) { $0.messages } }
    }

    /// Prompt tokens the last reply found in the cache already.
    public var reusedTokens: Int {
        get async { await model.withChat(identifier) { $0.reusedTokens } }
    }

    /// Sends `text` as the user and returns the reply.
    /// - Throws: `EngineError.conversationTooLong` when the conversation no longer fits (`reset()` starts over).
    public func send(_ text: String, maxTokens: Int, sampling: SamplingParameters = .greedy) async throws
        -> GenerationResult {
        try await send(text, maxTokens: maxTokens, sampling: sampling, onText: { _ in })
    }

    /// The same reply, streamed (see `GenerationStream`).
    public func stream(_ text: String, maxTokens: Int, sampling: SamplingParameters = .greedy) -> GenerationStream {
        GenerationStream { onText in
            try await self.send(text, maxTokens: maxTokens, sampling: sampling, onText: onText)
        }
    }

    /// Forgets the conversation (the system message stays).
    public func reset() async {
        await model.withChat(identifier) { $0.reset() }
    }

    func send(_ text: String, maxTokens: Int, sampling: SamplingParameters,
              onText: @escaping @Sendable (String) -> Void) async throws -> GenerationResult {
        try await model.withChat(identifier) { chat in
            try chat.reply(to: text, maxTokens: maxTokens, sampling: sampling, onText: onText,
                           until: GenerationStream.untilCancelled)
        }
    }
}
