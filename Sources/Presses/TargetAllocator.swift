import Foundation

/// Turns a target into a plan: for every KV head, which of its tokens stay f16, which are stored at 8, 4, 3 or 2
/// bits and which are evicted, so that the cache meets a byte budget with the least predicted KL (or a KL bound
/// with the fewest bytes).
///
/// The cost model: evicting a group of head h's tokens costs `rate(h, evict) × their attention mass` of predicted
/// KL, storing it at b bits `rate(h, b) × their share of the head's tokens` (rates measured once per model,
/// `HeadSensitivity`; masses from the prompt's own attention, `TokenMass`), and each option its exact bytes. Each
/// head's tokens outside its floors (the first `sinks` and last `recent` positions, always f16, so no head is
/// emptied) are ranked by mass and cut into groups of `group` tokens. On each group's lower convex hull of
/// (bytes, predicted KL) every step down costs more KL per byte freed than the one before, so taking all groups'
/// steps in order of KL per byte (ties by head, group) is the greedy by marginal KL per byte, and exact for the
/// fractional problem. Deterministic: no randomness, a total order on steps.
public struct TargetAllocator: Sendable {
    public var sinks: Int
    public var recent: Int
    public var group: Int

    public enum Defaults {
        public static let sinks = 4
        public static let recent = 32
        public static let group = 32
    }

    public init(sinks: Int = Defaults.sinks, recent: Int = Defaults.recent, group: Int = Defaults.group) {
        self.sinks = sinks
        self.recent = recent
        self.group = group
    }

    /// The largest of 32, 16 and 8 tokens per group that divides a head of `dimension` values (KIVI's value groups
    /// are channels of one row).
    public static func group(forHeadDimension dimension: Int) -> Int {
        [Defaults.group, 16, 8].first { dimension % $0 == 0 } ?? 8
    }

    /// One KV head as the allocator sees it.
    public struct HeadInput: Sendable {
        public var layer: Int
        public var head: Int
        /// Normalized attention mass of each token the head holds (press index order).
        public var mass: [Double]
        /// Position of each token the head holds.
        public var positions: [Int32]
        public var headDimension: Int
        /// `HeadSensitivity` rates for each option of `StorageOption.ladder` (nil: not available): per unit of
        /// mass for eviction, per unit of token share for bit widths (0 for f16).
        public var rates: [Double?]
        /// The masses predictions are reported with, when `mass` only ranks (a retrieval prior spread some of it
        /// evenly); nil: `mass`.
        public var predictionMass: [Double]?
        /// A retrieval head (RazorAttention's finding: a few heads copy from anywhere in the context, so a question
        /// asked later needs all their tokens): its tokens may lose bits but are never evicted.
        public var keepsEveryToken = false

        public init(layer: Int, head: Int, mass: [Double], positions: [Int32], headDimension: Int, rates: [Double?]) {
            self.layer = layer
            self.head = head
            self.mass = mass
            self.positions = positions
            self.headDimension = headDimension
            self.rates = rates
        }
    }

    /// The plan and, for every head, the ladder index of the option each of its tokens gets.
    public struct Result: Sendable {
        public var plan: AllocationPlan
        public var options: [[Int]]
    }

    /// Plans `heads` for `target`. `dense` is the prompt's dense f16 cache (for shares), `current` what the cache
    /// holds now, `reserve` bytes kept free for tokens generated later, and `scale` multiplies predictions
    /// (`HeadSensitivity.scale`).
    public func plan(_ heads: [HeadInput], target: CompressionTarget, dense: Int, current: Int, reserve: Int = 0,
                     scale: Double = 1) throws -> Result {
        let ladder = StorageOption.ladder
        var options = heads.map { [Int](repeating: 0, count: $0.mass.count) }
        var counts = heads.map { head -> [Int] in
            var c = [Int](repeating: 0, count: ladder.count)
            c[0] = head.mass.count
            return c
        }
        func headBytes(_ i: Int) -> Int {
            ladder.indices.reduce(0) { sum, o in
                sum + ladder[o].segmentBytes(tokens: counts[i][o], headDimension: heads[i].headDimension, group: group)
            }
        }
        var bytes = heads.indices.map(headBytes)
        var total = bytes.reduce(0, +)
        var predicted = 0.0
        var plan = AllocationPlan(target: target, denseBytes: dense, startBytes: current, reserveBytes: reserve,
                                  ladder: ladder)
        let budget = target.budget(dense: dense).map { $0 - reserve }
        var asksNothing = budget.map { $0 >= current } ?? false
        if case .share(let share) = target, share >= 1 { asksNothing = true }
        if let budget, asksNothing {
            plan.note = "the target \(target) (\(CompressionTarget.format(bytes: budget + reserve))) is not below the "
                + "cache's \(CompressionTarget.format(bytes: current + reserve)): nothing compressed"
            plan.finish(heads: heads, counts: nil, bytes: nil, predicted: [], estimatedBytes: current, scale: scale)
            return Result(plan: plan, options: options)
        }
        let (steps, groups) = self.steps(heads)
        var headKL = [Double](repeating: 0, count: heads.count)
        var met = budget.map { total <= $0 } ?? false
        for step in steps where !met {
            let (i, g) = (step.head, step.group)
            let members = groups[i][g]
            let delta = step.predictedKL * scale
            if case .meanKL(let bound) = target, predicted + delta > bound { break }
            for t in members { options[i][t] = step.to }
            counts[i][step.from] -= members.count
            counts[i][step.to] += members.count
            total -= bytes[i]
            bytes[i] = headBytes(i)
            total += bytes[i]
            predicted += delta
            headKL[i] += delta
            if let budget { met = total <= budget }
        }
        if let budget, total > budget {
            let retrieval = heads.filter(\.keepsEveryToken).count
            let floors = "keeping each head's \(sinks) first and \(recent) last tokens at f16"
                + (retrieval > 0 ? " and every token of \(retrieval) retrieval heads" : "")
            let reason = "\(target) leaves \(CompressionTarget.format(bytes: max(0, budget))) for the prompt; the smallest "
                + "cache the allocator can make (\(floors)) takes \(CompressionTarget.format(bytes: total))"
            throw PressError.invalidTarget(option: "target", reason: reason)
        }
        plan.finish(heads: heads, counts: counts, bytes: bytes, predicted: headKL, estimatedBytes: total, scale: scale)
        return Result(plan: plan, options: options)
    }

