// Based on: DuoAttention: Efficient Long-Context LLM Inference with Retrieval and Streaming Heads (arXiv 2410.10819).
import KVCache

/// Retrieval heads keep the full cache; streaming heads keep `sinks` + a recent window. Heads are ranked by a
/// `HeadProfile`'s passkey attention mass (a training-free stand-in for DuoAttention's optimized gates), and
/// the number of retrieval heads is set by the ratio: the streaming window is `window` tokens, and as many heads
/// as the budget allows stay full; the streaming heads share whatever remains.
public struct DuoPress: KVPress {
    public let profile: HeadProfile
    public let compressionRatio: Double
    public let sinks: Int
    public let window: Int
    public var description: String { "duo@\(compressionRatio)" }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let sinks = 4
        public static let window = 64
    }

    public init(profile: HeadProfile, compressionRatio: Double, sinks: Int = Defaults.sinks,
                window: Int = Defaults.window) throws {
        guard sinks >= 0 else { throw PressError.invalidParameter(name: "sinks", reason: "must be ≥ 0, got \(sinks)") }
        guard window > 0 else { throw PressError.invalidParameter(name: "window", reason: "must be positive, got \(window)") }
        self.profile = profile
        self.compressionRatio = compressionRatio
        self.sinks = sinks
        self.window = window
    }

    public func compress(_ cache: KVCache) throws {
        guard compressionRatio > 0 else { return }
        let profile = try self.profile.selecting(for: cache)
        let heads = cache.layers.count * cache.kvHeads
        let n = cache.longestPressableHead
        let target = heads * Budget.kept(n, ratio: compressionRatio)
        let streamingSize = min(n, sinks + window)
        // f·n + (1 − f)·streamingSize = target / heads.
        let fraction = n > streamingSize ? (Double(target) / Double(heads) - Double(streamingSize)) / Double(n - streamingSize) : 0
        let retrieval = max(0, min(heads - 1, Int((fraction * Double(heads)).rounded(.down))))
        let chosen = Set(HeadProfile.ranking(profile.passkey).prefix(retrieval).map { $0.layer * cache.kvHeads + $0.head })
        Budget.shareRemainder(cache, whole: chosen, total: target, count: n) { l, h, keep in
            SinksWindowCompensation.apply(cache, layer: l, head: h, keep: keep, sinks: sinks, compensate: false)
        }
    }
}

extension DuoPress {
    public static let declaration = PressDeclaration(
        name: "duo", family: .profile,
        summary: "heads ranked by passkey attention mass: as many as the budget allows stay whole, the rest stream "
            + "(sinks + recent)",
        paper: "DuoAttention",
        parameters: [
            .integer("window", Defaults.window, "recent tokens a streaming head keeps"),
            .integer("sinks", Defaults.sinks, "first tokens kept"),
        ],
        factory: .profile { profile, arguments in
            try DuoPress(profile: profile, compressionRatio: arguments.ratio, sinks: arguments.integer("sinks"),
                         window: arguments.integer("window"))
        })
}
