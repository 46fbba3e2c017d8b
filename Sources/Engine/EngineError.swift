/// Engine-level failures with one-line messages a user can act on.
public enum EngineError: Error, Equatable, CustomStringConvertible, Sendable {
    case promptTooLong(tokens: Int, context: Int)
    case emptyPrompt
    case invalidParameter(name: String, reason: String)
    case textTooShort(tokens: Int, needed: Int)
    case templateChangedContext
    case fetchFailed(what: String, reason: String)
    case writeFailed(path: String, reason: String)
    case conversationTooLong(tokens: Int, context: Int)
    case nonFiniteLogits(step: Int)

    public var description: String {
        switch self {
        case .promptTooLong(let tokens, let context):
            return "the prompt has \(tokens) tokens, more than the context of \(context) tokens"
        case .emptyPrompt: return "the prompt is empty"
        case .invalidParameter(let name, let reason): return "invalid \(name): \(reason)"
        case .textTooShort(let tokens, let needed): return "the text has \(tokens) tokens; at least \(needed) are needed"
        case .templateChangedContext: return "the chat template changed the context text; cannot split it from the question"
        case .fetchFailed(let what, let reason): return "cannot fetch \(what): \(reason)"
        case .writeFailed(let path, let reason): return "cannot write \(path): \(reason)"
        case .conversationTooLong(let tokens, let context):
            return "the conversation needs \(tokens) tokens, more than the context of \(context); reset it"
        case .nonFiniteLogits(let step):
            return "the model computed NaN or infinite logits at generated token \(step); its weights are broken"
        }
    }
}
