/// Q4_0: f16 scale d, 32 4-bit values; x = d·(q − 8). Low nibbles hold elements 0–15, high nibbles 16–31.
public enum BlockQ4_0: Q8DotFormat {
    public static let typeID: UInt32 = 2
    public static let name = "Q4_0"
    public static let blockElements = 32
    public static let blockBytes = 18
    public static let needsActivationSums = false

    public static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let qs = block + 2
        for j in 0 ..< 16 {
            let byte = qs.load(fromByteOffset: j, as: UInt8.self)
            y[j] = Float(Int(byte & 0x0F) - 8) * d
            y[j + 16] = Float(Int(byte >> 4) - 8) * d
        }
    }

    public static func dot(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            let packed = p.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
            let lo = SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F) &- 8
            let hi = SIMD16<Int16>(truncatingIfNeeded: packed &>> 4) &- 8
            let isum = Q8Dot.sum(lo: lo, hi: hi, a.quants + b * 32)
            sum += loadHalf(p, 0) * a.scales[b] * Float(isum)
        }
        return sum
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        var sum: Float = 0
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            var isum: Int32 = 0
            for j in 0 ..< 16 {
                let byte = p.load(fromByteOffset: 2 + j, as: UInt8.self)
                isum += (Int32(byte & 0x0F) - 8) * Int32(a.quants[b * 32 + j])
                isum += (Int32(byte >> 4) - 8) * Int32(a.quants[b * 32 + j + 16])
            }
            sum += loadHalf(p, 0) * a.scales[b] * Float(isum)
        }
        return sum
    }
}
