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
        var acc = SIMD8<Float>()
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            let packed = p.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
            let lanes = Q8Dot.laneSums(lo: SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F) &- 8, hi: SIMD16<Int16>(truncatingIfNeeded: packed &>> 4) &- 8, a.quants + b * 32)
            Q8Dot.accumulate(&acc, scale: loadHalf(p, 0) * a.scales[b], lanes)
        }
        return HorizontalSum.of8(acc)
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        for b in 0 ..< blocks {
            let p = row + b * blockBytes
            Q8Dot.accumulateScalar(&acc, scale: loadHalf(p, 0) * a.scales[b], weight: { e in let byte = p.load(fromByteOffset: 2 + e % 16, as: UInt8.self); return Int32(e < 16 ? byte & 0x0F : byte >> 4) - 8 }, a.quants + b * 32)
        }
        return Q8Dot.horizontalSumScalar(acc)
    }
}
