import ArgumentParser
import Presses

/// `tokenpress presses`: every press with what it does, its parameters and defaults, and its paper.
struct PressesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presses",
        abstract: "List the KV-cache presses, their parameters (with defaults) and papers.",
        discussion: "Give a press to --press as NAME[@RATIO][:KEY=VALUE,...]; the tables here are the README's.")

    @Flag(name: .long, help: "Print the Markdown tables (as in the README) instead of one block per press.")
    var markdown = false

    func run() throws {
        guard !markdown else {
            print(PressRegistry.markdownTables(), terminator: "")
            return
        }
        for press in PressRegistry.declarations {
            let usage = press.wrapsScorer ? "\(press.name)(SCORER)" : press.name
            print("\(usage)  [\(press.family.rawValue)\(press.ignoresRatio ? ", ignores the ratio" : "")]")
            print("  \(press.summary.replacingOccurrences(of: "`", with: ""))")
            for parameter in press.parameters {
                print("  \(parameter.key)=\(parameter.defaultDescription)  \(parameter.meaning)")
            }
            print("  paper: \(press.paper)")
        }
    }
}
