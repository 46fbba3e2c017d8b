import ArgumentParser
import Engine
import Foundation
import Presses

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure which KV heads retrieve from far back (the head profile razor and duo use).",
        discussion: """
            Echo and induction scores (RazorAttention) come from a random token sequence read twice; passkey mass \
            (a stand-in for DuoAttention's gates) from synthetic passkey prompts. The profile is plain JSON, saved \
            next to the model by default (MODEL.gguf.profile.json), where razor and duo find it; they also measure \
            it on first use. Prints the most retrieving heads. Example: tokenpress calibrate -o profile.json
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("o"), .long], help: "Where to write the profile (default: next to the model).")
    var output: String?
    @Option(name: .long, parsing: .unconditional, help: "How many of the top heads to list.")
    var top = 10

    func run() throws {
        try reportingErrors {
            guard top >= 0 else { throw CLIError("--top must be zero or positive, got \(top)") }
            let destination = try output.map { try OutputFile($0, option: "-o") }
            let engine = try modelOptions.loadEngine()
            let path = engine.file.path
            let profile = try HeadCalibration(engine: engine).run(model: (path as NSString).lastPathComponent) {
                Console.progress("calibrate", done: $0, total: $1)
            }
            let file = output ?? HeadProfile.path(forModel: path)
            try (destination ?? OutputFile(file, option: "-o")).write(try profile.json())
            var out = "| rank | layer | KV head | echo | induction | passkey mass |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n"
            for (rank, head) in HeadProfile.ranking(profile.retrieval).prefix(top).enumerated() {
                let (l, h) = (head.layer, head.head)
                let figures = String(format: "%.3f | %.3f | %.3f", profile.echo[l][h], profile.induction[l][h], profile.passkey[l][h])
                out += "| \(rank + 1) | \(l) | \(h) | " + figures + " |\n"
            }
            Console.out(out)
            Console.status("profile: \(file) (\(profile.layers) layers × \(profile.kvHeads) KV heads)")
        }
    }
}
