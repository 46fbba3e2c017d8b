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
    let render: @Sendable (String) -> String

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
}

