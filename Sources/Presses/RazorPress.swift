// Based on: RazorAttention: Efficient KV Cache Compression Through Retrieval Heads (arXiv 2407.15891).
import KVCache

/// Retrieval heads (the highest echo + induction scores of a `HeadProfile`) keep every token; every other head
/// keeps `sinks` first tokens, the most recent ones, and one *compensation token*: the mean key and value of
/// what it dropped, placed at the last dropped position, so the dropped span still draws (averaged) attention.
/// The non-retrieval window is sized so the whole cache meets the ratio; if it would not fit, fewer heads
/// count as retrieval heads.
public struct RazorPress: KVPress {
    public let profile: HeadProfile
    public let compressionRatio: Double
    public let retrievalFraction: Double
    public let sinks: Int
    public var description: String { "razor@\(compressionRatio)" }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let retrievalFraction = 0.15
        public static let sinks = 4
    }

    public init(profile: HeadProfile, compressionRatio: Double, retrievalFraction: Double = Defaults.retrievalFraction,
                sinks: Int = Defaults.sinks) throws {
        guard (0 ... 1).contains(retrievalFraction) else {
            throw PressError.invalidParameter(name: "heads", reason: "must be in [0, 1], got \(retrievalFraction)")
        }
        guard sinks >= 0 else { throw PressError.invalidParameter(name: "sinks", reason: "must be ≥ 0, got \(sinks)") }
        self.profile = profile
        self.compressionRatio = compressionRatio
        self.retrievalFraction = retrievalFraction
        self.sinks = sinks
    }

    public func compress(_ cache: KVCache) throws {
        guard compressionRatio > 0 else { return }
        let profile = try self.profile.selecting(for: cache)
        let heads = cache.layers.count * cache.kvHeads
        let n = cache.longestPressableHead
        let target = heads * Budget.kept(n, ratio: compressionRatio)
        // Each other head needs room for its sinks, a compensation token and at least one recent token.
        var retrieval = Int((Double(heads) * retrievalFraction).rounded())
        while retrieval > 0 && (target - retrieval * n) / (heads - retrieval) < sinks + 2 { retrieval -= 1 }
        let chosen = Set(HeadProfile.ranking(profile.retrieval).prefix(retrieval).map { $0.layer * cache.kvHeads + $0.head })
        Budget.shareRemainder(cache, whole: chosen, total: target, count: n, minimum: 0) { l, h, keep in
            SinksWindowCompensation.apply(cache, layer: l, head: h, keep: keep, sinks: sinks)
        }
    }
}

/// Shared by head-aware presses: keep `sinks` + recent tokens, and fold the rest into one mean token.
enum SinksWindowCompensation {
    /// Brings head `head` of `layer` to `keep` tokens: the first `sinks`, the most recent `keep − sinks − 1`,
    /// and (when anything is dropped) one token holding the mean key and value of the dropped ones.
    static func apply(_ cache: KVCache, layer: Int, head: Int, keep: Int, sinks: Int, compensate: Bool = true) {
        let kv = cache.layers[layer].heads[head]
        let n = kv.count
        guard keep < n else { return }
        let first = min(sinks, max(0, keep - (compensate ? 2 : 1)))
        let recent = max(0, keep - first - (compensate ? 1 : 0))
        let dropped = first ..< n - recent
        guard !dropped.isEmpty else { return }
        var key = [Float](repeating: 0, count: kv.headDimension), value = key
        if compensate {
            for j in dropped {
                let t = kv.token(j)
                for i in key.indices { key[i] += t.key[i] / Float(dropped.count); value[i] += t.value[i] / Float(dropped.count) }
            }
        }
        let position = Int(kv.positions[dropped.upperBound - 1])
        cache.retain(layer: layer, head: head, indices: Array(0 ..< first) + Array(dropped.upperBound ..< n))
        if compensate { cache.insert(layer: layer, head: head, key: key, value: value, position: position) }
    }
}

extension RazorPress {
    public static let declaration = PressDeclaration(
        name: "razor", family: .profile,
        summary: "retrieval heads (top echo + induction scores) keep everything; the others keep sinks + recent "
            + "tokens + one compensation token (mean of the dropped keys and values)",
        paper: "RazorAttention",
        parameters: [
            .real("heads", Defaults.retrievalFraction, "fraction of heads kept whole as retrieval heads"),
            .integer("sinks", Defaults.sinks, "first tokens kept"),
        ],
        factory: .profile { profile, arguments in
            try RazorPress(profile: profile, compressionRatio: arguments.ratio,
                           retrievalFraction: arguments.real("heads"), sinks: arguments.integer("sinks"))
        })
}
