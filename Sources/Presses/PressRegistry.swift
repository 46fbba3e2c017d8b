/// Named presses for the CLI, the library and tests. Each press declares itself once (`PressDeclaration`, in its
/// own file): adding a press is that file and one line in `declarations`.
///
/// A press specification is `name[@ratio][:key=value,...]`; several joined by `+` run in sequence
/// (`ComposedPress`), e.g. `streaming@0.25+snapkv:window=32`. Without `@ratio` an item takes the default ratio.
/// Budget allocators wrap a scorer: `adakv(snapkv)`, `pyramid(expected:future=256)@0.75:beta=10` (bare
/// `adakv`/`pyramid` wrap `snapkv`). `razor` and `duo` need a `HeadProfile` (`tokenpress calibrate`).
public enum PressRegistry {
    /// Every press, in the order tables and `--help` list them.
    public static let declarations: [PressDeclaration] = [
        RandomPress.declaration,
        KnormPress.declaration,
        StreamingPress.declaration,
        H2OPress.declaration,
        A2SFPress.declaration,
        SnapKVPress.declaration,
        TOVAPress.declaration,
        KeyformerPress.declaration,
        ExpectedAttentionPress.declaration,
        AdaKVPress.declaration,
        PyramidPress.declaration,
        LayerAdaptivePress.declaration,
        RazorPress.declaration,
        DuoPress.declaration,
        MassPress.declaration,
        CompressKVPress.declaration,
        EMSPress.declaration,
        MiniCachePress.declaration,
        CacheTypePress.declaration,
        KIVIPress.declaration,
        MiKVPress.declaration,
        ZipCachePress.declaration,
        ZipVLPress.declaration,
        MustafarPress.declaration,
        GEARPress.declaration,
        TargetPress.declaration,
    ]

    /// The declaration of the press named `name`.
    public static func declaration(_ name: String) -> PressDeclaration? {
        declarations.first { $0.name == name }
    }

    public static func names(of family: PressDeclaration.Family) -> [String] {
        declarations.filter { $0.family == family }.map(\.name)
    }

    /// Scorer presses (usable alone, inside `adakv(…)`/`pyramid(…)`, and with --budget, --decode-budget, --chunk-size).
    public static var scorerNames: [String] { names(of: .scorer) }
    /// Budget allocators wrapping a scorer.
    public static var allocatorNames: [String] { names(of: .allocator) }
    /// Presses whose budget follows the attention rather than a ratio.
    public static var thresholdNames: [String] { names(of: .threshold) }
    /// Presses guided by a head profile.
    public static var profileNames: [String] { names(of: .profile) }
    /// Presses that merge what they evict instead of dropping it.
    public static var mergingNames: [String] { names(of: .merging) }
    /// Presses that ignore the ratio (their rule decides how much they free).
    public static var ratioFreeNames: [String] { swept.filter(\.ignoresRatio).map(\.name) }
    /// The presses sweeps compare at ratios: every press but the target press, which takes a target instead.
    public static var names: [String] { swept.map(\.name) }
    private static var swept: [PressDeclaration] { declarations.filter { $0.family != .target } }

    /// Whether `specification` names a press that needs a head profile.
    public static func needsProfile(_ specification: String) -> Bool {
        (profileNames + names(of: .target)).contains { specification.range(of: "\\b\($0)\\b", options: .regularExpression) != nil }
    }

    /// Whether every item of `specification` ignores the ratio (`kivi:bits=2`, `cache-type+kivi`, `target:…`): any
    /// ratio gives the same cache.
    public static func ignoresRatio(_ specification: String) -> Bool {
        specification.split(separator: "+").allSatisfy { item in
            let name = item.prefix { $0 != "@" && $0 != ":" && $0 != "(" }
            return declaration(String(name)).map { $0.ignoresRatio || $0.family == .target } ?? false
        }
    }

    /// Whether `specification` names a press that needs the head profile's sensitivities (the target press).
    public static func needsSensitivity(_ specification: String) -> Bool {
        names(of: .target).contains { specification.range(of: "\\b\($0)\\b", options: .regularExpression) != nil }
    }

    /// The press a specification names (composed when it joins several with `+`).
    /// - Parameter ratio: default fraction of each head's tokens to remove, in [0, 1).
    public static func make(_ specification: String, ratio: Double, profile: HeadProfile? = nil) throws -> any KVPress {
        let items = try specification.split(separator: "+", omittingEmptySubsequences: false).map {
            try press(String($0), ratio: ratio, profile: profile)
        }
        return items.count == 1 ? items[0] : try ComposedPress(items)
    }

