import ArgumentParser
import Engine
import Presses
import Tokenizer

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt; only the generated text goes to stdout, statistics to stderr.",
        discussion: """
            Special-token text in the prompt (e.g. <|im_start|>) becomes the special token, as in llama.cpp. \
            With --chat the prompt is sent as a user message through the model's chat template.
            Example: tokenpress generate -p "The capital of France is" -n 32 --temp 0
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var input: TextInput
    @Option(name: .customShort("n"), parsing: .unconditional, help: "Maximum number of tokens to generate.")
    var count: Int = 128
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .customLong("stop"), help: "Stop when this text is generated (repeatable).")
    var stops: [String] = []
    @Flag(name: .long, help: "Wrap the prompt as a user message with the model's chat template.")
    var chat = false
    @Option(name: .long, help: "Compress the KV cache after the prompt with this press (\(PressRegistry.names.joined(separator: ", "))).")
    var press: String?
    @Option(name: .long, parsing: .unconditional, help: "Fraction of each head's tokens the press removes, in [0, 1).")
    var ratio: Double = 0.5
    @Option(name: .long, parsing: .unconditional, help: "With --press: keep this many tokens per head after the prompt (instead of --ratio).")
    var budget: Int?
    @Option(name: .customLong("decode-budget"), parsing: .unconditional,
            help: "With --press: keep at most this many tokens per head while generating (compressing every --decode-interval tokens).")
    var decodeBudget: Int?
    @Option(name: .customLong("decode-interval"), parsing: .unconditional, help: "Generated tokens between compressions with --decode-budget.")
    var decodeInterval = 64

    func makePress() throws -> (any KVPress)? {
        guard let press else {
            if decodeBudget != nil || budget != nil { throw CLIError("--budget and --decode-budget need --press to choose which tokens stay") }
            return nil
        }
        if let budget {
            if decodeBudget != nil { throw CLIError("give either --budget or --decode-budget, not both") }
            return try BudgetPress(scorer: try PressRegistry.scorer(press, ratio: 0), budget: budget)
        }
        guard let decodeBudget else { return try PressRegistry.make(press, ratio: ratio) }
        return try DecodingPress(scorer: try PressRegistry.scorer(press, ratio: ratio), budget: decodeBudget, interval: decodeInterval)
    }

    func validate() throws {
        guard count >= 0 else { throw CLIError("-n must be zero or positive, got \(count)") }
        try sampling.validateValues()
        try modelOptions.validateThreads()
        _ = try makePress()
    }

    func run() throws {
        try reportingErrors {
            let text = try input.read()
            let engine = try modelOptions.loadEngine()
            var prompt = text
            if chat {
                let template = try ChatTemplate(template: try engine.file.optionalString("tokenizer.chat_template") ?? {
                    throw TokenizerError.missingChatTemplate
                }())
                prompt = template.render([ChatMessage(role: "user", content: text)])
            }
            let tokens = engine.tokenizer.encode(prompt)
            let kvPress = try makePress()
            let result = try engine.generate(prompt: tokens, maxTokens: count, sampling: sampling.parameters, stopStrings: stops,
                                             press: kvPress) {
                Console.out($0)
            }
            Console.out("\n")
            Console.status(result.statistics.summary + " | stop: \(result.stopReason.rawValue)")
        }
    }
}
