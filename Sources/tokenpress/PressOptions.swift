import ArgumentParser
import Presses

/// `--press` and its companions, shared by the commands that compress a cache.
struct PressOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Compress the KV cache with this press: NAME[@RATIO][:KEY=VALUE,...], several joined by + run in sequence.",
        discussion: "Presses: " + PressRegistry.names.map { name in
            let p = PressRegistry.parameters[name] ?? [:]
            return p.isEmpty ? name : "\(name) (\(p.keys.sorted().map { "\($0): \(p[$0]!)" }.joined(separator: "; ")))"
        }.joined(separator: "; ") + ". Example: --press snapkv:window=32 --ratio 0.75",
        valueName: "spec"))
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
    @Option(name: .customLong("chunk-size"), parsing: .unconditional,
            help: "With --press: prefill this many tokens at a time and compress each chunk before reading the next (bounded prefill memory).")
    var chunkSize: Int?

    func makePress() throws -> (any KVPress)? {
        guard let press else {
            if decodeBudget != nil || budget != nil || chunkSize != nil {
                throw CLIError("--budget, --decode-budget and --chunk-size need --press to choose which tokens stay")
            }
            return nil
        }
        let modes = [budget != nil, decodeBudget != nil, chunkSize != nil].filter { $0 }.count
        if modes > 1 { throw CLIError("give only one of --budget, --decode-budget and --chunk-size") }
        if budget != nil || decodeBudget != nil || chunkSize != nil, press.contains("+") {
            throw CLIError("--budget, --decode-budget and --chunk-size take a single press, not '\(press)'")
        }
        if let budget { return try BudgetPress(scorer: try PressRegistry.scorer(press, ratio: 0), budget: budget) }
        if let decodeBudget {
            return try DecodingPress(scorer: try PressRegistry.scorer(press, ratio: ratio), budget: decodeBudget, interval: decodeInterval)
        }
        if let chunkSize { return try ChunkedPress(scorer: try PressRegistry.scorer(press, ratio: ratio), chunk: chunkSize) }
        return try PressRegistry.make(press, ratio: ratio)
    }
}
