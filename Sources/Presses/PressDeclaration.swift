/// What a press tells the registry about itself, once: its name, what it does, its paper, its parameters with
/// their defaults, and how to build it. `PressRegistry` parses specifications, and `--help`, `tokenpress presses`
/// and the README's press tables are generated, from these declarations alone.
public struct PressDeclaration: Sendable {
    /// How a press is used in a specification, which decides what its factory receives.
    public enum Family: String, Sendable, CaseIterable {
        /// Scores tokens; usable alone, inside an allocator and with `--budget`, `--decode-budget`, `--chunk-size`.
        case scorer
        /// Shares a budget between layers or heads, ranking tokens with a scorer: `adakv(snapkv)`.
        case allocator
        /// Reads a head profile (`tokenpress calibrate`).
        case profile
        /// Merges what it evicts instead of dropping it.
        case merging
        /// Its budget follows the attention rather than a ratio.
        case threshold
        /// Keeps tokens and stores them at fewer bits (composes with the eviction presses).
        case precision
        /// Meets a memory or quality target by choosing tokens and bits per head (reads the profile's sensitivities;
        /// not part of default sweeps, which compare presses at ratios).
        case target
    }

    /// Builds the press from parsed arguments (and, by family, the wrapped scorer or the head profile).
    public enum Factory: Sendable {
        case scorer(@Sendable (PressArguments) throws -> any ScorerPress)
        case allocator(@Sendable (any ScorerPress, PressArguments) throws -> any KVPress)
        case profile(@Sendable (HeadProfile, PressArguments) throws -> any KVPress)
        case standalone(@Sendable (PressArguments) throws -> any KVPress)
    }

    public let name: String
    public let family: Family
    /// What the press keeps, or does, in one sentence (for tables and `--help`).
    public let summary: String
    /// The attention statistics it records while prefilling ("—" for none).
    public let statistics: String
    /// The paper it follows ("—" for a baseline).
    public let paper: String
    public let parameters: [PressParameter]
    /// Whether its own rule decides how much it frees (the ratio is ignored).
    public let ignoresRatio: Bool
    public let factory: Factory

    public init(name: String, family: Family, summary: String, statistics: String = "—", paper: String,
                parameters: [PressParameter] = [], ignoresRatio: Bool = false, factory: Factory) {
        self.name = name
        self.family = family
        self.summary = summary
        self.statistics = statistics
        self.paper = paper
        self.parameters = parameters
        self.ignoresRatio = ignoresRatio
        self.factory = factory
    }

    /// Whether the press wraps a scorer (`adakv(snapkv)`, `mikv(tova)`).
    public var wrapsScorer: Bool {
        if case .allocator = factory { return true }
        return false
    }

    /// The parameter named `key`, if the press declares one.
    public func parameter(_ key: String) -> PressParameter? {
        parameters.first { $0.key == key }
    }

    /// `window` (64), `kernel` (5) — the parameters column of the press tables.
    public var parameterSummary: String {
        guard !parameters.isEmpty else { return "—" }
        return parameters.map { "`\($0.key)` (\($0.defaultDescription))" }.joined(separator: ", ")
    }
}

/// One `key=value` parameter of a press specification, with its default and what it means.
public struct PressParameter: Sendable {
    public enum Kind: Sendable {
        case integer
        case real
        /// 0 or 1.
        case flag
        /// One of these names (held as its index).
        case choice([String])
    }

    public let key: String
    public let kind: Kind
    /// The value used when the specification does not give one (nil: computed by the press, see the description).
    public let defaultValue: Double?
    /// The default as a user reads it ("64", "0.99", "half the layer count").
    public let defaultDescription: String
    public let meaning: String

    public static func integer(_ key: String, _ value: Int, _ meaning: String) -> PressParameter {
        PressParameter(key: key, kind: .integer, defaultValue: Double(value), defaultDescription: "\(value)",
                       meaning: meaning)
    }

