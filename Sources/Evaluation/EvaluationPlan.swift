/// What one `tokenpress eval` run measures: presses × ratios over tasks, contexts and depths.
public struct EvaluationPlan: Sendable, Codable, Equatable {
    public enum Task: String, Sendable, Codable, CaseIterable {
        /// Perplexity of a continuation scored with the compressed cache, and KL divergence to the full cache.
        case perplexity
        /// A magic number hidden at a depth of filler text; asked for after compression.
        case needle
        /// RULER multi-key needle: four keys with numbers; the one asked for sits at the depth.
        case multikey
        /// RULER multi-value: four numbers for one key; all are asked for (score: share found).
        case multivalue
        /// RULER variable tracking: VAR A = N, VAR B = VAR A, … spread up to the depth; every name is asked for.
        case variables
        /// RULER common-word extraction: a numbered word list; the 10 most frequent words are asked for.
        case commonwords

        /// The tasks answered by generation (all but perplexity).
        public static let questions: [Task] = [.needle, .multikey, .multivalue, .variables, .commonwords]
    }

    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// The question comes after compression (the cache cannot know what will be asked).
        case agnostic
        /// The question is part of the prompt the press sees.
        case aware
    }

    /// Press specifications (see `PressRegistry`); the full cache (`none`) always runs first.
    public var presses: [String]
    public var ratios: [Double]
    public var tasks: [Task] = [.perplexity, .needle]
    public var modes: [Mode] = Mode.allCases
    /// Context lengths in tokens (the whole prompt for the needle, the scored prefix for perplexity).
    public var contexts = [2048, 4096]
    /// Depths of the information asked for, 0 (start of the text) to 1 (end): one question per depth and task.
    public var depths = [0, 0.25, 0.5, 0.75, 1]
    /// Tokens scored after each perplexity context.
    public var continuation = 256
    /// Perplexity samples per context (different stretches of the text).
    public var samples = 1
    /// Most tokens generated for an answer (each task has its own smaller limit).
    public var answerTokens = 64
    /// Chooses the text stretches and the magic numbers.
    public var seed: UInt64 = 0

    public init(presses: [String], ratios: [Double]) {
        self.presses = presses
        self.ratios = ratios
    }

    /// Prompts the plan prefills (perplexity stretches, then question prompts), in sweep order.
    public var promptCount: Int {
        let questionTasks = tasks.filter { $0 != .perplexity }.count
        return (tasks.contains(.perplexity) ? contexts.count * samples : 0) + questionTasks * contexts.count * depths.count * modes.count
    }

    /// Measurements (cells) of a whole run: every configuration on every prompt.
    public var cellCount: Int { promptCount * configurations.count }

    /// Every (press, ratio) evaluated, the full cache first.
    public var configurations: [(press: String, ratio: Double)] {
        [("none", 0)] + presses.flatMap { p in ratios.map { (p, $0) } }
    }
}
