import Foundation
import Kernels

/// Attention statistics the model records while it runs, for the presses that asked (`AttentionNeeds`):
/// the last queries of each layer, running attention sums per key, and query moments. Nothing here is ever
/// an n×n matrix: each batch of queries is reduced to per-key sums as it goes.
public final class AttentionStatistics {
    public let needs: AttentionNeeds
    /// Queries at positions below this are left out of the moments (attention sinks are outliers there).
    public let momentSkip: Int

    let layerCount: Int, kvHeads: Int
    private var windows: [QueryWindow]
    private var sums: [[[Float]]]         // [accumulation][layer · kvHeads + head], aligned with the head's tokens
    private var noise: [[[Float]]]        // Gumbel noise per key, same layout (empty for plain attention sums)
    private var moments: [QueryMoments]
    private let scratch = ScratchBuffer()

    public init(needs: AttentionNeeds, layers: Int, kvHeads: Int, momentSkip: Int = 4) {
        self.needs = needs
        self.momentSkip = momentSkip
        layerCount = layers
        self.kvHeads = kvHeads
        windows = Array(repeating: QueryWindow(), count: layers)
        sums = needs.accumulations.map { _ in Array(repeating: [], count: layers * kvHeads) }
        noise = sums
        moments = Array(repeating: QueryMoments(), count: layers)
    }

    /// A deep copy (a cache copied for several questions keeps scoring from the same state).
    public func copy() -> AttentionStatistics {
        let c = AttentionStatistics(needs: needs, layers: layerCount, kvHeads: kvHeads, momentSkip: momentSkip)
        c.windows = windows
        c.sums = sums
        c.noise = noise
        c.moments = moments
        return c
    }

    /// A copy holding only `chosen` layers' statistics, renumbered 0 ..< chosen.count (a view's statistics).
    func selecting(layers chosen: [Int]) -> AttentionStatistics {
        let c = AttentionStatistics(needs: needs, layers: chosen.count, kvHeads: kvHeads, momentSkip: momentSkip)
        let slots = chosen.flatMap { layer in (0 ..< kvHeads).map { layer * kvHeads + $0 } }
        c.windows = chosen.map { windows[$0] }
        c.sums = sums.map { perHead in slots.map { perHead[$0] } }
        c.noise = noise.map { perHead in slots.map { perHead[$0] } }
        c.moments = chosen.map { moments[$0] }
        return c
    }

    /// Takes back the statistics of `chosen` layers from `view` (made by `selecting(layers: chosen)`).
    func replace(layers chosen: [Int], from view: AttentionStatistics) {
        for (index, layer) in chosen.enumerated() {
            windows[layer] = view.windows[index]
            moments[layer] = view.moments[index]
            for head in 0 ..< kvHeads {
                for a in sums.indices {
                    sums[a][layer * kvHeads + head] = view.sums[a][index * kvHeads + head]
                    noise[a][layer * kvHeads + head] = view.noise[a][index * kvHeads + head]
                }
            }
        }
    }

    /// Bytes held (not part of the KV cache: scoring state that a press without statistics does not need).
    public var byteCount: Int {
        let floats = windows.reduce(0) { $0 + $1.rows.count } + sums.joined().reduce(0) { $0 + $1.count }
            + noise.joined().reduce(0) { $0 + $1.count } + moments.reduce(0) { $0 + $1.sum.count + $1.outer.count }
        return floats * 4 + windows.reduce(0) { $0 + $1.positions.count * 8 }
    }

    /// Moves the kept queries by `shift` positions, rotating them with each layer's RoPE to match
    /// (see `KVCache.reindex`).
    func shiftWindows(by shift: Int, specs: [AttentionSpec]) {
        guard shift != 0 else { return }
        for l in windows.indices where !windows[l].positions.isEmpty {
            let rope = specs[l].rope
            let queryHeads = specs[l].queryHeads
            var c = [Float](repeating: 0, count: rope.dimensions / 2)
            var s = c
            rope.table(position: shift, cos: &c, sin: &s)
            let rows = windows[l].positions.count
            let width = windows[l].rows.count / rows
            let d = width / queryHeads
            windows[l].rows.withUnsafeMutableBufferPointer { r in
                for t in 0 ..< rows { rope.rotate(r.baseAddress! + t * width, heads: queryHeads, headDimension: d, cos: c, sin: s) }
            }
            windows[l].positions = windows[l].positions.map { $0 + shift }
        }
    }

    // MARK: What presses read

    /// The last queries of `layer` (after RoPE), oldest first: rows of `queryHeads · headDimension` floats
    /// (the layer's `AttentionSpec`).
    public func window(layer: Int) -> (queries: [Float], positions: [Int]) {
        (windows[layer].rows, windows[layer].positions)
    }

