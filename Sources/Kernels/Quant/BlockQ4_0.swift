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
        Q8Dot.dot(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: nil) { p in
            let packed = p.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
            return (SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F) &- 8, SIMD16<Int16>(truncatingIfNeeded: packed &>> 4) &- 8)
        }
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        Q8Dot.dotScalar(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: nil) { p, e in
            let byte = p.load(fromByteOffset: 2 + e % 16, as: UInt8.self)
            return Int32(e < 16 ? byte & 0x0F : byte >> 4) - 8
        }
    }
}
