/// Named presses for the CLI and tests: adding a press is a file and a line here.
public enum PressRegistry {
    public static let names = ["knorm", "random", "streaming"]

    /// - Parameters:
    ///   - name: one of `names`.
    ///   - ratio: fraction of each head's tokens to remove, in [0, 1).
    public static func make(_ name: String, ratio: Double) throws -> any KVPress {
        try scorer(name, ratio: ratio)
    }

    /// The scorer press `name` (for wrappers such as `DecodingPress`).
    public static func scorer(_ name: String, ratio: Double) throws -> any ScorerPress {
        guard ratio >= 0, ratio < 1, ratio.isFinite else { throw PressError.invalidRatio(ratio) }
        switch name {
        case "knorm": return KnormPress(compressionRatio: ratio)
        case "random": return RandomPress(compressionRatio: ratio)
        case "streaming": return StreamingPress(compressionRatio: ratio)
        default: throw PressError.unknownPress(name, known: names)
        }
    }
}
