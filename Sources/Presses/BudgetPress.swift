// Based on: kvpress's fixed-budget use of any scorer (tokens per head instead of a ratio).
import KVCache

/// Keeps at most `budget` tokens in every head after the prompt, chosen by `scorer` (the alternative to a ratio).
public struct BudgetPress: KVPress {
    public let scorer: any ScorerPress
    public let budget: Int
    public var description: String { "\(scorer.description) budget \(budget)" }

    public init(scorer: any ScorerPress, budget: Int) throws {
        guard budget > 0 else { throw PressError.invalidParameter(name: "budget", reason: "must be positive, got \(budget)") }
        self.scorer = scorer
        self.budget = budget
    }

    public var needs: AttentionNeeds { scorer.needs }

    public func compress(_ cache: KVCache) throws {
        try scorer.keep(in: cache) { min($0, budget) }
    }
}
