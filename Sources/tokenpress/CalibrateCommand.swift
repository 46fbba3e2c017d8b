import ArgumentParser
import Engine
import Evaluation
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
            it on first use. Prints the most retrieving heads. With --sensitivity, also measures what each head's tokens \
            cost at f16, 8/4/3/2 bits and evicted (the target allocator's rates for --kv-memory and --max-kl; a few \
            minutes on the essays' calibration split; they are measured on first use too). \
            Example: tokenpress calibrate -o profile.json --sensitivity
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("o"), .long], help: "Where to write the profile (default: next to the model).")
    var output: String?
    @Option(name: .long, parsing: .unconditional, help: "How many of the top heads to list.")
    var top = 10
    @Flag(name: .long, help: "Also measure the heads' sensitivities (the target allocator's cost model).")
    var sensitivity = false

    func run() throws {
        try reportingErrors {
            guard top >= 0 else { throw CLIError("--top must be zero or positive, got \(top)") }
            let destination = try output.map { try OutputFile($0, option: "-o") }
            let engine = try modelOptions.loadEngine()
            let path = engine.file.path
            var profile = try HeadCalibration(engine: engine).run(model: (path as NSString).lastPathComponent) {
                Console.progress("calibrate", done: $0, total: $1)
            }
            if sensitivity {
                let text = try HaystackText.sensitivityText(log: { Console.status($0) })
                profile.sensitivity = try SensitivityCalibration(engine: engine).run(text: text.text, describing: text.description) {
                    Console.progress("sensitivity", done: $0, total: $1)
                }
            }
            let file = output ?? HeadProfile.path(forModel: path)
            try (destination ?? OutputFile(file, option: "-o")).write(try profile.json())
            var out = "| rank | layer | KV head | echo | induction | passkey mass |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n"
            for (rank, head) in HeadProfile.ranking(profile.retrieval).prefix(top).enumerated() {
                let (l, h) = (head.layer, head.head)
                let figures = String(format: "%.3f | %.3f | %.3f", profile.echo[l][h], profile.induction[l][h], profile.passkey[l][h])
                out += "| \(rank + 1) | \(l) | \(h) | " + figures + " |\n"
            }
            if let rates = profile.sensitivity { out += "\n" + Self.sensitivityTable(rates) }
            Console.out(out)
            Console.status("profile: \(file) (\(profile.layers) layers × \(profile.kvHeads) KV heads)")
        }
    }

    /// Per layer, the mean rate of each option over its KV heads.
    static func sensitivityTable(_ s: HeadSensitivity) -> String {
        let header = s.options.map { $0 == "evict" ? "evict (per mass)" : "\($0)-bit (per token share)" }
        var out = "| layer | " + header.joined(separator: " | ") + " |\n|" + String(repeating: " ---: |", count: header.count + 1)
        for (l, heads) in s.rates.enumerated() {
            let means = s.options.indices.map { o in heads.reduce(0) { $0 + $1[o] } / Double(heads.count) }
            out += "\n| \(l) | " + means.map { String(format: "%.4f", $0) }.joined(separator: " | ") + " |"
        }
        return out + "\n\nmeasured on \(s.measuredOn); prediction scale \(String(format: "%.2f", s.scale))\n"
    }
}
