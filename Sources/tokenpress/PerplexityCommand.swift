import ArgumentParser
import Engine
import Foundation

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a text file: windows of --ctx tokens, every token after the first of a window scored.",
        discussion: "BOS is added at the start only if the model's tokenizer.ggml.add_bos_token says so.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("f"), .long], help: "A UTF-8 text file.")
    var file: String
    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Window length in tokens.")
    var context: Int = 512
    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Use only the first M tokens of the file.")
    var maxTokens: Int?
    @Flag(name: .long, help: "Print one JSON object {tokens, ppl, nll, windows, ctx}.")
    var json = false

    func validate() throws {
        guard context >= 2 else { throw CLIError("--ctx must be at least 2, got \(context)") }
        if let maxTokens, maxTokens < 2 { throw CLIError("--max-tokens must be at least 2, got \(maxTokens)") }
    }

    func run() throws {
        try reportingErrors {
            let text = try readUTF8File(file)
            let engine = try modelOptions.loadEngine()
            var tokens = engine.tokenizer.encode(text)
            if let maxTokens { tokens = Array(tokens.prefix(maxTokens)) }
            let start = Date()
            let result = try PerplexityEvaluator(engine: engine).evaluate(tokens: tokens, context: context) { done, total in
                Console.progress("perplexity", done: done, total: total)
            }
            let seconds = Date().timeIntervalSince(start)
            if json {
                let object: [String: Any] = ["tokens": result.tokens, "ppl": result.ppl, "nll": result.negativeLogLikelihood,
                                             "windows": result.windows, "ctx": result.context, "seconds": seconds]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                Console.out(String(decoding: data, as: UTF8.self) + "\n")
            } else {
                Console.out(String(format: "perplexity %.4f over %d tokens (%d windows of %d)\n", result.ppl, result.tokens, result.windows, context))
                Console.status(String(format: "%.1f s, %.1f tokens/s", seconds, Double(result.tokens) / seconds))
            }
        }
    }
}
