import CKernels
import Kernels

/// Grouped decoding over KIVI's codes: the query heads that share a KV head read its codes once
/// (`tp_packed_group_logits`, `tp_packed_group_weighted_sum`, each row decoded once for all of them), with the bits of
/// `logits` and `weightedSum` query by query. Value sums split by whole value groups; rotated rows only as a whole
/// head, since the sum is rotated back over all its channels.
extension KIVISegment: GroupedSegment {
    public var attendsGroups: Bool { true }
    public var gainsFromGroups: Bool { true }
    public var channelBlock: Int { settings.rotate ? headDimension : settings.group }

    /// Logits: rotated queries, each query times a group's scales, their biases, eight decoded rows.
    /// Value sums: 32 decoded rows of 64 channels, each query's 64 sums and its zero points' sums.
    public func groupScratchCount(queries: Int) -> Int {
        let d = headDimension
        let logits = 2 * queries * d + queries + 8 * d
        let sums = 32 * 64 + queries * (64 + d / settings.group)
        return max(logits, sums)
    }

    public func groupLogits(queries: UnsafePointer<Float>, count: Int, tokens: Range<Int>, kernel: AttentionKernel,
                            scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>, stride: Int) {
        guard !tokens.isEmpty else { return }
        let d = headDimension
        let bits = settings.keyBits
        var stored = queries
        if settings.rotate {
            // The queries in the stored frame, as `logits` turns each: after the per-group kernel's scratch.
            let turned = scratch + count * d + count + 8 * d
            turned.update(from: queries, count: count * d)
            for g in 0 ..< count { HadamardRotation.rotate(turned + g * d, count: d) }
            stored = UnsafePointer(turned)
        }
        forEachKeyGroup(in: tokens) { codes, scales, zeros, rows in
            let out = logits + (rows.lowerBound - tokens.lowerBound)
            let first = codes + rows.lowerBound * keyRowBytes
            switch kernel {
            case .avx2:
                tp_packed_group_logits(stored, Int32(count), scales, zeros, first, Int32(rows.count), Int32(d),
                                       Int32(bits), scratch, out, stride)
            case .portable:
                for g in 0 ..< count {
                    PackedCodes.logits(query: stored + g * d, scales: scales, zeros: zeros, codes: first,
                                       rows: rows.count, dimension: d, bits: bits, qs: scratch, into: out + g * stride)
                }
            }
        }
    }

    public func groupWeightedSum(weights: UnsafePointer<Float>, stride: Int, count: Int, tokens: Range<Int>,
                                 channels: Range<Int>, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                                 into output: UnsafeMutablePointer<Float>) {
        let d = headDimension
        let (bits, group) = (settings.bits, settings.group)
        precondition(channels.lowerBound % group == 0 && channels.upperBound % group == 0,
                     "KIVI value sums split by whole value groups")
        withValueRows(from: tokens.lowerBound) { c, s, z in
            switch kernel {
            case .avx2:
                tp_packed_group_weighted_sum(weights, stride, Int32(count), c, s, z, Int32(tokens.count), Int32(d),
                                             Int32(bits), Int32(group), Int32(channels.lowerBound),
                                             Int32(channels.upperBound), scratch, output, d)
            case .portable:
                let valueGroups = channels.lowerBound / group ..< channels.upperBound / group
                for g in 0 ..< count {
                    PackedCodes.weightedSum(weights: weights + g * stride, codes: c, scales: s, zeros: z,
                                            rows: tokens.count, dimension: d, bits: bits, group: group,
                                            valueGroups: valueGroups, zeroSums: scratch, into: output + g * d)
                }
            }
        }
        guard settings.rotate else { return }
        precondition(channels == 0 ..< d, "rotated KIVI value sums are one run over the whole head")
        for g in 0 ..< count { HadamardRotation.rotate(output + g * d, count: d) }
    }
}
