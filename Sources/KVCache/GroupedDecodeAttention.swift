import Kernels

/// One decode step's attention over a layer whose segments all attend query groups (`GroupedSegment`: f16 rows,
/// KIVI's codes, the llama.cpp block cache types): every KV head's rows are read once for the `groupSize` query
/// heads that share it. The work runs in three parallel passes so two cores stay busy with only a few KV heads —
/// logits split by rows, the softmax by query head, the value sums by channels — and every output has the bits of
/// `CachedAttention`'s query-by-query path (the passes only regroup independent sums).
public enum GroupedDecodeAttention {
    /// Rows per logits work item (a multiple of 8, the kernels' batch).
    static let rowsPerItem = 256

    /// Whether every segment of every head of `layer` attends groups, there are groups to share, and some segment
    /// gains from sharing its reads (a layer of f16 rows only stays query by query: `F16Segment.gainsFromGroups`).
    public static func applies(to layer: LayerCache) -> Bool {
        guard layer.spec.groupSize > 1, layer.spec.headDimension % 32 == 0 else { return false }
        var gains = false
        for segment in layer.heads.lazy.flatMap(\.segments) {
            guard let grouped = segment as? GroupedSegment, grouped.attendsGroups else { return false }
            gains = gains || grouped.gainsFromGroups
        }
        return gains
    }

    private static func leastCommonMultiple(_ a: Int, _ b: Int) -> Int {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return a / x * b
    }

    /// The part of a head's attention one segment contributes: its visible tokens and where their logits start.
    private struct View {
        let segment: any GroupedSegment
        let tokens: Range<Int>
        let offset: Int
    }

    /// `queries` and `output` are [queryHeads, headDimension] for one token at `position`.
    static func compute(layer: LayerCache, queries: UnsafePointer<Float>, position: Int,
                        output: UnsafeMutablePointer<Float>, kernel: AttentionKernel, scratch: ScratchBuffer) {
        let spec = layer.spec
        let d = spec.headDimension
        let group = spec.groupSize
        let views = layer.heads.map { head in
            var offset = 0
            return head.segments.map { segment in
                let tokens = CachedAttention.visibleTokens(segment, query: position, spec: spec)
                defer { offset += tokens.count }
                return View(segment: segment as! any GroupedSegment, tokens: tokens, offset: offset)
            }
        }
        let visible = views.map { $0.last.map { $0.offset + $0.tokens.count } ?? 0 }
        let longest = max(1, visible.max() ?? 0)
        // Runs of whole blocks of every segment (their least common multiple; the whole head if that does not
        // divide it).
        let channelBlock = views.joined().reduce(1) { leastCommonMultiple($0, $1.segment.channelBlock) }
        let channelRuns = d % channelBlock == 0 ? d / channelBlock : 1
        let itemsPerHead = visible.map { ($0 + rowsPerItem - 1) / rowsPerItem }
        let firstItem = itemsPerHead.reduce(into: [0]) { $0.append($0.last! + $1) }
        // Per chunk: the segments' own scratch, then a later segment's sums (group·d).
        let segmentScratch = views.joined().reduce(0) { max($0, $1.segment.groupScratchCount(queries: group)) }
        let perChunk = segmentScratch + group * d
        let chunks = ParallelFor.chunkCount(max(layer.heads.count * channelRuns, firstItem.last!))
        let arena = scratch.floats(spec.queryHeads * (d + longest) + chunks * perChunk)
        let rounded = arena
        let logits = arena + spec.queryHeads * d
        let chunkScratch = logits + spec.queryHeads * longest
        for i in 0 ..< spec.queryHeads * d { rounded[i] = HalfConversion.roundedToHalf(queries[i]) }

        // Logits: items are (head, run of rows of the head's visible tokens).
        ParallelFor.runChunks(firstItem.last!) { chunk, range in
            let work = chunkScratch + chunk * perChunk
            for item in range {
                let h = firstItem.lastIndex { $0 <= item }!
                let start = (item - firstItem[h]) * rowsPerItem
                let rows = start ..< min(start + rowsPerItem, visible[h])
                for view in views[h] {
                    let span = view.offset ..< view.offset + view.tokens.count
                    let overlap = rows.clamped(to: span)
                    guard !overlap.isEmpty else { continue }
                    let first = view.tokens.lowerBound + overlap.lowerBound - view.offset
                    view.segment.groupLogits(queries: rounded + h * group * d, count: group,
                                             tokens: first ..< first + overlap.count, kernel: kernel, scratch: work,
                                             into: logits + h * group * longest + overlap.lowerBound, stride: longest)
                }
            }
        }
        ParallelFor.run(spec.queryHeads) { range in
            for qh in range where visible[qh / group] > 0 {
                spec.softmax(logits + qh * longest, count: visible[qh / group])
            }
        }
        // Value sums: items are (head, run of channels). The first segment writes its channels, later ones add.
        ParallelFor.runChunks(layer.heads.count * channelRuns) { chunk, range in
            let work = chunkScratch + chunk * perChunk
            let extra = work + segmentScratch
            for item in range {
                let h = item / channelRuns
                let width = d / channelRuns
                let channels = item % channelRuns * width ..< (item % channelRuns + 1) * width
                let out = output + h * group * d
                guard visible[h] > 0 else {
                    for g in 0 ..< group { (out + g * d + channels.lowerBound).update(repeating: 0, count: width) }
                    continue
                }
                for (s, view) in views[h].enumerated() where s == 0 || !view.tokens.isEmpty {
                    let weights = logits + h * group * longest + view.offset
                    let target = s == 0 ? out : extra
                    view.segment.groupWeightedSum(weights: weights, stride: longest, count: group, tokens: view.tokens,
                                                  channels: channels, kernel: kernel, scratch: work, into: target)
                    guard s > 0 else { continue }
                    for g in 0 ..< group {
                        for i in channels { out[g * d + i] += extra[g * d + i] }
                    }
                }
            }
        }
    }
}
