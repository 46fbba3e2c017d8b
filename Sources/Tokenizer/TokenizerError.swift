import GGUF

/// Tokenizer failures, each naming the metadata key or input at fault.
public enum TokenizerError: Error, Equatable, CustomStringConvertible, Sendable {
    case unsupportedModel(String)
    case unsupportedPreTokenizer(String)
    case inconsistentVocabulary(String)
    case unsupportedChatTemplate(String)
    case missingChatTemplate

    public var description: String {
        switch self {
        case .unsupportedModel(let m):
            return "unsupported tokenizer model '\(PrintableName.of(m))' in tokenizer.ggml.model (supported: gpt2, llama)"
        case .unsupportedPreTokenizer(let p):
            let supported = PreTokenizer.supportedNames.joined(separator: ", ")
            return "unsupported pre-tokenizer '\(PrintableName.of(p))' in tokenizer.ggml.pre (supported: \(supported))"
        case .inconsistentVocabulary(let reason): return "tokenizer vocabulary is inconsistent: \(reason)"
        case .unsupportedChatTemplate(let hint): return "unsupported chat template (\(hint)); supported families: ChatML, Llama-3, Gemma"
        case .missingChatTemplate: return "the model has no tokenizer.chat_template; use `generate` with a raw prompt instead"
        }
    }
}
