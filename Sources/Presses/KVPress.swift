import KVCache

/// Decides what a KV cache keeps. A press runs after prefill (the whole prompt is in the cache) and frees
/// real bytes: heads are compacted, not masked.
public protocol KVPress: Sendable {
    /// A short name for statistics and reports (e.g. "knorm@0.5").
    var description: String { get }
    /// Attention statistics the model must record for this press (recording costs time: ask only for what is used).
    var needs: AttentionNeeds { get }
    /// Compresses `cache` in place once the prompt is in it.
    func compress(_ cache: KVCache) throws
    /// Prompt tokens per forward pass while prefilling, when the press compresses between them (nil: no preference).
    var prefillChunk: Int? { get }
    /// Called after each prefill pass; `positions` are the ones that pass added.
    func compressDuringPrefill(_ cache: KVCache, positions: Range<Int>) throws
    /// Called after every generated token (`step` counts them from 1); most presses act only after prefill.
    func compressDuringDecoding(_ cache: KVCache, step: Int) throws
    /// Whether `compressDuringDecoding` does anything (if not, statistics can be dropped after the prompt).
    var compressesDuringDecoding: Bool { get }
    /// How the cache should store tokens from the first one on (a precision press: nil for the others), so that
    /// prefill already appends them at fewer bits.
    var storage: KVStorage? { get }
}

extension KVPress {
    public var needs: AttentionNeeds { .none }
    public var prefillChunk: Int? { nil }
    public func compressDuringPrefill(_ cache: KVCache, positions: Range<Int>) throws {}
    public func compressDuringDecoding(_ cache: KVCache, step: Int) throws {}
    public var compressesDuringDecoding: Bool { false }
    public var storage: KVStorage? { nil }

    /// Before prefill: makes `cache` store tokens as the press wants and attaches the statistics it needs (unless
    /// statistics are attached already).
    public func prepare(_ cache: KVCache) {
        if let storage { cache.setStorage(storage) }
        guard !needs.isEmpty, cache.statistics == nil else { return }
        cache.statistics = AttentionStatistics(needs: needs, layers: cache.layers.count, kvHeads: cache.kvHeads)
    }
}

/// A press that only scores tokens; the shared selection keeps, in every KV head, the highest-scoring
/// `n − ⌊n·compressionRatio⌋` tokens (kvpress's `compression_ratio` is the fraction removed).
public protocol ScorerPress: KVPress {
    var compressionRatio: Double { get }
    /// For every KV head of layer `layer`, one score per token it retains (higher is kept first), all heads in one
    /// call so a scorer that reads the whole layer (TOVA) computes it once. Scorers of grouped-query models combine
    /// the query heads of the head's group (their mean, as kvpress does).
    func scores(layer: Int, cache: KVCache) throws -> [[Float]]
    /// Names the scorer and every setting its scores depend on — never the ratio — so that copies of one cache
    /// compressed at several ratios can share its scores (`ScoreMemo`); nil (the default) never shares them.
    var scoreKey: String? { get }
}

/// A scorer whose KV heads are scored one at a time, independently of each other.
public protocol HeadScorerPress: ScorerPress {
    /// One score per token that head `head` of layer `layer` retains (higher is kept first).
    func scores(layer: Int, head: Int, cache: KVCache) throws -> [Float]
}

extension HeadScorerPress {
    public func scores(layer: Int, cache: KVCache) throws -> [[Float]] {
        try cache.layers[layer].heads.indices.map { try scores(layer: layer, head: $0, cache: cache) }
    }
}

extension ScorerPress {
    public var scoreKey: String? { nil }

    /// `scores(layer:cache:)`, or the same scores made earlier for a copy of this cache (`KVCache.scoreMemo`).
    public func sharedScores(layer: Int, cache: KVCache) throws -> [[Float]] {
        try cache.sharedScores(scoreKey, layer: layer) { try scores(layer: layer, cache: cache) }
    }

    public func compress(_ cache: KVCache) throws {
        guard compressionRatio > 0 else { return }
        try keep(in: cache) { Budget.kept($0, ratio: compressionRatio) }
    }

    /// Keeps, in every head, the `budget(candidates)` highest-scoring tokens among those at `positions`
    /// (all tokens when nil); the others stay untouched.
    public func keep(in cache: KVCache, positions: Range<Int>? = nil, budget: (Int) -> Int) throws {
        for (l, layer) in cache.layers.enumerated() {
            // Score every head before any shrinks (scores are made for the whole layer, once it needs any).
            var selections: [(head: Int, kept: [Int])] = []
            var layerScores: [[Float]]?
            for (h, head) in layer.heads.enumerated() {
                let held = head.positions
                let candidates = positions.map { range in held.indices.filter { range.contains(Int(held[$0])) } }
                    ?? Array(0 ..< head.count)
                let keep = budget(candidates.count)
                guard keep < candidates.count else { continue }
                if layerScores == nil { layerScores = try sharedScores(layer: l, cache: cache) }
                let all = layerScores![h]
                let chosen = Set(TopK.indices(of: candidates.map { all[$0] }, count: keep).map { candidates[$0] })
                let isCandidate = Set(candidates)
                selections.append((h, (0 ..< head.count).filter { !isCandidate.contains($0) || chosen.contains($0) }))
            }
            for (h, kept) in selections { cache.retain(layer: l, head: h, indices: kept) }
        }
    }
}

/// Selection shared by scorer presses.
public enum TopK {
    /// Indices of the `count` largest scores (earlier tokens first on ties), in ascending index order.
    public static func indices(of scores: [Float], count: Int) -> [Int] {
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        return order.prefix(max(0, count)).sorted()
    }
}
