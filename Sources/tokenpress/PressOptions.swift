import ArgumentParser
import Engine
import Evaluation
import Presses

/// `--press` and its companions, shared by the commands that compress a cache.
struct PressOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Compress the KV cache with this press: NAME[@RATIO][:KEY=VALUE,...], several joined by + run in sequence.",
        discussion: "Presses (tokenpress presses describes each): " + PressRegistry.helpText()
            + ". Allocators wrap a scorer: adakv(snapkv), pyramid(expected), layer-adaptive(knorm); "
            + "razor, duo and compresskv read a head profile (tokenpress calibrate). "
            + "Example: --press snapkv:window=32 --ratio 0.75",
        valueName: "spec"))
    var press: String?
    @Option(name: .customLong("ratio"), parsing: .unconditional,
            help: "Fraction of each head's tokens the press removes, in [0, 1) (default: 0.5).")
    var ratioOption: Double?
    static let defaultRatio = 0.5
    var ratio: Double { ratioOption ?? Self.defaultRatio }
    @Option(name: .long, parsing: .unconditional,
            help: "With --press: keep this many tokens per head after the prompt (instead of --ratio).")
    var budget: Int?
    @Option(name: .customLong("decode-budget"), parsing: .unconditional,
            help: "With --press: keep at most this many tokens per head while generating (compressing every --decode-interval tokens).")
    var decodeBudget: Int?
    @Option(name: .customLong("decode-interval"), parsing: .unconditional,
            help: "Generated tokens between compressions with --decode-budget.")
    var decodeInterval = 64
    @Option(name: .customLong("chunk-size"), parsing: .unconditional,
            help: ArgumentHelp("With --press: prefill this many tokens at a time and compress each chunk before reading the next "
                + "(bounded prefill memory)."))
    var chunkSize: Int?
    @Option(name: .long, help: "Head profile for razor and duo (default: next to the model, measured on first use).")
    var profile: String?
    @Option(name: .customLong("press-layers"), help: ArgumentHelp(
        "Layers the press compresses: global, all, or indices such as 0,5,11.",
        discussion: "global (the default) leaves sliding-window layers (Gemma 3's local layers) uncompressed, as kvpress "
            + "does: they hold at most their window already. On models without such layers it is every layer."))
    var pressLayers = "global"
    @Option(name: .customLong("kv-memory"), help: ArgumentHelp(
        "Keep the KV cache within this size: 24MiB, 512KiB, or a share of the prompt's dense f16 cache (25%, 0.25).",
        discussion: "The target allocator chooses per layer, KV head and group of 32 tokens whether to keep them at f16, "
            + "at 8, 4, 3 or 2 bits, or to evict them, by predicted KL per byte (the model's per-head sensitivities, "
            + "measured once on the essays' calibration split and saved in the head profile, weighted by the prompt's "
            + "attention). generate keeps room for -n generated tokens inside the target.",
        valueName: "size"))
    var kvMemory: String?
    @Option(name: .customLong("max-kl"), parsing: .unconditional, help: ArgumentHelp(
        "Keep the smallest KV cache whose predicted mean KL to the full cache stays at or below this (nats).",
        valueName: "nats"))
    var maxKL: Double?
    @Option(name: .customLong("retrieval-prior"), parsing: .unconditional, help: ArgumentHelp(
        "With --kv-memory or --max-kl: the share λ of attention mass spread evenly over a head's tokens before planning.",
        discussion: "The prompt's last queries decide which tokens look needed; a question asked after compression may "
            + "need others. λ > 0 makes eviction cost something for every token, so the plan quantizes more and "
            + "evicts less. Default 0: retrieval heads (--retrieval-heads) keep the needles, and on the calibration "
            + "split 0 found as many as 0.5 at half the KL; before them 0.5 was needed."))
    var retrievalPrior: Double?
    @Option(name: .customLong("retrieval-heads"), parsing: .unconditional, help: ArgumentHelp(
        "With --kv-memory or --max-kl: the share of KV heads, best retrieval scores first, whose tokens are never "
            + "evicted, only given fewer bits.",
        discussion: "RazorAttention's retrieval heads (echo + induction scores of the head profile) copy from anywhere "
            + "in the context. Default 0.15, chosen on RULER's calibration split; 0 lets the plan evict from any head."))
    var retrievalHeads: Double?
    @Flag(name: .long, help: "With --kv-memory or --max-kl: print the plan per layer (tokens at each precision, bytes, predicted KL).")
    var explain = false

    /// Checks the options without a model (a placeholder profile stands in for the real one).
    func validatePress() throws {
        if let target = try target() {
            if press != nil || budget != nil || decodeBudget != nil || chunkSize != nil || ratioOption != nil {
                throw CLIError("give either --press (with its options) or a target (--kv-memory, --max-kl), not both")
            }
            if kvMemory != nil, maxKL != nil { throw CLIError("give either --kv-memory or --max-kl, not both") }
            _ = target
        } else if explain || retrievalPrior != nil || retrievalHeads != nil {
            throw CLIError("--explain, --retrieval-prior and --retrieval-heads need --kv-memory or --max-kl")
        }
        if let retrievalPrior, !(retrievalPrior >= 0 && retrievalPrior < 1) {
            throw CLIError("--retrieval-prior must be in [0, 1), got \(retrievalPrior)")
        }
        if let retrievalHeads, !(0 ... 1).contains(retrievalHeads) {
            throw CLIError("--retrieval-heads must be in [0, 1], got \(retrievalHeads)")
        }
        _ = try makePress(profile: HeadProfile.placeholder)
        let layers = try PressedLayers(parsing: pressLayers)
        if press == nil, layers != .global { throw CLIError("--press-layers needs --press") }
    }

    /// What `--press` or a target names, for checks against other options ("target" for a target).
    var pressOrTarget: String? { press ?? (kvMemory != nil || maxKL != nil ? "target" : nil) }

    /// The target `--kv-memory` or `--max-kl` names, if any.
    func target() throws -> CompressionTarget? {
        if let kvMemory { return try CompressionTarget.memory(kvMemory) }
        if let maxKL { return try CompressionTarget.klBound(maxKL) }
        return nil
    }

    /// The press, with the model's head profile when it needs one, on the layers `--press-layers` names; with a
    /// target, the target press keeping room for `reserve` generated tokens.
    func makePress(engine: InferenceEngine, modelPath: String, reserve: Int = 0) throws -> (any KVPress)? {
        let layers = try PressedLayers(parsing: pressLayers)
        let specs = engine.model.attentionSpecs
        if let target = try target() {
            let headProfile = try Self.profile(engine: engine, modelPath: modelPath, path: profile, sensitivity: true)
            return try TargetPress(target: target, sensitivity: headProfile.sensitivity, reserveTokens: reserve,
                                   retrievalPrior: retrievalPrior ?? TargetPress.Defaults.retrievalPrior,
                                   retrieval: headProfile.retrieval,
                                   retrievalHeads: retrievalHeads ?? TargetPress.Defaults.retrievalHeads)
        }
        guard let press, PressRegistry.needsProfile(press) else {
            return try layers.restrict(try makePress(profile: nil), specs: specs)
        }
        let headProfile = try Self.profile(engine: engine, modelPath: modelPath, path: profile,
                                           sensitivity: PressRegistry.needsSensitivity(press))
        return try layers.restrict(try makePress(profile: headProfile), specs: specs)
    }

    /// The model's head profile, measured on first use (with its sensitivities when `sensitivity`).
    static func profile(engine: InferenceEngine, modelPath: String, path: String?, sensitivity: Bool) throws -> HeadProfile {
        let text: (() throws -> CalibrationText)? = sensitivity ? { try HaystackText.sensitivityText(log: { Console.status($0) }) } : nil
        return try HeadProfile.loadOrCalibrate(engine: engine, modelPath: modelPath, path: path, sensitivityText: text,
                                               log: { Console.status($0) },
                                               progress: { Console.progress("calibrate", done: $0, total: $1) })
    }

    /// Prints the plan of a target press (one line; the per-layer table with --explain).
    func report(_ press: (any KVPress)?) {
        guard let plan = (press as? TargetPress)?.plans.last else { return }
        Console.status(plan.summary)
        if explain { Console.status("plan per layer:\n" + plan.table) }
    }

    func makePress(profile headProfile: HeadProfile?) throws -> (any KVPress)? {
        guard let press else {
            if decodeBudget != nil || budget != nil || chunkSize != nil {
                throw CLIError("--budget, --decode-budget and --chunk-size need --press to choose which tokens stay")
            }
            if ratioOption != nil { throw CLIError("--ratio needs --press to choose which tokens it removes") }
            return nil
        }
        let modes = [budget != nil, decodeBudget != nil, chunkSize != nil].filter { $0 }.count
        if modes > 1 { throw CLIError("give only one of --budget, --decode-budget and --chunk-size") }
        if budget != nil || decodeBudget != nil || chunkSize != nil, press.contains("+") {
            throw CLIError("--budget, --decode-budget and --chunk-size take a single press, not '\(press)'")
        }
        if budget != nil, ratioOption != nil { throw CLIError("give either --ratio or --budget, not both") }
        if let budget { return try BudgetPress(scorer: try PressRegistry.scorer(press, ratio: 0), budget: budget) }
        if let decodeBudget {
            return try DecodingPress(scorer: try PressRegistry.scorer(press, ratio: ratio), budget: decodeBudget, interval: decodeInterval)
        }
        if let chunkSize { return try ChunkedPress(scorer: try PressRegistry.scorer(press, ratio: ratio), chunk: chunkSize) }
        return try PressRegistry.make(press, ratio: ratio, profile: headProfile)
    }
}
