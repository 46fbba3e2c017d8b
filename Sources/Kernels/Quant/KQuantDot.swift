/// Q4_K, Q5_K and Q6_K rows dotted with Q8_K activations in integers — the portable twins of `tp_matmul_q8k`, with
/// the float steps of llama.cpp's AVX2 build so both paths give its bits. Integer sums are exact in any order; only
/// the float accumulation must follow llama.cpp's: for Q4_K its repacked kernels (per block, fused acc += isum·(dx·dy)
/// and mins += imin·(dmin·dy); the row is acc − mins), for Q5_K and Q6_K their `ggml_vec_dot_*_q8_K` (eight lane
/// sums per block, each lane holding elements 4L ..< 4L + 4 of every 32, fused into eight accumulators, then hsum;
/// Q5_K adds its minimums as one fused scalar sum).
public enum KQuantDot {
    /// - Parameters:
    ///   - row: `blocks` Q4_K blocks (144 bytes each).
    ///   - scales, quants, sums: one token's Q8_K activations (`Q8KActivations`' layout).
    public static func q4K(row: UnsafeRawPointer, blocks: Int, scales: UnsafePointer<Float>,
                           quants: UnsafePointer<Int8>, sums: UnsafePointer<Int16>) -> Float {
        var acc: Float = 0
        var mins: Float = 0
        for b in 0 ..< blocks {
            let x = row + b * BlockQ4_K.blockBytes
            let q8 = quants + b * 256
            let groupSums = sums + b * 16
            var isum: Int32 = 0
            var imin: Int32 = 0
            for j in 0 ..< 8 {
                let (scale, minimum) = KQuantScales.scaleMin(j, x + 4)
                let codes = x + 16 + (j / 2) * 32
                let shift: UInt8 = j % 2 == 0 ? 0 : 4
                var dot: Int32 = 0
                for e in 0 ..< 32 {
                    let code = (codes.load(fromByteOffset: e, as: UInt8.self) >> shift) & 0x0F
                    dot += Int32(code) * Int32(q8[j * 32 + e])
                }
                isum += Int32(scale) * dot
                imin += Int32(minimum) * (Int32(groupSums[2 * j]) + Int32(groupSums[2 * j + 1]))
            }
            let dy = scales[b]
            acc = acc.addingProduct(Float(isum), loadHalf(x, 0) * dy)
            mins = mins.addingProduct(Float(imin), loadHalf(x, 2) * dy)
        }
        return acc - mins
    }

    /// - Parameter row: `blocks` Q5_K blocks (176 bytes each: f16 d, f16 dmin, scales[12], qh[32], qs[128]).
    public static func q5K(row: UnsafeRawPointer, blocks: Int, scales: UnsafePointer<Float>,
                           quants: UnsafePointer<Int8>, sums: UnsafePointer<Int16>) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        var minimums: Float = 0
        for b in 0 ..< blocks {
            let x = row + b * BlockQ5_K.blockBytes
            let q8 = quants + b * 256
            let groupSums = sums + b * 16
            let d = scales[b] * loadHalf(x, 0)
            let dmin = -scales[b] * loadHalf(x, 2)
            let scaleMins = (0 ..< 8).map { KQuantScales.scaleMin($0, x + 4) }
            var imin: Int32 = 0
            for s in 0 ..< 8 {
                imin += Int32(scaleMins[s].min) * (Int32(groupSums[2 * s]) + Int32(groupSums[2 * s + 1]))
            }
            minimums = minimums.addingProduct(dmin, Float(imin))
            for lane in 0 ..< 8 {
                var sumi: Int32 = 0
                for s in 0 ..< 8 {
                    let scale = Int32(scaleMins[s].scale)
                    var dot: Int32 = 0
                    for e in 4 * lane ..< 4 * lane + 4 {
                        dot += Int32(q5Code(x, subBlock: s, element: e)) * Int32(q8[32 * s + e])
                    }
                    sumi += scale * dot
                }
                acc[lane] = acc[lane].addingProduct(d, Float(sumi))
            }
        }
        return Q8Dot.horizontalSumScalar(acc) + minimums
    }

    /// The 5-bit code (0...31) of element `element` of 32-value sub-block `subBlock` of a Q5_K block.
    @inline(__always)
    static func q5Code(_ x: UnsafeRawPointer, subBlock s: Int, element e: Int) -> UInt8 {
        let low = x.load(fromByteOffset: 48 + 32 * (s / 2) + e, as: UInt8.self) >> (s % 2 == 0 ? 0 : 4) & 0x0F
        let high = x.load(fromByteOffset: 16 + e, as: UInt8.self) >> s & 1
        return low | high << 4
    }

    /// - Parameter row: `blocks` Q6_K blocks (210 bytes each: ql[128], qh[64], int8 scales[16], f16 d).
    public static func q6K(row: UnsafeRawPointer, blocks: Int, scales: UnsafePointer<Float>,
                           quants: UnsafePointer<Int8>, sums: UnsafePointer<Int16>) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        for b in 0 ..< blocks {
            let x = row + b * BlockQ6_K.blockBytes
            let q8 = quants + b * 256
            let groupSums = sums + b * 16
            func scale(_ group: Int) -> Int32 { Int32(x.load(fromByteOffset: 192 + group, as: Int8.self)) }
            let d = scales[b] * loadHalf(x, 208)
            for lane in 0 ..< 8 {
                var sumi: Int32 = 0
                for half in 0 ..< 2 {
                    for k in 0 ..< 4 {
                        let groupScale = scale(8 * half + 2 * k + lane / 4)
                        var dot: Int32 = 0
                        for e in 4 * lane ..< 4 * lane + 4 {
                            dot += Int32(q6Code(x, half: half, chunk: k, element: e)) * Int32(q8[128 * half + 32 * k + e])
                        }
                        sumi += groupScale * dot
                    }
                }
                // The codes are stored with +32; llama.cpp subtracts 32·Σ scale·(sum of 16 quants) per lane.
                let offset = Int32(groupSums[2 * lane]) * scale(2 * lane) + Int32(groupSums[2 * lane + 1]) * scale(2 * lane + 1)
                sumi -= offset << 5
                acc[lane] = acc[lane].addingProduct(d, Float(sumi))
            }
        }
        return Q8Dot.horizontalSumScalar(acc)
    }

    /// The 6-bit code (0...63, stored +32) of element `element` of 32-value chunk `chunk` in 128-value half `half`.
    @inline(__always)
    static func q6Code(_ x: UnsafeRawPointer, half: Int, chunk: Int, element e: Int) -> UInt8 {
        let ql = x + 64 * half + (chunk % 2) * 32
        let low = ql.load(fromByteOffset: e, as: UInt8.self) >> (chunk < 2 ? 0 : 4) & 0x0F
        let high = x.load(fromByteOffset: 128 + 32 * half + e, as: UInt8.self) >> (2 * chunk) & 3
        return low | high << 4
    }
}
