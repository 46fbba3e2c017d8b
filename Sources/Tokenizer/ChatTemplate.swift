import Foundation

/// A chat message for rendering with a model's template.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Renders conversations for a model by recognizing its `tokenizer.chat_template` family
/// (rather than interpreting Jinja): ChatML (SmolLM2, Qwen), Llama-3 and Gemma. Others get a clear error.
public struct ChatTemplate: Sendable, Equatable {
    public enum Family: Sendable, Equatable {
        /// `<|im_start|>role\ncontent<|im_end|>\n`; `defaultSystem` is inserted when the first message is not a system one.
        case chatML(defaultSystem: String?)
        case llama3
        case gemma
    }

    public let family: Family

    public init(family: Family) { self.family = family }

    public init(template: String) throws {
        if template.contains("<|im_start|>") {
            family = .chatML(defaultSystem: Self.defaultSystemPrompt(in: template))
        } else if template.contains("<|start_header_id|>") {
            family = .llama3
        } else if template.contains("<start_of_turn>") {
            family = .gemma
        } else {
            throw TokenizerError.unsupportedChatTemplate("it uses none of <|im_start|>, <|start_header_id|>, <start_of_turn>")
        }
    }

    /// The system text a ChatML template adds when the conversation has none: `<|im_start|>system\n…<|im_end|>` inside a literal.
    static func defaultSystemPrompt(in template: String) -> String? {
        let marker = "<|im_start|>system\n"
        guard let start = template.range(of: marker),
              let end = template.range(of: "<|im_end|>", range: start.upperBound ..< template.endIndex) else { return nil }
        let text = String(template[start.upperBound ..< end.lowerBound])
        // A template that builds the system turn from a variable has braces or quotes here: no fixed default.
        return text.contains("{") || text.contains("'") || text.contains("\"") ? nil : text
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        switch family {
        case .chatML(let defaultSystem):
            if let defaultSystem, messages.first?.role != "system" {
                out += "<|im_start|>system\n\(defaultSystem)<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for m in messages {
                out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(m.content.trimmingWhitespace())<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .gemma:
            var system = ""
            for m in messages {
                if m.role == "system" { system += m.content + "\n\n"; continue }
                let role = m.role == "assistant" ? "model" : m.role
                out += "<start_of_turn>\(role)\n\(system)\(m.content.trimmingWhitespace())<end_of_turn>\n"
                system = ""
            }
            if addGenerationPrompt { out += "<start_of_turn>model\n" }
        }
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