    /// The running sum `kind` for every token `head` retains (zero for tokens added before recording began).
    public func accumulated(_ kind: Accumulation, layer: Int, head: Int, count: Int) -> [Float] {
        guard let a = needs.accumulations.firstIndex(of: kind) else { return Array(repeating: 0, count: count) }
        let s = sums[a][layer * kvHeads + head]
        return s.count >= count ? Array(s.prefix(count)) : s + Array(repeating: 0, count: count - s.count)
    }

    /// Mean [d] and covariance [d, d] of `queryHead`'s queries before RoPE in `layer`, or nil before any was seen.
    public func queryMoments(layer: Int, queryHead: Int, headDimension d: Int) -> (mean: [Float], covariance: [Float])? {
        let m = moments[layer]
        guard m.count > 0 else { return nil }
        let n = Float(m.count)
        let mean = (0 ..< d).map { m.sum[queryHead * d + $0] / n }
        var covariance = [Float](repeating: 0, count: d * d)
        for i in 0 ..< d {
            for j in 0 ..< d { covariance[i * d + j] = m.outer[(queryHead * d + i) * d + j] / n - mean[i] * mean[j] }
        }
        return (mean, covariance)
    }

    // MARK: What the model records

    /// Records queries before RoPE (`queries`: [tokens, queryHeads, headDimension]).
    public func observeUnrotated(layer: Int, queries: UnsafePointer<Float>, tokens: Int, spec: AttentionSpec,
                                 firstPosition: Int) {
        guard needs.queryMoments else { return }
        let queryHeads = spec.queryHeads
        let d = spec.headDimension
        let first = max(0, momentSkip - firstPosition)
        guard first < tokens else { return }
        var m = moments[layer]
        if m.sum.isEmpty {
            m.sum = Array(repeating: 0, count: queryHeads * d)
            m.outer = Array(repeating: 0, count: queryHeads * d * d)
        }
        m.sum.withUnsafeMutableBufferPointer { sum in
            m.outer.withUnsafeMutableBufferPointer { outer in
                let sum = sum.baseAddress!, outer = outer.baseAddress!
                ParallelFor.run(queryHeads) { heads in
                    for h in heads {
                        for t in first ..< tokens {
                            let q = queries + (t * queryHeads + h) * d
                            for i in 0 ..< d {
                                sum[h * d + i] += q[i]
                                VectorMath.axpy(q[i], q, outer + (h * d + i) * d, count: d)
                            }
                        }
                    }
                }
            }
        }
        m.count += tokens - first
        moments[layer] = m
    }

    /// Records queries after RoPE and attention, once the layer's cache holds this batch's keys.
    /// - Parameters:
    ///   - queries: [tokens, queryHeads, headDimension], at positions `firstPosition ..< firstPosition + tokens`.
    public func observe(layer: Int, queries: UnsafePointer<Float>, tokens: Int, firstPosition: Int, cache: LayerCache) {
        let queryHeads = cache.spec.queryHeads
        let d = cache.spec.headDimension
        if needs.window > 0 {
            windows[layer].append(queries, tokens: tokens, width: queryHeads * d, firstPosition: firstPosition, keep: needs.window)
        }
        if !needs.accumulations.isEmpty {
            accumulate(layer: layer, queries: queries, tokens: tokens, firstPosition: firstPosition, cache: cache)
        }
    }

