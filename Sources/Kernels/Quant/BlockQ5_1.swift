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
        var sum: Float = 0, minimums: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            let (h0, h1) = Q8Dot.highBits(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            let packed = p.loadUnaligned(fromByteOffset: 8, as: SIMD16<UInt8>.self)
            let lo = SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F) | h0
            let hi = SIMD16<Int16>(truncatingIfNeeded: packed &>> 4) | h1
            sum += loadHalf(p, 0) * a.scales[b] * Float(Q8Dot.sum(lo: lo, hi: hi, a.quants + b * 32))
            minimums += loadHalf(p, 2) * a.sums[b]
        }
        return sum + minimums
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            var isum: Int32 = 0
            for j in 0 ..< 32 { isum += Int32(Q5Layout.value(p, qhOffset: 4, j)) * Int32(a.quants[b * 32 + j]) }
            sum += loadHalf(p, 0) * a.scales[b] * Float(isum) + loadHalf(p, 2) * a.sums[b]
        }
        return sum
    }
}
