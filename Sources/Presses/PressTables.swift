/// The press tables of the README, `tokenpress presses` and `--help`, generated from the declarations so they
/// cannot drift from what the registry accepts (a test compares the README's copy with these).
extension PressRegistry {
    /// The scorers' table, then the table of every other press, in Markdown.
    public static func markdownTables() -> String {
        let scorers = declarations.filter { $0.family == .scorer }
        let others = declarations.filter { $0.family != .scorer }
        var lines = [
            "| press | keeps the tokens with the highest … | statistics recorded | parameters (defaults) | paper |",
            "| --- | --- | --- | --- | --- |",
        ]
        for press in scorers {
            let cells = ["`\(press.name)`", press.summary, press.statistics, press.parameterSummary, press.paper]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        lines += [
            "",
            "**Budgets per layer and per head**, profile-guided, merging, threshold and precision presses (each head gets its own "
                + "real length; bytes follow):",
            "",
            "| press | what it does | parameters (defaults) | paper |",
            "| --- | --- | --- | --- |",
        ]
        for press in others {
            let usage = press.wrapsScorer ? "`\(press.name)(SCORER)`" : "`\(press.name)`"
            let cells = [usage, press.summary + ratioNote(press), press.parameterSummary, press.paper]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One line per press with its parameters, their defaults and meanings (for `--help`).
    public static func helpText() -> String {
        declarations.map { press in
            let parameters = press.parameters.map { "\($0.key)=\($0.defaultDescription): \($0.meaning)" }
            let usage = press.wrapsScorer ? "\(press.name)(SCORER)" : press.name
            return parameters.isEmpty ? usage : "\(usage) (\(parameters.joined(separator: "; ")))"
        }.joined(separator: "; ")
    }

    private static func ratioNote(_ press: PressDeclaration) -> String {
        press.ignoresRatio ? "; the ratio is ignored" : ""
    }
}