    struct Step {
        var klPerByte: Double
        var bytesFreed: Double
        var head: Int
        var group: Int
        var from: Int
        var to: Int
        /// The step's predicted KL, with the head's prediction masses.
        var predictedKL: Double
    }

    /// Every head's groups (token indices, least mass first) and every step down every group's hull, in the
    /// order the greedy takes them.
    func steps(_ heads: [HeadInput]) -> (steps: [Step], groups: [[[Int]]]) {
        var steps: [Step] = []
        var groups: [[[Int]]] = []
        for (i, head) in heads.enumerated() {
            let byPosition = head.positions.indices.sorted { (head.positions[$0], $0) < (head.positions[$1], $1) }
            let floor = Set(byPosition.prefix(sinks) + byPosition.suffix(recent))
            let candidates = head.mass.indices.filter { !floor.contains($0) }
                .sorted { (head.mass[$0], $0) < (head.mass[$1], $1) }
            let chunks = stride(from: 0, to: candidates.count, by: group).map {
                Array(candidates[$0 ..< min($0 + group, candidates.count)])
            }
            groups.append(chunks)
            for (g, chunk) in chunks.enumerated() {
                let costs = self.costs(of: chunk, in: head)
                var predicting = head
                predicting.mass = head.predictionMass ?? head.mass
                let predicted = self.costs(of: chunk, in: predicting)
                let hull = self.hull(costs, head)
                for k in 1 ..< max(1, hull.count) {
                    let (a, b) = (hull[k - 1], hull[k])
                    let perToken = rate(a, head) - rate(b, head)
                    let freed = perToken * Double(chunk.count)
                    let klPerByte = (costs[b]! - costs[a]!) / freed
                    steps.append(Step(klPerByte: klPerByte, bytesFreed: freed, head: i, group: g, from: a, to: b,
                                      predictedKL: predicted[b]! - predicted[a]!))
                }
            }
        }
        steps.sort { ($0.klPerByte, $0.head, $0.group, $0.from) < ($1.klPerByte, $1.head, $1.group, $1.from) }
        return (steps, groups)
    }

    private func rate(_ option: Int, _ head: HeadInput) -> Double {
        StorageOption.ladder[option].bytesPerToken(headDimension: head.headDimension, group: group)
    }

    /// Predicted KL of storing `tokens` of `head` at each ladder option (nil where the head has no rate).
    public func costs(of tokens: [Int], in head: HeadInput) -> [Double?] {
        let mass = tokens.reduce(0) { $0 + head.mass[$1] }
        let share = Double(tokens.count) / Double(max(1, head.mass.count))
        return StorageOption.ladder.indices.map { o in
            let evicts = StorageOption.ladder[o] == .evicted
            guard !(evicts && head.keepsEveryToken) else { return nil }
            return head.rates[o].map { $0 * (evicts ? mass : share) }
        }
    }

    /// Ladder indices on the lower convex hull of (bytes per token, predicted KL `costs`) from f16 down to the
    /// cheapest available option: each step costs more KL per byte than the previous one.
    public func hull(_ costs: [Double?], _ head: HeadInput) -> [Int] {
        let available = StorageOption.ladder.indices.filter { costs[$0] != nil }
        guard available.first == 0 else { return [] }
        var hull = [0]
        while let current = hull.last {
            let cheaper = available.filter { rate($0, head) < rate(current, head) }
            guard !cheaper.isEmpty else { break }
            let slope = { (o: Int) in
                (costs[o]! - costs[current]!) / (self.rate(current, head) - self.rate(o, head))
            }
            let best = cheaper.min { (slope($0), $0) < (slope($1), $1) }!
            hull.append(best)
        }
        return hull
    }
}
