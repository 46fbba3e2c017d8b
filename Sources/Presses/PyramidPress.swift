// Based on: PyramidKV: Dynamic KV Cache Compression based on Pyramidal Information Funneling (arXiv 2406.02069).
import KVCache

/// Layer budgets that shrink with depth: the first layer keeps the most, the last the least, linearly, with
/// the same total as a uniform ratio (lower layers attend broadly, upper layers to a few tokens). The smallest
/// layer budget is 1/`beta` of the average; when the largest would exceed the prompt, the budgets fall back to
/// uniform (as kvpress does). Within a layer, the scorer chooses the tokens.
public struct PyramidPress: KVPress {
    public let scorer: any ScorerPress
    public let compressionRatio: Double
    public let beta: Double
    public var description: String { "pyramid(\(scorer.description))" }
    public var needs: AttentionNeeds { scorer.needs }

    /// Parameter defaults: the initializer's and the ones declared to the registry.
    public enum Defaults {
        public static let beta = 20.0
    }

    public init(scorer: any ScorerPress, compressionRatio: Double, beta: Double = Defaults.beta) throws {
        guard beta >= 1 else { throw PressError.invalidParameter(name: "beta", reason: "must be ≥ 1, got \(beta)") }
        self.scorer = scorer
        self.compressionRatio = compressionRatio
        self.beta = beta
    }

    /// Tokens each head of layer `layer` keeps, out of `count`.
    public func budget(layer: Int, layers: Int, count: Int) -> Int { budgets(layers: layers, count: count)[layer] }

    /// Every layer's per-head budget: linear from the largest (layer 0) to the smallest, summing exactly to
    /// `layers` × the uniform budget (fractions go to the layers with the largest remainders).
    public func budgets(layers: Int, count: Int) -> [Int] {
        let average = Budget.kept(count, ratio: compressionRatio)
        let smallest = Double(average) / beta, largest = 2 * Double(average) - smallest
        guard layers > 1, largest <= Double(count) else { return Array(repeating: average, count: layers) }
        let raw = (0 ..< layers).map { largest - Double($0) * (largest - smallest) / Double(layers - 1) }
        return Budget.rounded(raw, total: layers * average)
    }

    public func compress(_ cache: KVCache) throws {
        guard compressionRatio > 0 else { return }
        let n = cache.longestPressableHead
        let layerBudgets = budgets(layers: cache.layers.count, count: n)
        for (l, layer) in cache.layers.enumerated() {
            // Score every head before any shrinks (some scorers read the whole layer).
            let keep = max(1, layerBudgets[l])
            guard layer.heads.contains(where: { keep < $0.count }) else { continue }
            let scores = try scorer.sharedScores(layer: l, cache: cache)
            let kept = layer.heads.indices.map { h -> [Int]? in
                guard keep < layer.heads[h].count else { return nil }
                return TopK.indices(of: scores[h], count: keep)
            }
            for (h, indices) in kept.enumerated() { if let indices { cache.retain(layer: l, head: h, indices: indices) } }
        }
    }
}

extension PyramidPress {
    public static let declaration = PressDeclaration(
        name: "pyramid", family: .allocator,
        summary: "layer budgets fall linearly with depth, to average/`beta` in the last layer; same total",
        paper: "PyramidKV",
        parameters: [.real("beta", Defaults.beta, "last layer's budget is the average / beta")],
        factory: .allocator { scorer, arguments in
            try PyramidPress(scorer: scorer, compressionRatio: arguments.ratio, beta: arguments.real("beta"))
        })
}
