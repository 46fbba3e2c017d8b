import GGUF
import Tokenizer

extension InferenceEngine {
    /// The chat template the model file carries, parsed.
    /// - Throws: `TokenizerError.missingChatTemplate` when the file has none.
    public func chatTemplate() throws -> ChatTemplate {
        guard let source = try file.optionalString(GGUFKey.Tokenizer.chatTemplate) else {
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