    /// One specification item: a scorer, an allocator around a scorer, or a profile-guided press.
    static func press(_ item: String, ratio defaultRatio: Double, profile: HeadProfile?) throws -> any KVPress {
        let (arguments, inner) = try parse(item, defaultRatio: defaultRatio)
        let name = arguments.declaration.name
        switch arguments.declaration.factory {
        case .scorer(let make):
            return try make(arguments)
        case .allocator(let make):
            return try make(scorer(inner ?? "snapkv", ratio: arguments.ratio), arguments)
        case .profile(let make):
            guard let profile else {
                throw PressError.invalidParameter(
                    name: name, reason: "needs a head profile (run tokenpress calibrate, or give --profile FILE)")
            }
            return try make(profile, arguments)
        case .standalone(let make):
            return try make(arguments)
        }
    }

    /// The scorer press of one specification item `name[@ratio][:key=value,...]` (for wrappers such as `DecodingPress`).
    public static func scorer(_ item: String, ratio defaultRatio: Double) throws -> any ScorerPress {
        let (arguments, _) = try parse(item, defaultRatio: defaultRatio)
        guard case .scorer(let make) = arguments.declaration.factory else {
            let known = scorerNames.joined(separator: ", ")
            throw PressError.invalidParameter(
                name: arguments.declaration.name, reason: "is not a scorer press; this use needs one of \(known)")
        }
        return try make(arguments)
    }

    /// Splits `name[(inner)][@ratio][:key=value,...]`, checking the ratio and the parameter names.
    static func parse(_ item: String, defaultRatio: Double) throws -> (arguments: PressArguments, inner: String?) {
        var rest = Substring(item), inner: String?
        if let open = item.firstIndex(of: "("), let close = item.lastIndex(of: ")"), open < close {
            inner = String(item[item.index(after: open) ..< close])
            rest = item[..<open] + item[item.index(after: close)...]
        }
        var head = rest, arguments: [String: Double] = [:], words: [String: String] = [:]
        if let colon = rest.firstIndex(of: ":") {
            head = rest[..<colon]
            for pair in rest[rest.index(after: colon)...].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else {
                    throw PressError.invalidParameter(name: String(pair), reason: "expected key=value in '\(item)'")
                }
                let key = String(parts[0])
                guard arguments[key] == nil, words[key] == nil else {
                    throw PressError.invalidParameter(name: key, reason: "given twice in '\(item)'")
                }
                // Names (a cache type) are resolved against the declaration below; everything else is a number.
                if let value = Double(parts[1]) { arguments[key] = value } else { words[key] = String(parts[1]) }
            }
        }
        var name = String(head), ratio = defaultRatio
        if let at = head.firstIndex(of: "@") {
            name = String(head[..<at])
            guard let r = Double(head[head.index(after: at)...]) else {
                throw PressError.invalidParameter(name: "ratio", reason: "'\(head[head.index(after: at)...])' in '\(item)' is not a number")
            }
            ratio = r
        }
        guard ratio >= 0, ratio < 1, ratio.isFinite else { throw PressError.invalidRatio(ratio) }
        guard let declaration = declaration(name) else { throw PressError.unknownPress(name, known: names) }
        for key in arguments.keys.sorted() {
            if case .choice(let names) = declaration.parameter(key)?.kind {
                throw PressError.invalidParameter(name: key, reason: "expected one of \(names.joined(separator: ", "))")
            }
        }
        for (key, word) in words {
            guard let parameter = declaration.parameter(key) else { continue }
            guard case .choice(let names) = parameter.kind else {
                throw PressError.invalidParameter(name: key, reason: "expected a number, got '\(word)' in '\(item)'")
            }
            guard let index = names.firstIndex(of: word.lowercased()) else {
                throw PressError.invalidParameter(name: key, reason: "'\(word)' is none of \(names.joined(separator: ", "))")
            }
            arguments[key] = Double(index)
        }
        if let unknown = (Array(arguments.keys) + Array(words.keys)).sorted().first(where: { declaration.parameter($0) == nil }) {
            let known = declaration.parameters.map(\.key).sorted()
            throw PressError.unknownParameter(press: name, name: unknown, known: known)
        }
        if inner != nil, !declaration.wrapsScorer {
            throw PressError.invalidParameter(name: name, reason: "takes no inner press, got '\(item)'")
        }
        return (PressArguments(declaration: declaration, ratio: ratio, given: arguments), inner)
    }
}
