/// Q5_1: f16 scale d, f16 minimum m, 32 high bits (u32), 32 low nibbles; x = d·q + m.
public enum BlockQ5_1: Q8DotFormat {
    public static let typeID: UInt32 = 7
    public static let name = "Q5_1"
    public static let blockElements = 32
    public static let blockBytes = 24
    public static let needsActivationSums = true

    public static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0), m = loadHalf(block, 2)
        for j in 0 ..< 32 { y[j] = Float(Q5Layout.value(block, qhOffset: 4, j)) * d + m }
    }

    public static func dot(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        var acc = SIMD8<Float>()
        var minimums: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            let (h0, h1) = Q8Dot.highBits(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            let packed = p.loadUnaligned(fromByteOffset: 8, as: SIMD16<UInt8>.self)
            let lanes = Q8Dot.laneSums(lo: SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F) | h0, hi: SIMD16<Int16>(truncatingIfNeeded: packed &>> 4) | h1, a.quants + b * 32)
            Q8Dot.accumulate(&acc, scale: loadHalf(p, 0) * a.scales[b], lanes)
            minimums += loadHalf(p, 2) * a.sums[b]
        }
        return HorizontalSum.of8(acc) + minimums
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        var minimums: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            Q8Dot.accumulateScalar(&acc, scale: loadHalf(p, 0) * a.scales[b], weight: { e in Int32(Q5Layout.value(p, qhOffset: 4, e)) }, a.quants + b * 32)
            minimums += loadHalf(p, 2) * a.sums[b]
        }
        return Q8Dot.horizontalSumScalar(acc) + minimums
    }
}