    public static func real(_ key: String, _ value: Double, _ meaning: String) -> PressParameter {
        let description = value == value.rounded() && abs(value) < 1e9 ? "\(Int(value))" : "\(value)"
        return PressParameter(key: key, kind: .real, defaultValue: value, defaultDescription: description,
                              meaning: meaning)
    }

    /// A single-precision parameter: its default prints as the press's own `Float` does.
    public static func real(_ key: String, _ value: Float, _ meaning: String) -> PressParameter {
        let description = value == value.rounded() && abs(value) < 1e9 ? "\(Int(value))" : "\(value)"
        return PressParameter(key: key, kind: .real, defaultValue: Double(value), defaultDescription: description,
                              meaning: meaning)
    }

    public static func flag(_ key: String, _ value: Bool, _ meaning: String) -> PressParameter {
        PressParameter(key: key, kind: .flag, defaultValue: value ? 1 : 0, defaultDescription: value ? "1" : "0",
                       meaning: meaning)
    }

    /// A parameter naming one of `choices` (e.g. a cache type), `value` by default.
    public static func choice(_ key: String, _ value: String, _ choices: [String], _ meaning: String) -> PressParameter {
        PressParameter(key: key, kind: .choice(choices), defaultValue: choices.firstIndex(of: value).map(Double.init),
                       defaultDescription: value, meaning: meaning + " (" + choices.joined(separator: ", ") + ")")
    }

    /// A whole-number parameter whose default the press computes (e.g. from the model's layer count).
    public static func computedInteger(_ key: String, _ description: String, _ meaning: String) -> PressParameter {
        PressParameter(key: key, kind: .integer, defaultValue: nil, defaultDescription: description, meaning: meaning)
    }
}

/// The values of one parsed specification item, with the declared defaults for the parameters it leaves out.
public struct PressArguments: Sendable {
    public let declaration: PressDeclaration
    /// The fraction of tokens to remove (`@ratio`, or the command's `--ratio`).
    public let ratio: Double
    /// The values the specification gave, by key (checked against the declaration when parsed).
    public let given: [String: Double]

    /// A real parameter: the given value or the declared default.
    public func real(_ key: String) -> Double {
        given[key] ?? declared(key).defaultValue ?? .nan
    }

    /// A real parameter as `Float`: the default round-trips exactly to the press's own constant.
    public func float(_ key: String) -> Float {
        Float(real(key))
    }

    /// A whole-number parameter: the given value (refused unless whole) or the declared default.
    public func integer(_ key: String) throws -> Int {
        guard let value = try optionalInteger(key) else {
            throw PressError.invalidParameter(name: key, reason: "has no default; give \(key)=N")
        }
        return value
    }

    /// A whole-number parameter, nil when neither given nor declared with a default.
    public func optionalInteger(_ key: String) throws -> Int? {
        guard let value = given[key] ?? declared(key).defaultValue else { return nil }
        guard value == value.rounded(), abs(value) < 1e9 else {
            throw PressError.invalidParameter(name: key, reason: "must be a whole number, got \(value)")
        }
        return Int(value)
    }

    /// A seed: a whole number ≥ 0.
    public func seed(_ key: String) throws -> UInt64 {
        let value = try integer(key)
        guard value >= 0 else { throw PressError.invalidParameter(name: key, reason: "must be ≥ 0, got \(value)") }
        return UInt64(value)
    }

    /// A choice parameter: the name given (checked when parsed) or the declared default.
    public func choice(_ key: String) -> String {
        guard case .choice(let names) = declared(key).kind else {
            preconditionFailure("press \(declaration.name) reads \(key) as a choice")
        }
        return names[Int(real(key))]
    }

    /// A 0/1 parameter.
    public func flag(_ key: String) throws -> Bool {
        let value = real(key)
        guard value == 0 || value == 1 else {
            throw PressError.invalidParameter(name: key, reason: "must be 0 or 1, got \(value)")
        }
        return value == 1
    }

    private func declared(_ key: String) -> PressParameter {
        guard let parameter = declaration.parameter(key) else {
            preconditionFailure("press \(declaration.name) reads undeclared parameter \(key)")
        }
        return parameter
    }
}
