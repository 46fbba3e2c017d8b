// Based on: Efficient Streaming Language Models with Attention Sinks (generation in bounded memory), and kvpress's DecodingPress.
import KVCache

/// Wraps a scorer so the cache stays bounded while generating: after the prompt, and then every `interval`
/// generated tokens, every head is brought back to `budget` tokens (its scorer chooses which). With
/// `streaming` this is StreamingLLM's generation at fixed memory: at most `budget + interval` tokens per head.
public struct DecodingPress: KVPress {
    public let scorer: any ScorerPress
    public let budget: Int
    public let interval: Int
    public var description: String { "decoding(\(scorer.description), budget \(budget), every \(interval))" }

    public init(scorer: any ScorerPress, budget: Int, interval: Int = 64) throws {
        guard budget > 0 else { throw PressError.invalidParameter(name: "budget", reason: "must be positive, got \(budget)") }
        guard interval > 0 else { throw PressError.invalidParameter(name: "interval", reason: "must be positive, got \(interval)") }
        self.scorer = scorer
        self.budget = budget
        self.interval = interval
    }

    public var needs: AttentionNeeds { scorer.needs }
    public var compressesDuringDecoding: Bool { true }

    public func compress(_ cache: KVCache) throws {
        try BudgetPress(scorer: scorer, budget: budget).compress(cache)
    }

    public func compressDuringDecoding(_ cache: KVCache, step: Int) throws {
        if step % interval == 0 { try compress(cache) }
    }
}
