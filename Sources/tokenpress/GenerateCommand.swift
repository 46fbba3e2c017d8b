import ArgumentParser
import Engine
import Foundation
import KVCache
import Presses
import Tokenizer

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt; only the generated text goes to stdout, statistics to stderr.",
        discussion: """
            Special-token text in the prompt (e.g. <|im_start|>) becomes the special token, as in llama.cpp. \
            With --chat the prompt is sent as a user message through the model's chat template.
            Query-agnostic use: --context-file F --question Q (repeatable) prefills and compresses the context once, \
            without seeing any question, then answers each question from a copy of that compressed cache. \
            --query-aware compresses again for each question with the question inside the prompt.
            Examples:
              tokenpress generate -p "The capital of France is" -n 32 --temp 0
              tokenpress generate -f long.txt --press snapkv --ratio 0.75 -n 64
              tokenpress generate --context-file book.txt --question "Who is Joseph?" --press expected --ratio 0.5 --chat
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("p"), .long], help: "The prompt text.")
    var prompt: String?
    @Option(name: [.customShort("f"), .long], help: "A UTF-8 file holding the prompt.")
    var file: String?
    @Option(name: .customLong("context-file"), help: "A UTF-8 file holding a context to compress once and question (with --question).")
    var contextFile: String?
    @Option(name: .customLong("question"),
            help: "A question about --context-file (repeatable); each is answered from the same compressed cache.")
    var questions: [String] = []
    @Flag(name: .customLong("query-aware"), help: "With --context-file: compress with each question inside the prompt instead.")
    var queryAware = false
    @Option(name: .customShort("n"), parsing: .unconditional, help: "Maximum number of tokens to generate.")
    var count: Int = 128
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .customLong("stop"), help: "Stop when this text is generated (repeatable).")
    var stops: [String] = []
    @Flag(name: .long, help: "Wrap the prompt as a user message with the model's chat template.")
    var chat = false
    @OptionGroup var pressOptions: PressOptions
    @OptionGroup var cacheOptions: CacheOptions

    func validate() throws {
        guard count >= 0 else { throw CLIError("-n must be zero or positive, got \(count)") }
        try sampling.validateValues()
        try modelOptions.validateThreads()
        try pressOptions.validatePress()
        try cacheOptions.validate(press: pressOptions.pressOrTarget)
        if contextFile != nil {
            if prompt != nil || file != nil { throw CLIError("give either --context-file (with --question) or -p/-f, not both") }
            if questions.isEmpty { throw CLIError("--context-file needs at least one --question") }
        } else {
            if !questions.isEmpty || queryAware { throw CLIError("--question and --query-aware need --context-file") }
            if prompt != nil && file != nil { throw CLIError("give either -p or -f, not both") }
            if prompt == nil && file == nil {
                throw CLIError("give the prompt with -p TEXT or -f FILE (or --context-file with --question)")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            if let contextFile {
                let context = try readUTF8File(contextFile)
                guard !context.allSatisfy(\.isWhitespace) else { throw CLIError("--context-file \(contextFile) is empty") }
                return try answerQuestions(context: context)
            }
            let text = try prompt ?? readUTF8File(file!)
            let engine = try modelOptions.loadEngine()
            try cacheOptions.apply(to: engine)
            let tokens = engine.tokenizer.encode(try engine.promptRenderer(chat: chat)(text))
            let press = try pressOptions.makePress(engine: engine, modelPath: engine.file.path, reserve: count)
            let result = try engine.generate(prompt: tokens, maxTokens: count, sampling: sampling.parameters, stopStrings: stops,
                                             press: press) { Console.out($0) }
            Console.out("\n")
            pressOptions.report(press)
            Console.status(result.statistics.summary + " | stop: \(result.stopReason.rawValue)")
            // Where the bytes are, when a press or cache type made layers differ from the dense cache.
            if press != nil || cacheOptions.isSet { Console.status(result.statistics.layerSummary) }
        }
    }

    /// Prefills and compresses the context once, then answers every question from a copy of that cache.
    func answerQuestions(context: String) throws {
        let engine = try modelOptions.loadEngine()
        try cacheOptions.apply(to: engine)
        let render = try engine.promptRenderer(chat: chat)
        let split = try questions.map { try QuestionPrompt(context: context, question: $0, render: render) }
        // A memory target keeps room for the longest question and the answer.
        let questionTokens = split.map { engine.tokenizer.encode($0.questionPart, addSpecial: false).count }.max() ?? 0
        let press = try pressOptions.makePress(engine: engine, modelPath: engine.file.path, reserve: questionTokens + count)
        // Query-agnostic: prefill and compress the context once, each question on a copy of that cache.
        let context = try queryAware ? nil : CompressedContext(engine: engine, contextPart: split[0].contextPart, press: press)
        if let context {
            let summary = context.statistics.cacheSummary
            Console.status("context: \(context.tokens.count) tokens, prefilled and compressed once | " + summary)
            pressOptions.report(press)
        }
        for (i, q) in split.enumerated() {
            Console.out("\(i > 0 ? "\n" : "")## \(q.question)\n")
            let result: GenerationResult
            if let context {
                result = try context.answer(questionPart: q.questionPart, maxTokens: count, sampling: sampling.parameters,
                                            stopStrings: stops) { Console.out($0) }
            } else {
                // Encoded in two parts, as the compressed context is, so both modes see the same tokens.
                let prompt = engine.tokenizer.encode(q.contextPart)
                    + engine.tokenizer.encode(q.questionPart, addSpecial: false)
                result = try engine.generate(prompt: prompt, maxTokens: count, sampling: sampling.parameters,
                                             stopStrings: stops, press: press) { Console.out($0) }
            }
            Console.out("\n")
            Console.status(result.statistics.summary + " | stop: \(result.stopReason.rawValue)")
        }
    }
}
