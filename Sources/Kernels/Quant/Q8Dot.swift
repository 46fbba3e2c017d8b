/// The shared shape of every integer dot kernel: per 32-element block, products summed in 8 lanes of 4
/// neighbouring elements (lane j holds elements 4j…4j+3, as `maddubs`/`dpbusd` group them), each lane
/// fused-multiply-added into a float accumulator with the block's combined scale; a horizontal sum at the end.
/// This is llama.cpp's x86 order, so results match it bit for bit.
enum Q8Dot {
    /// The whole vectorized dot product of a row with activations; `weights` decodes one block's 32 values
    /// (two 16-lane halves), and formats with a minimum (`minimumOffset`: its f16's byte offset) add m·Σa.
    @inline(__always)
    static func dot(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int, blockBytes: Int, minimumOffset: Int?,
                    weights: (UnsafeRawPointer) -> (SIMD16<Int16>, SIMD16<Int16>)) -> Float {
        var acc = SIMD8<Float>()
        var minimums: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            let (lo, hi) = weights(p)
            accumulate(&acc, scale: loadHalf(p, 0) * a.scales[b], laneSums(lo: lo, hi: hi, a.quants + b * 32))
            if let minimumOffset { minimums += loadHalf(p, minimumOffset) * a.sums[b] }
        }
        return HorizontalSum.of8(acc) + minimums
    }

    /// Scalar twin of `dot`: `weight(block, e)` is element e's integer value.
    static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int, blockBytes: Int, minimumOffset: Int?,
                          weight: (UnsafeRawPointer, Int) -> Int32) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        var minimums: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            accumulateScalar(&acc, scale: loadHalf(p, 0) * a.scales[b], weight: { weight(p, $0) }, a.quants + b * 32)
            if let minimumOffset { minimums += loadHalf(p, minimumOffset) * a.sums[b] }
        }
        return horizontalSumScalar(acc) + minimums
    }

    /// Lane sums of 32 weights (two 16-lane halves: elements 0–15 and 16–31) times 32 int8 activations.
    @inline(__always)
    static func laneSums(lo: SIMD16<Int16>, hi: SIMD16<Int16>, _ q: UnsafePointer<Int8>) -> SIMD8<Int32> {
        let raw = UnsafeRawPointer(q)
        let a0 = SIMD16<Int16>(truncatingIfNeeded: raw.loadUnaligned(as: SIMD16<Int8>.self))
        let a1 = SIMD16<Int16>(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self))
        let p0 = SIMD16<Int32>(truncatingIfNeeded: lo &* a0)
        let p1 = SIMD16<Int32>(truncatingIfNeeded: hi &* a1)
        let pairs0 = p0.evenHalf &+ p0.oddHalf, pairs1 = p1.evenHalf &+ p1.oddHalf
        return SIMD8(lowHalf: pairs0.evenHalf &+ pairs0.oddHalf, highHalf: pairs1.evenHalf &+ pairs1.oddHalf)
    }

    /// acc ← fma(scale, lanes, acc).
    @inline(__always)
    static func accumulate(_ acc: inout SIMD8<Float>, scale: Float, _ lanes: SIMD8<Int32>) {
        acc = FusedMultiplyAdd.fma(SIMD8(repeating: scale), SIMD8<Float>(lanes), acc)
    }

    /// Scalar twin: one block, element values given by `weight(e)`, accumulated lane by lane.
    static func accumulateScalar(_ acc: inout [Float], scale: Float, weight: (Int) -> Int32, _ q: UnsafePointer<Int8>) {
        for lane in 0 ..< 8 {
            var sum: Int32 = 0
            for e in 4 * lane ..< 4 * lane + 4 { sum += weight(e) * Int32(q[e]) }
            acc[lane] = FusedMultiplyAdd.fma(scale, Float(sum), acc[lane])
        }
    }

    /// Scalar twin of `HorizontalSum.of8`.
    static func horizontalSumScalar(_ a: [Float]) -> Float {
        ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
    }

    /// The 5th bit of each of 32 elements, from a Q5 block's 32-bit `qh`, as two 16-lane halves of 0 or 16.
    @inline(__always)
    static func highBits(_ qh: UInt32) -> (SIMD16<Int16>, SIMD16<Int16>) {
        let shifts = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let lo = (SIMD16<UInt32>(repeating: qh) &>> shifts) & 1
        let hi = (SIMD16<UInt32>(repeating: qh >> 16) &>> shifts) & 1
        return (SIMD16<Int16>(truncatingIfNeeded: lo) &<< 4, SIMD16<Int16>(truncatingIfNeeded: hi) &<< 4)
    }
}
