import ArgumentParser
import Sampling

/// Sampling flags shared by `generate` and `chat`.
struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("temp"), parsing: .unconditional, help: "Temperature; 0 picks the most likely token (greedy).")
    var temperature: Float = 0.8
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Keep the k most likely tokens (0 = all).")
    var topK: Int = 40
    @Option(name: .customLong("top-p"), parsing: .unconditional,
            help: "Keep the smallest set of tokens whose probability reaches p (1 = all).")
    var topP: Float = 0.95
    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Drop tokens less likely than p × the most likely one (0 = off).")
    var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), parsing: .unconditional, help: "Penalty for tokens among the last 64 (1 = off).")
    var repeatPenalty: Float = 1.0
    @Option(name: .long, help: "Random seed, for reproducible sampling.")
    var seed: UInt64 = 0

    func validateValues() throws {
        guard temperature >= 0, temperature.isFinite else { throw CLIError("--temp must be zero or positive, got \(temperature)") }
        guard topK >= 0 else { throw CLIError("--top-k must be zero or positive, got \(topK)") }
        guard topP > 0, topP <= 1 else { throw CLIError("--top-p must be in (0, 1], got \(topP)") }
        guard minP >= 0, minP < 1 else { throw CLIError("--min-p must be in [0, 1), got \(minP)") }
        guard repeatPenalty > 0 else { throw CLIError("--repeat-penalty must be positive, got \(repeatPenalty)") }
    }

    var parameters: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = temperature
        p.topK = topK
        p.topP = topP
        p.minP = minP
        p.repetitionPenalty = repeatPenalty
        p.seed = seed
        return p
    }
}
