// Based on: ZipVL: Efficient Large Vision-Language Models with Dynamic Token Sparsification and KV Cache Compression.
import KVCache

/// ZipVL's cache rule: per layer, the fewest tokens holding a fraction τ of the attention mass of the last
/// `window` queries are important (the rule of `mass`, so the share adapts to each layer and prompt) and keep
/// `high` bits; every other token is kept at `low` bits.
public struct ZipVLPress: KVPress {
    public let mass: MassPress
    public let high: TokenPrecision
    public let low: TokenPrecision
    public let group: Int
    public var description: String { "zipvl(τ=\(mass.tau)):high=\(high),low=\(low)" }
    public var needs: AttentionNeeds { mass.needs }

    public enum Defaults {
        public static let high = 4
        public static let low = 2
        public static let group = 32
    }

    public init(mass: MassPress, high: TokenPrecision = .bits(Defaults.high), low: TokenPrecision = .bits(Defaults.low),
                group: Int = Defaults.group) {
        self.mass = mass
        self.high = high
        self.low = low
        self.group = group
    }

    public func compress(_ cache: KVCache) throws {
        try MixedPrecision.apply(cache, deciding: mass, high: high, low: low, codes: CodeSettings(group: group),
                                 name: "zipvl")
    }
}

extension ZipVLPress {
    public static let declaration = PressDeclaration(
        name: "zipvl", family: .precision,
        summary: "ZipVL: per layer the fewest tokens holding τ of the attention mass keep `high` bits, the rest `low`",
        paper: "ZipVL",
        parameters: [
            .real("tau", MassPress.Defaults.tau, "share of the attention mass the important tokens hold"),
            .integer("window", MassPress.Defaults.window, "last queries scored"),
            .integer("high", Defaults.high, "bits of the important tokens (16: f16)"),
            .integer("low", Defaults.low, "bits of the others: 2, 3, 4 or 8"),
            .integer("group", Defaults.group, "tokens per key group and channels per value group"),
        ],
        ignoresRatio: true,
        factory: .standalone { arguments in
            let (high, low) = try MixedPrecision.precisions(arguments, press: "zipvl")
            let mass = try MassPress(tau: arguments.real("tau"), window: arguments.integer("window"))
            return ZipVLPress(mass: mass, high: high, low: low, group: try arguments.integer("group"))
        })
}
