/// Named presses for the CLI and tests: adding a press is a file and an entry here.
///
/// A press specification is `name[@ratio][:key=value,...]`; several joined by `+` run in sequence
/// (`ComposedPress`), e.g. `streaming@0.25+snapkv:window=32`. Without `@ratio` an item takes the default ratio.
/// Budget allocators wrap a scorer: `adakv(snapkv)`, `pyramid(expected:future=256)@0.75:beta=10` (bare
/// `adakv`/`pyramid` wrap `snapkv`). `razor` and `duo` need a `HeadProfile` (`tokenpress calibrate`).
public enum PressRegistry {
    /// Each press's parameters (name → what it means, for `--help` and errors).
    public static let parameters: [String: [String: String]] = [
        "knorm": [:],
        "random": ["seed": "random seed (default 0)"],
        "streaming": ["sinks": "first tokens always kept (default 4)"],
        "h2o": ["window": "recent tokens always kept (default 32)"],
        "a2sf": ["forgetting": "forgetting factor λ in (0, 1] (default 0.99)", "window": "recent tokens always kept (default 0)"],
        "snapkv": ["window": "observation window: last prompt queries (default 64)", "kernel": "pooling kernel, odd (default 5)"],
        "tova": [:],
        "keyformer": ["temperature": "Gumbel-softmax temperature τ (default 1)", "window": "recent tokens always kept (default 32)",
                      "seed": "noise seed (default 0)"],
        "expected": ["future": "future positions RoPE is averaged over (default 512)", "sinks": "first tokens always kept (default 4)",
                     "covariance": "1 to use the query covariance (default 1)", "vnorm": "1 to weight by ‖v‖ (default 1)"],
        "adakv": ["floor": "share of its uniform budget every head keeps (default 0.2)"],
        "pyramid": ["beta": "last layer's budget is the average / beta (default 20)"],
        "razor": ["heads": "fraction of heads kept whole as retrieval heads (default 0.15)", "sinks": "first tokens kept (default 4)"],
        "duo": ["window": "recent tokens a streaming head keeps (default 64)", "sinks": "first tokens kept (default 4)"],
        "layer-adaptive": ["window": "last queries that measure the eviction error (default 32)", "floor": "least share of the uniform budget a layer keeps (default 0.25)"],
        "mass": ["tau": "share of the attention mass each layer keeps (default 0.9; the ratio is ignored)", "window": "last queries scored (default 32)"],
        "compresskv": ["window": "last queries of the retrieval query head that choose (default 32)"],
        "ems": ["window": "local window of last queries (default 32)", "local": "weight of the local score in [0, 1] (default 0.5)"],
        "minicache": ["start": "first merged layer (default: half the layer count; the ratio is ignored)",
                      "t": "SLERP position between the pair's directions, 0 = first layer (default 0.6)",
                      "retain": "share of token pairs, the most different, left unmerged (default 0.05)",
                      "angle": "pairs whose keys or values are further apart, in degrees, stay unmerged (default 45)"],
    ]

    /// Scorer presses (usable alone, inside `adakv(…)`/`pyramid(…)`, and with --budget, --decode-budget, --chunk-size).
    public static let scorerNames = ["knorm", "random", "streaming", "h2o", "a2sf", "snapkv", "tova", "keyformer", "expected"]
    /// Budget allocators wrapping a scorer, and the profile-guided head-aware presses.
    public static let allocatorNames = ["adakv", "pyramid", "layer-adaptive"]
    /// Presses whose budget follows the attention rather than a ratio.
    public static let thresholdNames = ["mass"]
    public static let profileNames = ["razor", "duo", "compresskv"]
    /// Presses that merge what they evict instead of dropping it.
    public static let mergingNames = ["ems", "minicache"]
    /// Presses that ignore the ratio (their rule decides how much they free).
    public static let ratioFreeNames = thresholdNames + ["minicache"]
    public static let names = scorerNames + allocatorNames + profileNames + mergingNames + thresholdNames

    /// Whether `specification` names a press that needs a head profile.
    public static func needsProfile(_ specification: String) -> Bool {
        profileNames.contains { specification.range(of: "\\b\($0)\\b", options: .regularExpression) != nil }
    }

    /// The press a specification names (composed when it joins several with `+`).
    /// - Parameter ratio: default fraction of each head's tokens to remove, in [0, 1).
    public static func make(_ specification: String, ratio: Double, profile: HeadProfile? = nil) throws -> any KVPress {
        let items = try specification.split(separator: "+", omittingEmptySubsequences: false).map { try press(String($0), ratio: ratio, profile: profile) }
        return items.count == 1 ? items[0] : try ComposedPress(items)
    }

