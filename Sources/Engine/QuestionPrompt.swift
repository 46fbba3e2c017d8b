/// A context and a question rendered as one prompt, split where the question begins, so the context part
/// can be prefilled and compressed without the question (the query-agnostic case).
public struct QuestionPrompt: Sendable {
    public let question: String
    public let contextPart: String
    public let questionPart: String

    /// - Parameter render: turns the text into the model's prompt (e.g. through a chat template); it must keep
    ///   the context verbatim.
    public init(context: String, question: String, render: (String) throws -> String) throws {
        self.question = question
        let full = try render(context + "\n\nQuestion: " + question + "\nAnswer:")
        guard let end = full.range(of: context)?.upperBound else { throw EngineError.templateChangedContext }
        contextPart = String(full[..<end])
        questionPart = String(full[end...])
    }

    /// A prompt already rendered and split (RULER's generators write the whole prompt and where its question starts).
    public init(contextPart: String, questionPart: String, question: String) {
        self.question = question
        self.contextPart = contextPart
        self.questionPart = questionPart
    }
}
