/// A segment that attends all the query heads of one KV head together while decoding: each stored row is read
/// and decoded once for every query of the group instead of once per query (grouped-query attention shares a
/// KV head between `AttentionSpec.groupSize` query heads). Results have the bits of `logits` and `weightedSum`
/// called query by query with `SummationOrder.vectorDot`; `GroupedDecodeAttention` relies on that.
public protocol GroupedSegment: KVSegment {
    /// Whether this segment attends groups now (a segment type may do so only for some of its storage formats).
    var attendsGroups: Bool { get }
    /// Value sums of channel runs this long (starting at multiples of it) can be computed apart.
    var channelBlock: Int { get }
    /// Whether reading each row once for the group is faster than query by query: true where rows are decoded.
    var gainsFromGroups: Bool { get }
    /// Floats of `scratch` that `groupLogits` and `groupWeightedSum` need for `queries` queries (any channel run).
    func groupScratchCount(queries: Int) -> Int

    /// logits[g·stride + j − tokens.lowerBound] = query_g · key_j for g < `count` and j in `tokens`, with
    /// query g at `queries + g·headDimension` (f16-exact floats).
    func groupLogits(queries: UnsafePointer<Float>, count: Int, tokens: Range<Int>, kernel: AttentionKernel,
                     scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>, stride: Int)

    /// output[g·headDimension + i] = Σ_j weights[g·stride + j − tokens.lowerBound] · value_j[i] for g < `count`,
    /// j in `tokens` and i in `channels` (whole `channelBlock`s); other channels are left alone. Other channel runs
    /// read the same `weights` at the same time.
    func groupWeightedSum(weights: UnsafePointer<Float>, stride: Int, count: Int, tokens: Range<Int>,
                          channels: Range<Int>, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                          into output: UnsafeMutablePointer<Float>)
}
