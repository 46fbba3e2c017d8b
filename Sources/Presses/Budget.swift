import KVCache

/// Budget arithmetic shared by presses and allocators.
enum Budget {
    /// Tokens a head of `count` keeps when the fraction `ratio` is removed (kvpress: n − ⌊n·ratio⌋).
    static func kept(_ count: Int, ratio: Double) -> Int {
        count - Int((Double(count) * ratio).rounded(.down))
    }

    /// `raw` rounded down, then one more for the largest remainders until the sum reaches `total` (never above `cap`).
    static func rounded(_ raw: [Double], total: Int, cap: Int = .max) -> [Int] {
        var result = raw.map { Int($0.rounded(.down)) }
        let missing = total - result.reduce(0, +)
        for i in raw.indices.sorted(by: { raw[$0] - raw[$0].rounded(.down) > raw[$1] - raw[$1].rounded(.down) }).prefix(max(0, missing))
        where result[i] < cap { result[i] += 1 }
        return result
    }

    /// Calls `body(layer, head, keep)` for every head not in `whole` (indexed layer · kvHeads + head), sharing
    /// `total` tokens minus those the whole heads keep (`count` each) as evenly as possible (at least `minimum`).
    static func shareRemainder(_ cache: KVCache, whole: Set<Int>, total: Int, count: Int, minimum: Int = 1,
                               _ body: (Int, Int, Int) -> Void) {
        let others = cache.layers.count * cache.kvHeads - whole.count
        guard others > 0 else { return }
        let left = total - whole.count * count, share = left / others
        var spare = left - share * others
        for l in cache.layers.indices {
            for h in 0 ..< cache.kvHeads where !whole.contains(l * cache.kvHeads + h) {
                var keep = max(minimum, share)
                if spare > 0 { keep += 1; spare -= 1 }
                body(l, h, keep)
            }
        }
    }
}
