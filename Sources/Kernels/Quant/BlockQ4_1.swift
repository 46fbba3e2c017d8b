/// Q4_1: f16 scale d, f16 minimum m, 32 4-bit values; x = d·q + m.
public enum BlockQ4_1: Q8DotFormat {
    public static let typeID: UInt32 = 3
    public static let name = "Q4_1"
    public static let blockElements = 32
    public static let blockBytes = 20
    public static let needsActivationSums = true

    public static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0), m = loadHalf(block, 2)
        for j in 0 ..< 16 {
            let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
            y[j] = Float(byte & 0x0F) * d + m
            y[j + 16] = Float(byte >> 4) * d + m
        }
    }

    public static func dot(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        var sum: Float = 0, minimums: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            let packed = p.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
            let lo = SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F)
            let hi = SIMD16<Int16>(truncatingIfNeeded: packed &>> 4)
            let isum = Q8Dot.sum(lo: lo, hi: hi, a.quants + b * 32)
            sum += loadHalf(p, 0) * a.scales[b] * Float(isum)
            minimums += loadHalf(p, 2) * a.sums[b]
        }
        return sum + minimums
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            var isum: Int32 = 0
            for j in 0 ..< 16 {
                let byte = p.load(fromByteOffset: 4 + j, as: UInt8.self)
                isum += Int32(byte & 0x0F) * Int32(a.quants[b * 32 + j])
                isum += Int32(byte >> 4) * Int32(a.quants[b * 32 + j + 16])
            }
            sum += loadHalf(p, 0) * a.scales[b] * Float(isum) + loadHalf(p, 2) * a.sums[b]
        }
        return sum
    }
}
