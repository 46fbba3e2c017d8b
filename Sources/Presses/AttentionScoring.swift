import Kernels
import KVCache

/// Helpers shared by the presses that score tokens from recorded attention.
enum AttentionScoring {
    static func statistics(_ cache: KVCache, for press: some KVPress) throws -> AttentionStatistics {
        guard let statistics = cache.statistics, statistics.needs.union(press.needs) == statistics.needs else {
            throw PressError.missingStatistics(press: press.description)
        }
        return statistics
    }

    /// Mean attention that the last `window` recorded queries of the query heads in `queryHeads` give each token
    /// `head` retains (each query sees the tokens at positions up to its own).
    static func windowAttention(_ cache: KVCache, layer: Int, head: Int, queryHeads: Range<Int>, window: Int,
                                press: some KVPress) throws -> [Float] {
        let statistics = try statistics(cache, for: press)
        let (rows, positions) = statistics.window(layer: layer)
        guard positions.count >= window else {
            throw PressError.windowLargerThanPrompt(press: press.description, window: window, tokens: positions.count)
        }
        let spec = cache.layers[layer].spec
        let kv = cache.layers[layer].heads[head]
        let d = spec.headDimension
        let width = spec.queryHeads * d
        var mean = [Float](repeating: 0, count: kv.count)
        var row = [Float](repeating: 0, count: kv.count), scratch = [Float](repeating: 0, count: d)
        let weight = 1 / Float(window * queryHeads.count)
        rows.withUnsafeBufferPointer { rows in
            for r in positions.count - window ..< positions.count {
                let visible = AttentionRow.visibleCount(kv, upTo: positions[r])
                guard visible > 0 else { continue }
                for qh in queryHeads {
                    row.withUnsafeMutableBufferPointer { row in
                        scratch.withUnsafeMutableBufferPointer { scratch in
                            AttentionRow.logits(query: rows.baseAddress! + r * width + qh * d, head: kv, visible: visible,
                                                into: row.baseAddress!, scratch: scratch.baseAddress!)
                            spec.softmax(row.baseAddress!, count: visible)
                        }
                    }
                    for j in 0 ..< visible { mean[j] += weight * row[j] }
                }
            }
        }
        return mean
    }

    /// SnapKV's scores: the window attention of `queryHeads`, average-pooled over the tokens before the last
    /// `window` recorded queries; the tokens of the window itself score +∞ (always kept).
    static func pooledWindowScores(_ cache: KVCache, layer: Int, head: Int, queryHeads: Range<Int>, window: Int, kernel: Int,
                                   press: some KVPress) throws -> [Float] {
        let attention = try windowAttention(cache, layer: layer, head: head, queryHeads: queryHeads, window: window, press: press)
        let before = tokensBeforeWindow(cache, layer: layer, head: head, window: window)
        return averagePool(Array(attention.prefix(before)), kernel: kernel)
            + Array(repeating: .infinity, count: cache.layers[layer].heads[head].count - before)
    }

    /// How many of a head's tokens come before the first of the last `window` recorded queries of `layer`.
    static func tokensBeforeWindow(_ cache: KVCache, layer: Int, head: Int, window: Int) -> Int {
        let positions = cache.statistics?.window(layer: layer).positions ?? []
        guard positions.count >= window else { return cache.layers[layer].heads[head].count }
        let start = positions[positions.count - window]
        return cache.layers[layer].heads[head].positions.prefix { Int($0) < start }.count
    }

    /// 1-D average pooling with zero padding (kernel odd), as `avg_pool1d(padding: kernel/2)`.
    static func averagePool(_ x: [Float], kernel: Int) -> [Float] {
        guard kernel > 1 else { return x }
        let half = kernel / 2
        return x.indices.map { i in
            var sum: Float = 0
            for j in max(0, i - half) ... min(x.count - 1, i + half) { sum += x[j] }
            return sum / Float(kernel)
        }
    }

    /// Marks the last `window` tokens (most recent positions) as always kept.
    static func protectRecent(_ scores: inout [Float], window: Int) {
        for j in max(0, scores.count - window) ..< scores.count { scores[j] = .infinity }
    }
}