    /// One specification item: a scorer, an allocator around a scorer, or a profile-guided press.
    static func press(_ item: String, ratio defaultRatio: Double, profile: HeadProfile?) throws -> any KVPress {
        let (name, ratio, arguments, inner) = try parse(item, defaultRatio: defaultRatio)
        guard allocatorNames.contains(name) || profileNames.contains(name) || mergingNames.contains(name) || thresholdNames.contains(name) else {
            return try scorer(item, ratio: defaultRatio)
        }
        func real(_ key: String, _ fallback: Double) -> Double { arguments[key] ?? fallback }
        switch name {
        case "mass": return try MassPress(tau: real("tau", 0.9), window: Int(real("window", 32)))
        case "minicache":
            let start = try arguments["start"].map { v -> Int in
                guard v == v.rounded(), v >= 0, v < 1e6 else { throw PressError.invalidParameter(name: "start", reason: "must be a layer number, got \(v)") }
                return Int(v)
            }
            return try MiniCachePress(startLayer: start, interpolation: Float(real("t", 0.6)), retained: real("retain", 0.05),
                                      maximumAngle: Float(real("angle", 45)))
        case "ems": return try EMSPress(compressionRatio: ratio, window: Int(real("window", 32)), localWeight: Float(real("local", 0.5)))
        case "adakv": return try AdaKVPress(scorer: scorer(inner ?? "snapkv", ratio: ratio), compressionRatio: ratio, floor: real("floor", 0.2))
        case "layer-adaptive":
            return try LayerAdaptivePress(scorer: scorer(inner ?? "snapkv", ratio: ratio), compressionRatio: ratio, window: Int(real("window", 32)),
                                          floor: real("floor", 0.25))
        case "pyramid": return try PyramidPress(scorer: scorer(inner ?? "snapkv", ratio: ratio), compressionRatio: ratio, beta: real("beta", 20))
        default:
            guard inner == nil else { throw PressError.invalidParameter(name: name, reason: "takes no inner press, got '\(item)'") }
            guard let profile else {
                throw PressError.invalidParameter(name: name, reason: "needs a head profile (run tokenpress calibrate, or give --profile FILE)")
            }
            if name == "compresskv" { return try CompressKVPress(profile: profile, compressionRatio: ratio, window: Int(real("window", 32))) }
            if name == "razor" {
                return try RazorPress(profile: profile, compressionRatio: ratio, retrievalFraction: real("heads", 0.15), sinks: Int(real("sinks", 4)))
            }
            return try DuoPress(profile: profile, compressionRatio: ratio, sinks: Int(real("sinks", 4)), window: Int(real("window", 64)))
        }
    }

    /// Splits `name[(inner)][@ratio][:key=value,...]`, checking the ratio and the parameter names.
    static func parse(_ item: String, defaultRatio: Double) throws -> (name: String, ratio: Double, arguments: [String: Double], inner: String?) {
        var rest = Substring(item), inner: String?
        if let open = item.firstIndex(of: "("), let close = item.lastIndex(of: ")"), open < close {
            inner = String(item[item.index(after: open) ..< close])
            rest = item[..<open] + item[item.index(after: close)...]
        }
        var head = rest, arguments: [String: Double] = [:]
        if let colon = rest.firstIndex(of: ":") {
            head = rest[..<colon]
            for pair in rest[rest.index(after: colon)...].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let value = Double(parts[1]) else {
                    throw PressError.invalidParameter(name: String(pair), reason: "expected key=number in '\(item)'")
                }
                guard arguments.updateValue(value, forKey: String(parts[0])) == nil else {
                    throw PressError.invalidParameter(name: String(parts[0]), reason: "given twice in '\(item)'")
                }
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
        guard let known = parameters[name] else { throw PressError.unknownPress(name, known: names) }
        if let unknown = arguments.keys.sorted().first(where: { known[$0] == nil }) {
            throw PressError.unknownParameter(press: name, name: unknown, known: known.keys.sorted())
        }
        if inner != nil, !allocatorNames.contains(name) {
            throw PressError.invalidParameter(name: name, reason: "takes no inner press, got '\(item)'")
        }
        return (name, ratio, arguments, inner)
    }

    /// The scorer press of one specification item `name[@ratio][:key=value,...]` (for wrappers such as `DecodingPress`).
    public static func scorer(_ item: String, ratio defaultRatio: Double) throws -> any ScorerPress {
        let (name, ratio, arguments, _) = try parse(item, defaultRatio: defaultRatio)
        guard scorerNames.contains(name) else {
            throw PressError.invalidParameter(name: name, reason: "is not a scorer press; this use needs one of \(scorerNames.joined(separator: ", "))")
        }
        func integer(_ key: String, _ fallback: Int) throws -> Int {
            guard let v = arguments[key] else { return fallback }
            guard v == v.rounded(), abs(v) < 1e9 else { throw PressError.invalidParameter(name: key, reason: "must be a whole number, got \(v)") }
            return Int(v)
        }
        func real(_ key: String, _ fallback: Float) -> Float { arguments[key].map(Float.init) ?? fallback }
        switch name {
        case "knorm": return KnormPress(compressionRatio: ratio)
        case "random": return RandomPress(compressionRatio: ratio, seed: UInt64(max(0, try integer("seed", 0))))
        case "streaming":
            let sinks = try integer("sinks", 4)
            guard sinks >= 0 else { throw PressError.invalidParameter(name: "sinks", reason: "must be ≥ 0, got \(sinks)") }
            return StreamingPress(compressionRatio: ratio, sinks: sinks)
        case "h2o": return try H2OPress(compressionRatio: ratio, window: integer("window", 32))
        case "a2sf": return try A2SFPress(compressionRatio: ratio, forgetting: real("forgetting", 0.99), window: integer("window", 0))
        case "snapkv": return try SnapKVPress(compressionRatio: ratio, window: integer("window", 64), kernel: integer("kernel", 5))
        case "tova": return TOVAPress(compressionRatio: ratio)
        case "keyformer":
            return try KeyformerPress(compressionRatio: ratio, temperature: real("temperature", 1), window: integer("window", 32),
                                      seed: UInt64(max(0, try integer("seed", 0))))
        case "expected":
            return try ExpectedAttentionPress(compressionRatio: ratio, futurePositions: integer("future", 512), sinks: integer("sinks", 4),
                                              useCovariance: integer("covariance", 1) != 0, useValueNorm: integer("vnorm", 1) != 0)
        default: throw PressError.unknownPress(name, known: names)
        }
    }
}
