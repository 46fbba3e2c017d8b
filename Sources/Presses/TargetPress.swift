import Foundation
import KVCache

/// Meets a user's target — a memory budget or a mean-KL bound — by spending tokens and bits per layer, head and
/// token group where the prompt's attention needs them (`TargetAllocator`): the flagship of section D of the
/// methods. Rates come from the model's head profile (`HeadSensitivity`), masses from the prompt's last queries.
/// The last plan is kept in `plans` for `--explain` and reports.
public struct TargetPress: KVPress {
    public let target: CompressionTarget
    public let sensitivity: HeadSensitivity?
    public let allocator: TargetAllocator
    /// Tokens to be generated after the prompt: their f16 rows are kept free inside a memory target.
    public let reserveTokens: Int
    /// λ in [0, 1): the share of each token's mass spread evenly over the head's tokens when ranking options, so
    /// that no token looks free to evict — the question of a query-agnostic prompt comes later and may need what the
    /// prompt's last queries ignored. Predicted KL is still reported with the prompt's own masses.
    public let retrievalPrior: Double
    /// The model's retrieval score of every layer and KV head (`HeadProfile.retrieval`; nil: none known).
    public let retrieval: [[Float]]?
    /// The share of KV heads, best retrieval scores first, whose tokens are never evicted (only given fewer bits).
    public let retrievalHeads: Double
    public let plans: PlanLog

    public var description: String { "target(\(target))" }
    public var needs: AttentionNeeds { TokenMass.needs(window: sensitivity?.massWindow ?? Defaults.massWindow) }

    public enum Defaults {
        public static let massWindow = 32
        /// 0 since retrieval heads keep the needles: on RULER's calibration split (6 niah tasks at 4,096 tokens)
        /// it found as much as 0.5 or more at 6.25%, 12.5% and 25% of the f16 bytes, at half the mean KL
        /// (`docs/eval/targets-prior-heads-calibration.md`). Before retrieval heads, 0.5 kept the needles
        /// (`docs/eval/targets-prior-calibration.md`).
        public static let retrievalPrior = 0.0
        /// Chosen on RULER's calibration split (`docs/eval/targets-retrieval-calibration.md`).
        public static let retrievalHeads = 0.15
    }

    public init(target: CompressionTarget, sensitivity: HeadSensitivity?,
                allocator: TargetAllocator = TargetAllocator(), reserveTokens: Int = 0,
                retrievalPrior: Double = Defaults.retrievalPrior, retrieval: [[Float]]? = nil,
                retrievalHeads: Double = Defaults.retrievalHeads, plans: PlanLog = PlanLog()) throws {
        guard (0 ... 1).contains(retrievalHeads) else {
            throw PressError.invalidParameter(name: "heads", reason: "must be in [0, 1], got \(retrievalHeads)")
        }
        guard retrievalPrior >= 0, retrievalPrior < 1 else {
            throw PressError.invalidParameter(name: "prior", reason: "must be in [0, 1), got \(retrievalPrior)")
        }
        guard reserveTokens >= 0 else {
            throw PressError.invalidParameter(name: "reserve", reason: "must be ≥ 0 tokens, got \(reserveTokens)")
        }
        guard allocator.sinks >= 0, allocator.recent >= 0 else {
            throw PressError.invalidParameter(name: "sinks/recent", reason: "must be ≥ 0")
        }
        if let sensitivity, allocator.recent < sensitivity.massWindow {
            let reason = "must be at least the \(sensitivity.massWindow) queries attention mass is measured over, "
                + "got \(allocator.recent)"
            throw PressError.invalidParameter(name: "recent", reason: reason)
        }
        self.target = target
        self.sensitivity = sensitivity
        self.allocator = allocator
        self.reserveTokens = reserveTokens
        self.retrievalPrior = retrievalPrior
        self.retrieval = retrieval
        self.retrievalHeads = retrievalHeads
        self.plans = plans
    }

    /// The same target, keeping room for `tokens` generated tokens (the plans go to the same log).
    public func reserving(_ tokens: Int) throws -> TargetPress {
        try TargetPress(target: target, sensitivity: sensitivity, allocator: allocator, reserveTokens: tokens,
                        retrievalPrior: retrievalPrior, retrieval: retrieval, retrievalHeads: retrievalHeads,
                        plans: plans)
    }

