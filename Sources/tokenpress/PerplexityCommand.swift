import ArgumentParser
import Engine
import Evaluation
import Foundation

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a text file, and KL divergence of a compressed cache to the full one (as llama-perplexity).",
        discussion: """
            Without --press or --kl-divergence-base: windows of --ctx tokens, every token after the first of a window \
            scored. With either: as llama-perplexity, only whole windows; each window's first half is prefilled (and \
            compressed by --press), its second half scored teacher-forced. KL as llama-perplexity --kl-divergence: \
            first save the full cache's log-probabilities once, then compare any configuration against them:
              tokenpress perplexity -f text.txt --ctx 1024 --kl-divergence-base base.kld
              tokenpress perplexity -f text.txt --ctx 1024 --kl-divergence-base base.kld --kl-divergence --press snapkv --ratio 0.5
            The base file takes 4 bytes × vocabulary per scored token (192 KiB for SmolLM2) and is refused when it \
            was made from another text, --ctx, --max-tokens or vocabulary, or is truncated or corrupt. \
            BOS is added at the start only if the model's tokenizer.ggml.add_bos_token says so.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pressOptions: PressOptions
    @OptionGroup var cacheOptions: CacheOptions
    @Option(name: [.customShort("f"), .long], help: "A UTF-8 text file.")
    var file: String
    @Option(name: .customLong("ctx"), parsing: .unconditional, help: "Window length in tokens.")
    var context: Int = 512
    @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Use only the first M tokens of the file.")
    var maxTokens: Int?
    @Option(name: .customLong("kl-divergence-base"), help: ArgumentHelp(
        "Without --kl-divergence: save the full cache's log-probabilities to this file. With it: compare against them.",
        valueName: "file"))
    var klDivergenceBase: String?
    @Flag(name: .customLong("kl-divergence"), help: "Compare this configuration with --kl-divergence-base (KL, same top-1, Δp).")
    var klDivergence = false
    @Flag(name: .long, help: "Print one JSON object {tokens, ppl, nll, windows, ctx, seconds[, kl statistics]}.")
    var json = false

    func validate() throws {
        try modelOptions.validateThreads()
        guard context >= 2 else { throw CLIError("--ctx must be at least 2, got \(context)") }
        if let maxTokens, maxTokens < 2 { throw CLIError("--max-tokens must be at least 2, got \(maxTokens)") }
        try pressOptions.validatePress()
        if klDivergence && klDivergenceBase == nil { throw CLIError("--kl-divergence needs --kl-divergence-base FILE to compare with") }
        if klDivergenceBase != nil && !klDivergence && pressOptions.press != nil {
            throw CLIError("--kl-divergence-base without --kl-divergence saves the full cache's log-probabilities; drop --press")
        }
        try cacheOptions.validate(press: pressOptions.pressOrTarget)
        if klDivergenceBase != nil && !klDivergence && cacheOptions.isSet {
            throw CLIError("--kl-divergence-base without --kl-divergence saves the full f16 cache's log-probabilities; "
                + "drop --cache-type-k/--cache-type-v")
        }
        if pressOptions.decodeBudget != nil { throw CLIError("--decode-budget compresses while generating; perplexity generates nothing") }
        if klDivergence || klDivergenceBase != nil || pressOptions.press != nil, context < 4 {
            throw CLIError("--ctx must be at least 4 with --press or --kl-divergence-base (half of each window is context), got \(context)")
        }
    }

    func run() throws {
        try reportingErrors {
            let text = try readUTF8File(file)
            // Where the base goes is checked, and the base to compare with read, before the model is loaded.
            let output = try klDivergenceBase.flatMap { klDivergence ? nil : try OutputFile($0, option: "--kl-divergence-base") }
            let base = try klDivergenceBase.flatMap { klDivergence ? try KLDivergenceBase.read($0) : nil }
            let engine = try modelOptions.loadEngine()
            try cacheOptions.apply(to: engine)
            var tokens = engine.tokenizer.encode(text)
            if let maxTokens { tokens = Array(tokens.prefix(maxTokens)) }
            let start = Date()
            let evaluator = PerplexityEvaluator(engine: engine)
            if pressOptions.press == nil && klDivergenceBase == nil {
                let result = try evaluator.evaluate(tokens: tokens, context: context) {
                    Console.progress("perplexity", done: $0, total: $1)
                }
                let line = String(format: "perplexity %.4f over %d tokens (%d windows of %d)", result.ppl, result.tokens,
                                  result.windows, context)
                report(["tokens": result.tokens, "ppl": result.ppl, "nll": result.negativeLogLikelihood, "windows": result.windows],
                       line: line,
                       seconds: Date().timeIntervalSince(start), tokens: result.tokens)
                return
            }
            let press = try pressOptions.makePress(engine: engine, modelPath: engine.file.path)
            let (result, record) = try evaluator.evaluate(tokens: tokens, context: context, press: press, base: base,
                                                          keepLogProbabilities: output != nil) {
                Console.progress("perplexity", done: $0, total: $1)
            }
            try output?.write(record.encoded())
            pressOptions.report(press)
            var fields: [String: Any] = ["tokens": result.tokens, "ppl": result.ppl, "nll": result.negativeLogLikelihood,
                                         "windows": result.windows, "cache_bytes": result.cacheBytes, "dense_f16_bytes": result.denseBytes]
            let how = press == nil ? "" : " and compressed"
            var lines = [String(format: "perplexity %.4f over %d tokens (second halves of %d windows of %d, after the first half was "
                                + "prefilled%@)", result.ppl, result.tokens, result.windows, context, how)]
            if let output { lines.append("full cache log-probabilities saved to \(output.path)") }
            if let d = result.divergence, let basePPL = result.basePPL {
                fields["base_ppl"] = basePPL
                let interval = ConfidenceInterval.bootstrapMean(result.tokenKL)
                fields["kl_mean_interval"] = [interval.lowerBound, interval.upperBound]
                fields["kl"] = ["mean": d.meanKL, "median": d.medianKL, "p99": d.kl99, "p99_9": d.kl999, "max": d.maxKL,
                                "same_top_share": d.sameTopShare, "rms_delta_p": d.rmsDeltaP]
                lines += [String(format: "PPL(full cache) %.4f, PPL ratio %.4f", basePPL, result.ppl / basePPL),
                          String(format: "Mean KLD: %.6f [%.6f–%.6f] (95%% bootstrap over the scored tokens)", d.meanKL,
                                 interval.lowerBound, interval.upperBound), String(format: "Median KLD: %.6f", d.medianKL),
                          String(format: "99.0%% KLD: %.6f", d.kl99), String(format: "99.9%% KLD: %.6f", d.kl999),
                          String(format: "Maximum KLD: %.6f", d.maxKL), String(format: "Same top p: %.3f %%", 100 * d.sameTopShare),
                          String(format: "RMS Δp: %.3f %%", 100 * d.rmsDeltaP)]
            }
            lines.append(String(format: "cache after each window's first half: %.1f KiB (dense f16: %.1f KiB)",
                                Double(result.cacheBytes) / 1024, Double(result.denseBytes) / 1024))
            report(fields, line: lines.joined(separator: "\n"), seconds: Date().timeIntervalSince(start), tokens: result.tokens)
        }
    }

    func report(_ fields: [String: Any], line: String, seconds: Double, tokens: Int) {
        if json {
            var object = fields
            object["ctx"] = context
            object["seconds"] = seconds
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
                Console.out(String(decoding: data, as: UTF8.self) + "\n")
            }
        } else {
            Console.out(line + "\n")
            Console.status(String(format: "%.1f s, %.1f tokens/s", seconds, Double(tokens) / seconds))
        }
    }
}
