/// Integer codes of 2, 3, 4 or 8 bits, packed eight at a time into `bits` bytes (code k of a group of eight at
/// bits k·b … k·b + b − 1, little-endian), the storage of KIVI-style quantized keys and values; and the portable
/// twins of the C kernels that attend over them (`tp_packed_logits`, `tp_packed_weighted_sum`), which add in the
/// same order with the same fused multiply-adds and so give the same bits.
public enum PackedCodes {
    public static let supportedBits = [2, 3, 4, 8]

    /// Bytes of `count` codes (a multiple of 8).
    public static func byteCount(codes count: Int, bits: Int) -> Int { count / 8 * bits }

    /// Packs `count` codes (a multiple of 8, each < 2^bits) into `output`.
    public static func pack(_ codes: UnsafePointer<UInt8>, count: Int, bits: Int, into output: UnsafeMutablePointer<UInt8>) {
        for chunk in 0 ..< count / 8 {
            var word: UInt64 = 0
            for k in 0 ..< 8 { word |= UInt64(codes[chunk * 8 + k]) << UInt64(k * bits) }
            for byte in 0 ..< bits { output[chunk * bits + byte] = UInt8(truncatingIfNeeded: word >> UInt64(8 * byte)) }
        }
    }

    /// The eight codes packed at `p`, as floats.
    @inline(__always)
    public static func unpack8(_ p: UnsafePointer<UInt8>, bits: Int) -> SIMD8<Float> {
        var word: UInt64 = 0
        for byte in 0 ..< bits { word |= UInt64(p[byte]) << UInt64(8 * byte) }
        let mask: UInt64 = (1 << UInt64(bits)) - 1
        var codes = SIMD8<Float>()
        for k in 0 ..< 8 { codes[k] = Float((word >> UInt64(k * bits)) & mask) }
        return codes
    }

    /// Code `index` of a packed row.
    @inline(__always)
    public static func code(_ row: UnsafePointer<UInt8>, _ index: Int, bits: Int) -> Int {
        Int(unpack8(row + index / 8 * bits, bits: bits)[index % 8])
    }

    /// Logits of one key group (twin of `tp_packed_logits`): qs = q·scale, bias = Σ q·zero, then
    /// out[j] = Σ_c qs[c]·code[j][c] + bias for j < rows. `qs` holds d floats.
    public static func logits(query q: UnsafePointer<Float>, scales: UnsafePointer<UInt16>, zeros: UnsafePointer<UInt16>,
                              codes: UnsafePointer<UInt8>, rows: Int, dimension d: Int, bits: Int,
                              qs: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        var biasLanes = SIMD8<Float>()
        let rawQ = UnsafeRawPointer(q)
        for c in stride(from: 0, to: d, by: 8) {
            let qc = rawQ.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
            var scale = SIMD8<Float>()
            var zero = SIMD8<Float>()
            for k in 0 ..< 8 {
                scale[k] = HalfConversion.float(fromBits: scales[c + k])
                zero[k] = HalfConversion.float(fromBits: zeros[c + k])
            }
            UnsafeMutableRawPointer(qs).storeBytes(of: qc * scale, toByteOffset: c * 4, as: SIMD8<Float>.self)
            biasLanes = FusedMultiplyAdd.fma(qc, zero, biasLanes)
        }
        let bias = HorizontalSum.of8(biasLanes)
        let rowBytes = d * bits / 8
        let raw = UnsafeRawPointer(qs)
        for j in 0 ..< rows {
            let row = codes + j * rowBytes
            var acc = SIMD8<Float>()
            for c in stride(from: 0, to: d, by: 8) {
                let q = raw.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
                acc = FusedMultiplyAdd.fma(q, unpack8(row + c / 8 * bits, bits: bits), acc)
            }
            out[j] = HorizontalSum.of8(acc) + bias
        }
    }

    /// out[c] = Σ_j w[j]·(scale[j][g]·code[j][c] + zero[j][g]), g = c / group (twin of `tp_packed_weighted_sum`),
    /// for the channels of value groups `valueGroups` (all when nil; other channels are left alone, and each channel's
    /// bits do not depend on which others are computed). `zeroSums` holds d / group floats.
    public static func weightedSum(weights w: UnsafePointer<Float>, codes: UnsafePointer<UInt8>, scales: UnsafePointer<UInt16>,
                                   zeros: UnsafePointer<UInt16>, rows: Int, dimension d: Int, bits: Int, group: Int,
                                   valueGroups: Range<Int>? = nil, zeroSums: UnsafeMutablePointer<Float>,
                                   into out: UnsafeMutablePointer<Float>) {
        let rowBytes = d * bits / 8
        let groups = d / group
        let computed = valueGroups ?? 0 ..< groups
        let channels = computed.lowerBound * group ..< computed.upperBound * group
        (out + channels.lowerBound).update(repeating: 0, count: channels.count)
        zeroSums.update(repeating: 0, count: groups)
        let raw = UnsafeMutableRawPointer(out)
        for j in 0 ..< rows {
            let row = codes + j * rowBytes
            for g in computed {
                let a = w[j] * HalfConversion.float(fromBits: scales[j * groups + g])
                let zero = HalfConversion.float(fromBits: zeros[j * groups + g])
                zeroSums[g] = FusedMultiplyAdd.fma(w[j], zero, zeroSums[g])
                let av = SIMD8<Float>(repeating: a)
                for c in stride(from: g * group, to: (g + 1) * group, by: 8) {
                    let sum = raw.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
                    raw.storeBytes(of: FusedMultiplyAdd.fma(av, unpack8(row + c / 8 * bits, bits: bits), sum),
                                   toByteOffset: c * 4, as: SIMD8<Float>.self)
                }
            }
        }
        for c in channels { out[c] += zeroSums[c / group] }
    }
}