    public func compress(_ cache: KVCache) throws {
        let start = Date()
        let sensitivity = try checkedSensitivity(for: cache)
        // The groups the rates were measured with (they fit this model's heads).
        var allocator = self.allocator
        allocator.group = sensitivity.group
        let heads = try inputs(cache, sensitivity)
        let perToken = cache.layers.reduce(0) { $0 + $1.heads.reduce(0) { $0 + 4 * $1.headDimension } }
        let reserve = reserveTokens * perToken + (reserveTokens > 0 ? 8 * heads.count : 0)
        let dense = cache.denseF16ByteCount(tokens: cache.longestPressableHead)
        let result = try allocator.plan(heads, target: target, dense: dense, current: cache.byteCount, reserve: reserve,
                                        scale: sensitivity.scale)
        var plan = result.plan
        if plan.compresses {
            for (i, input) in heads.enumerated() where result.options[i].contains(where: { $0 != 0 }) {
                let layer = cache.modelLayers.firstIndex(of: input.layer)!
                let codes = CodeSettings(group: allocator.group)
                cache.storeTiers(layer: layer, head: input.head, tiers(result.options[i]), codes: codes)
            }
        }
        plan.measuredBytes = cache.byteCount
        plan.milliseconds = Date().timeIntervalSince(start) * 1000
        plans.record(plan)
    }

    /// The sensitivities, checked against the cache: present, of its shape, groups that fit its heads, no shared
    /// storage to plan around.
    private func checkedSensitivity(for cache: KVCache) throws -> HeadSensitivity {
        guard let sensitivity else {
            let reason = "needs the model's head sensitivities (tokenpress calibrate --sensitivity)"
            throw PressError.invalidParameter(name: "target", reason: reason)
        }
        guard !cache.layers.contains(where: { $0.heads.contains(where: \.isSharing) }) else {
            let reason = "cannot plan a cache whose layers share tokens (minicache)"
            throw PressError.invalidParameter(name: "target", reason: reason)
        }
        guard cache.modelLayers.allSatisfy({ $0 < sensitivity.layers }), sensitivity.kvHeads == cache.kvHeads else {
            try sensitivity.check(layers: cache.layers.count, kvHeads: cache.kvHeads)
            throw PressError.invalidParameter(name: "profile", reason: "the sensitivities do not cover the cache's layers")
        }
        guard cache.headDimension % sensitivity.group == 0 else {
            let reason = "the sensitivities' group of \(sensitivity.group) does not divide the head dimension "
                + "\(cache.headDimension)"
            throw PressError.invalidParameter(name: "profile", reason: reason)
        }
        return sensitivity
    }

    /// Every head as the allocator sees it: the prompt's attention masses, positions and the head's rates.
    private func inputs(_ cache: KVCache, _ sensitivity: HeadSensitivity) throws -> [TargetAllocator.HeadInput] {
        let masses = try TokenMass.perHead(cache, window: sensitivity.massWindow)
        let whole = wholeHeads(kvHeads: cache.kvHeads)
        var heads: [TargetAllocator.HeadInput] = []
        for (l, layer) in cache.layers.enumerated() {
            let modelLayer = cache.modelLayers[l]
            for (h, head) in layer.heads.enumerated() {
                let rates = StorageOption.ladder.map { sensitivity.rate(layer: modelLayer, head: h, option: $0) }
                let even = retrievalPrior / Double(max(1, masses[l][h].count))
                let ranking = masses[l][h].map { (1 - retrievalPrior) * $0 + even }
                var input = TargetAllocator.HeadInput(layer: modelLayer, head: h, mass: ranking,
                                                      positions: Array(head.positions),
                                                      headDimension: head.headDimension, rates: rates)
                // The prior ranks; predictions stay with the masses the rates were calibrated on.
                input.predictionMass = retrievalPrior > 0 ? masses[l][h] : nil
                input.keepsEveryToken = whole.contains(modelLayer * cache.kvHeads + h)
                heads.append(input)
            }
        }
        return heads
    }

