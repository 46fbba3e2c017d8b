import ArgumentParser
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text (special-token text such as <|im_start|> becomes the special token).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var input: TextInput
    @Flag(name: .long, help: "Print {\"ids\": [...]} instead of one id per line with its text.")
    var json = false
    @Flag(name: .customLong("no-special"), help: "Do not add BOS/EOS even if the model asks for them.")
    var noSpecial = false

    /// For RULER's generators (`RulerSamples`): their length budget asks for token counts many times.
    @Flag(name: .customLong("count-lines"), help: .hidden)
    var countLines = false

    func run() throws {
        try reportingErrors {
            if countLines { return try serveCounts() }
            let text = try input.read()
            let engine = try modelOptions.loadEngine()
            let ids = engine.tokenizer.encode(text, addSpecial: !noSpecial)
            if json {
                let data = try JSONSerialization.data(withJSONObject: ["ids": ids])
                Console.out(String(decoding: data, as: UTF8.self) + "\n")
            } else {
                var out = ""
                for id in ids {
                    let piece = String(decoding: engine.tokenizer.piece(id, renderSpecial: true), as: UTF8.self)
                    out += "\(id)\t\(piece.debugDescription)\n"
                }
                Console.out(out)
                Console.status("\(ids.count) tokens")
            }
        }
    }

    /// Reads one JSON string per line on stdin and answers each with its token count (BOS included, as the
    /// model sees the prompt), flushing after every line so a generator can wait for each answer.
    func serveCounts() throws {
        let engine = try modelOptions.loadEngine()
        while let line = readLine(strippingNewline: true) {
            let value = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: .fragmentsAllowed)
            guard let text = value as? String else {
                throw CLIError("--count-lines: each line must be a JSON string")
            }
            FileHandle.standardOutput.write(Data("\(engine.tokenizer.encode(text).count)\n".utf8))
        }
    }
}
