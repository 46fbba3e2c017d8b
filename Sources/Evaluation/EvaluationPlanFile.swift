import Engine
import Foundation

/// A plan as a file: how `eval --jobs N` hands its plan to the shard processes, so that a child measures exactly the
/// parent's plan instead of rebuilding it from options (where every new option had to be remembered).
extension EvaluationPlan {
    /// Writes the plan as JSON through `OutputFile` (complete or absent: a reader never sees half a plan).
    public func write(to path: String) throws {
        try OutputFile(path, option: "--plan").write(try JSONEncoder().encode(self))
    }

    /// The plan `write(to:)` wrote; a missing, unreadable or foreign file is refused in one line.
    public static func read(_ path: String) throws -> EvaluationPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvaluationError.unreadablePlan(path: path, reason: "cannot read the file")
        }
        do {
            return try JSONDecoder().decode(EvaluationPlan.self, from: data)
        } catch {
            throw EvaluationError.unreadablePlan(path: path, reason: "its JSON does not hold one")
        }
    }
}
