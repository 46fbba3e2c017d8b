/// One of `count` disjoint parts of a sweep: prompt k belongs to shard k mod `count`. Shards run in separate
/// processes (`tokenpress eval --jobs N`) and their results merge into what one process would have measured.
public struct EvaluationShard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public static let whole = EvaluationShard(uncheckedIndex: 0, count: 1)

    public init(index: Int, count: Int) throws {
        guard count >= 1, (0 ..< count).contains(index) else {
            throw EvaluationError.invalidShard("\(index)/\(count)")
        }
        self.init(uncheckedIndex: index, count: count)
    }

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `i/N` (shard i of N, counted from 0).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else { throw EvaluationError.invalidShard(text) }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether prompt `prompt` (in the sweep's order) is this shard's.
    public func contains(_ prompt: Int) -> Bool { prompt % count == index }

    /// How many of `prompts` prompts are this shard's.
    public func share(of prompts: Int) -> Int { prompts > index ? (prompts - index + count - 1) / count : 0 }
}

/// Bad evaluation input, named in one line.
public enum EvaluationError: Error, CustomStringConvertible, Sendable {
    case invalidShard(String)
    case nothingToCombine
    /// Two results files that asked different questions: `field` names the difference.
    case incompatibleResults(first: String, other: String, field: String)
    /// A plan file (`eval --plan`, written for shard processes) that cannot be read as a plan.
    case unreadablePlan(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidShard(let text): return "--shard must be I/N with 0 ≤ I < N, got '\(text)'"
        case .nothingToCombine: return "no results files given"
        case .incompatibleResults(let first, let other, let field):
            return "\(other) cannot be combined with \(first): they differ in \(field)"
        case .unreadablePlan(let path, let reason): return "--plan \(path) is not an evaluation plan: \(reason)"
        }
    }
}
