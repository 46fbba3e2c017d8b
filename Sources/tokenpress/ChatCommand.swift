import ArgumentParser
import Engine
import Foundation
import GGUF
import KVCache
import Tokenizer

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat interactively with the model's chat template; replies stream as they are generated.",
        discussion: "Type a message and press Enter. /reset starts over, /exit (or end of input) quits.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "System prompt (default: the template's own, if any).")
    var system: String?
    @Option(name: .customShort("n"), parsing: .unconditional, help: "Maximum tokens per reply.")
    var count: Int = 512

    func validate() throws {
        guard count > 0 else { throw CLIError("-n must be positive, got \(count)") }
        try sampling.validateValues()
    }

    func run() throws {
        try reportingErrors {
            let engine = try modelOptions.loadEngine()
            guard let source = try engine.file.optionalString(GGUFKey.Tokenizer.chatTemplate) else {
                throw TokenizerError.missingChatTemplate
            }
            let template = try ChatTemplate(template: source)
            var messages: [ChatMessage] = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
            let cache = engine.model.makeCache()
            var cachedTokens: [Int] = []
            var params = sampling.parameters
            let name = engine.file.metadata[GGUFKey.name]?.summary ?? "the model"
            Console.status("Chatting with \(name). /reset to start over, /exit to quit.")
            while true {
                Console.out("> ")
                guard let line = readLine() else { break }
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed == "/exit" || trimmed == "/quit" { break }
                if trimmed == "/reset" {
                    messages.removeAll { $0.role != "system" }
                    cache.removeAll()
                    cachedTokens = []
                    continue
                }
                if trimmed.isEmpty { continue }
                messages.append(ChatMessage(role: "user", content: line))
                let tokens = engine.tokenizer.encode(template.render(messages))
                // Reuse the cache when the conversation so far is a prefix of the new prompt.
                if !tokens.starts(with: cachedTokens) || cachedTokens.count >= tokens.count {
                    cache.removeAll()
                    cachedTokens = []
                }
                if tokens.count + count > engine.contextLength {
                    Console.status("The conversation no longer fits the context; use /reset.")
                    messages.removeLast()
                    continue
                }
                let result = try engine.generate(prompt: tokens, maxTokens: count, sampling: params, cache: cache) { Console.out($0) }
                Console.out("\n")
                Console.status(result.statistics.summary)
                messages.append(ChatMessage(role: "assistant", content: result.text))
                cachedTokens = tokens + result.tokens
                if result.stopReason != .endOfGeneration {
                    // The reply did not end with the end-of-turn token the template expects: rebuild next turn.
                    cache.removeAll()
                    cachedTokens = []
                }
                params.seed &+= 1
            }
        }
    }
}
