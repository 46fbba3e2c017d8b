import ArgumentParser
import Engine
import Foundation
import GGUF

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
            let session = try ChatSession(engine: engine, system: system)
            var params = sampling.parameters
            let name = engine.file.metadata[GGUFKey.name]?.summary ?? "the model"
            Console.status("Chatting with \(name). /reset to start over, /exit to quit.")
            while true {
                Console.out("> ")
                guard let line = readLine() else { break }
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed == "/exit" || trimmed == "/quit" { break }
                if trimmed == "/reset" {
                    session.reset()
                    continue
                }
                if trimmed.isEmpty { continue }
                do {
                    let result = try session.reply(to: line, maxTokens: count, sampling: params) { Console.out($0) }
                    Console.out("\n")
                    Console.status(result.statistics.summary)
                } catch EngineError.conversationTooLong {
                    Console.status("The conversation no longer fits the context; use /reset.")
                }
                params.seed &+= 1
            }
        }
    }
}
