import GGUF

/// A long context prefilled and compressed once, without any question, then asked any number of questions (the
/// query-agnostic use kvpress measures): each answer runs on a copy of the compressed cache, so questions do not
/// see each other and the context is never prefilled again.
public struct Document: Sendable {
    let handle: ModelHandle
    /// The context text as given.
    public let context: String
    /// The prompt up to where a question starts, and its tokens (through the chat template's opening).
    let contextPart: String
    public let tokens: [Int]
    /// What prefill and compression cost and kept (cache bytes after the press against the dense f16 cache).
    public let statistics: GenerationStatistics
    let render: @Sendable (String) throws -> String

    /// Answers `question` about the context.
    public func ask(_ question: String, maxTokens: Int, sampling: SamplingParameters = .greedy,
                    stopStrings: [String] = []) async throws -> GenerationResult {
        try await ask(question, maxTokens: maxTokens, sampling: sampling, stopStrings: stopStrings, onText: { _ in })
    }

    /// The same answer, streamed (see `GenerationStream`).
    public func stream(_ question: String, maxTokens: Int, sampling: SamplingParameters = .greedy,
                       stopStrings: [String] = []) -> GenerationStream {
        GenerationStream { onText in
            try await self.ask(question, maxTokens: maxTokens, sampling: sampling, stopStrings: stopStrings,
                               onText: onText)
        }
    }

    func ask(_ question: String, maxTokens: Int, sampling: SamplingParameters, stopStrings: [String],
             onText: @escaping @Sendable (String) -> Void) async throws -> GenerationResult {
        let prompt = try QuestionPrompt(context: context, question: question, render: render)
        guard prompt.contextPart == contextPart else { throw EngineError.templateChangedContext }
        return try await handle.model.withContext(handle.identifier) { compressed in
            try compressed.answer(questionPart: prompt.questionPart, maxTokens: maxTokens, sampling: sampling,
                                  stopStrings: stopStrings, onText: onText, until: GenerationStream.untilCancelled)
        }
    }

    /// How a context and question become the prompt: a user message through the model's chat template, or as is.
    static func renderer(engine: InferenceEngine, chat: Bool) throws -> @Sendable (String) throws -> String {
        guard chat else { return { $0 } }
        guard let source = try engine.file.optionalString(GGUFKey.Tokenizer.chatTemplate) else {
            throw TokenizerError.missingChatTemplate
        }
        let template = try ChatTemplate(template: source)
        return { template.render([ChatMessage(role: "user", content: $0)]) }
    }
}