    /// The retrieval heads (model layer × KV heads + head): the best `retrievalHeads` share of the model's heads by
    /// retrieval score, as RazorAttention chooses them, whichever layers this cache holds.
    private func wholeHeads(kvHeads: Int) -> Set<Int> {
        guard let retrieval, retrievalHeads > 0 else { return [] }
        let count = Int((Double(retrieval.count * kvHeads) * retrievalHeads).rounded())
        return Set(HeadProfile.ranking(retrieval).prefix(count).map { $0.layer * kvHeads + $0.head })
    }

    /// A head's tiers from the ladder index of each of its tokens (evicted tokens in none).
    private func tiers(_ options: [Int]) -> [(precision: TokenPrecision, indices: [Int])] {
        StorageOption.ladder.indices.compactMap { o in
            StorageOption.ladder[o].precision.map { ($0, options.indices.filter { options[$0] == o }) }
        }
    }
}

/// The plans a target press made, newest last (a press is a value shared across copies; its log is one object).
public final class PlanLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [AllocationPlan] = []

    public init() {}

    public func record(_ plan: AllocationPlan) {
        lock.lock()
        recorded.append(plan)
        lock.unlock()
    }

    public var last: AllocationPlan? {
        lock.lock()
        defer { lock.unlock() }
        return recorded.last
    }
}

extension TargetPress {
    public static let declaration = PressDeclaration(
        name: "target", family: .target,
        summary: "meets a memory or KL target: per layer, head and group of 32 tokens (ranked by the prompt's "
            + "attention mass) f16, 8/4/3/2-bit KIVI codes or evicted, greedily by predicted KL per byte from the profile's "
            + "per-head sensitivities; give exactly one of `memory`, `bytes`, `kl` (CLI: --kv-memory, --max-kl)",
        statistics: "last queries", paper: "— (TokenPress)",
        parameters: [
            PressParameter(key: "memory", kind: .real, defaultValue: nil, defaultDescription: "—",
                           meaning: "share of the prompt's dense f16 cache to keep at most, e.g. 0.25"),
            PressParameter(key: "bytes", kind: .integer, defaultValue: nil, defaultDescription: "—",
                           meaning: "bytes of KV cache to keep at most"),
            PressParameter(key: "kl", kind: .real, defaultValue: nil, defaultDescription: "—",
                           meaning: "predicted mean KL to the full cache to stay within"),
            .integer("reserve", 0, "generated tokens to keep room for inside a memory target"),
            .integer("sinks", TargetAllocator.Defaults.sinks, "first tokens of every head kept at f16"),
            .integer("recent", TargetAllocator.Defaults.recent, "last tokens of every head kept at f16"),
            .real("prior", Defaults.retrievalPrior,
                  "share of attention mass spread evenly before planning (query-agnostic retrieval)"),
            .real("heads", Defaults.retrievalHeads,
                  "share of KV heads, best retrieval scores of the profile first, never evicted (only fewer bits)"),
        ],
        ignoresRatio: true,
        factory: .profile { profile, arguments in
            let given = ["memory", "bytes", "kl"].filter { arguments.given[$0] != nil }
            guard given.count == 1 else {
                throw PressError.invalidParameter(name: "target", reason: "give exactly one of memory, bytes and kl")
            }
            let target: CompressionTarget
            switch given[0] {
            case "memory":
                let share = arguments.real("memory")
                guard share.isFinite, share > 0 else {
                    throw PressError.invalidParameter(name: "memory", reason: "must be a share above 0, got \(share)")
                }
                target = .share(share)
            case "bytes":
                let bytes = try arguments.integer("bytes")
                guard bytes > 0 else {
                    throw PressError.invalidParameter(name: "bytes", reason: "must be more than 0, got \(bytes)")
                }
                target = .bytes(bytes)
            default:
                target = try CompressionTarget.klBound(arguments.real("kl"), option: "kl")
            }
            let sinks = try arguments.integer("sinks")
            let recent = try arguments.integer("recent")
            let group = profile.sensitivity?.group ?? TargetAllocator.Defaults.group
            let allocator = TargetAllocator(sinks: sinks, recent: recent, group: group)
            return try TargetPress(target: target, sensitivity: profile.sensitivity, allocator: allocator,
                                   reserveTokens: try arguments.integer("reserve"), retrievalPrior: arguments.real("prior"),
                                   retrieval: profile.retrieval, retrievalHeads: arguments.real("heads"))
        })
}