    private func accumulate(layer l: Int, queries: UnsafePointer<Float>, tokens: Int, firstPosition: Int,
                            cache: LayerCache) {
        let kinds = needs.accumulations
        let spec = cache.spec
        let queryHeads = spec.queryHeads
        let group = spec.groupSize
        let d = spec.headDimension
        let scale = spec.scale
        for (a, kind) in kinds.enumerated() {
            for (h, head) in cache.heads.enumerated() {
                let slot = l * kvHeads + h
                alignSums(a, slot: slot, head: head)
                if case .attention(let decay) = kind, decay != 1 {
                    let factor = powf(decay, Float(tokens))
                    for j in sums[a][slot].indices { sums[a][slot][j] *= factor }
                }
            }
        }
        let longest = cache.heads.reduce(0) { max($0, $1.count) }
        let items = tokens * queryHeads
        let chunks = ParallelFor.chunkCount(items)
        let partialCount = kinds.count * kvHeads * longest
        let perChunk = partialCount + 3 * longest + d
        let arena = scratch.floats(chunks * perChunk)
        arena.update(repeating: 0, count: chunks * perChunk)
        let noise = self.noise
        ParallelFor.runChunks(items) { chunk, range in
            let partial = arena + chunk * perChunk
            let logits = partial + partialCount
            let row = logits + longest
            let noisy = row + longest
            let tmp = noisy + longest
            for item in range {
                let t = item / queryHeads, qh = item % queryHeads, h = qh / group
                let head = cache.heads[h]
                let visible = AttentionRow.visibleCount(head, upTo: firstPosition + t)
                guard visible > 0 else { continue }
                AttentionRow.logits(query: queries + (t * queryHeads + qh) * d, head: head, visible: visible, into: logits, scratch: tmp)
                // Every attention sum (H2O's, A2SF's at any decay) adds the same softmax row: made once per query.
                var softmaxed = false
                for (a, kind) in kinds.enumerated() {
                    let target = partial + (a * kvHeads + h) * longest
                    switch kind {
                    case .attention(let decay):
                        if !softmaxed {
                            row.update(from: logits, count: visible)
                            spec.softmax(row, count: visible)
                            softmaxed = true
                        }
                        let weight = decay == 1 ? 1 : powf(decay, Float(tokens - 1 - t))
                        VectorMath.axpy(weight, row, target, count: visible)
                    case .gumbel(let temperature, _):
                        noise[a][l * kvHeads + h].withUnsafeBufferPointer { g in
                            for j in 0 ..< visible { noisy[j] = logits[j] * scale + g[j] }
                        }
                        Softmax.apply(noisy, count: visible, scale: 1 / temperature)
                        VectorMath.axpy(1, noisy, target, count: visible)
                    }
                }
            }
        }
        for a in kinds.indices {
            for (h, head) in cache.heads.enumerated() {
                sums[a][l * kvHeads + h].withUnsafeMutableBufferPointer { s in
                    for c in 0 ..< chunks {
                        VectorMath.axpy(1, arena + c * perChunk + (a * kvHeads + h) * longest, s.baseAddress!, count: head.count)
                    }
                }
            }
        }
    }

    /// Extends the sums of one head to its current length (new tokens start at zero, with fresh noise).
    private func alignSums(_ a: Int, slot: Int, head: HeadCache) {
        let have = sums[a][slot].count
        guard have < head.count else { return }
        sums[a][slot] += Array(repeating: 0, count: head.count - have)
        if case .gumbel(_, let seed) = needs.accumulations[a] {
            let positions = head.positions  // built from the segments on every read: once, not per token
            noise[a][slot] += (have ..< head.count).map { Self.gumbel(seed: seed, slot: slot, position: Int(positions[$0])) }
        }
    }

    /// Keeps the per-key state of the tokens a head retained (called with the same indices as the head).
    func retain(layer: Int, head: Int, indices: [Int]) {
        let slot = layer * kvHeads + head
        for a in sums.indices {
            let s = sums[a][slot], g = noise[a][slot]
            sums[a][slot] = indices.map { $0 < s.count ? s[$0] : 0 }
            if !g.isEmpty { noise[a][slot] = indices.compactMap { $0 < g.count ? g[$0] : nil } }
        }
    }

    /// Makes room for a token inserted at `index` of a head (zero sum, zero noise).
    func insert(layer: Int, head: Int, at index: Int) {
        let slot = layer * kvHeads + head
        for a in sums.indices where index <= sums[a][slot].count {
            sums[a][slot].insert(0, at: index)
            if index <= noise[a][slot].count, !noise[a][slot].isEmpty { noise[a][slot].insert(0, at: index) }
        }
    }

    /// A Gumbel(0, 1) sample that depends only on the seed, the head and the key's position.
    static func gumbel(seed: UInt64, slot: Int, position: Int) -> Float {
        var z = seed &+ UInt64(slot) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(position) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u = (Double(z >> 11) + 0.5) / Double(1 << 53)
        return Float(-log(-log(u)))
    }
}

/// The most recent queries of one layer.
struct QueryWindow {
    var rows: [Float] = []
    var positions: [Int] = []

    mutating func append(_ queries: UnsafePointer<Float>, tokens: Int, width: Int, firstPosition: Int, keep: Int) {
        let first = max(0, tokens - keep)
        rows.append(contentsOf: UnsafeBufferPointer(start: queries + first * width, count: (tokens - first) * width))
        positions.append(contentsOf: (first ..< tokens).map { firstPosition + $0 })
        if positions.count > keep {
            let drop = positions.count - keep
            rows.removeFirst(drop * width)
            positions.removeFirst(drop)
        }
    }
}

/// Running first and second moments of one layer's queries, per query head.
struct QueryMoments {
    var count = 0
    var sum: [Float] = []     // [queryHeads, d]
    var outer: [Float] = []   // [queryHeads, d, d]
}
