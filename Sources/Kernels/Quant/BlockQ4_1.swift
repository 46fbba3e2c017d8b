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
        Q8Dot.dot(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: 2) { p in
            let packed = p.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
            return (SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F), SIMD16<Int16>(truncatingIfNeeded: packed &>> 4))
        }
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        Q8Dot.dotScalar(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: 2) { p, e in
            let byte = p.load(fromByteOffset: 4 + e % 16, as: UInt8.self)
            return Int32(e < 16 ? byte & 0x0F : byte >> 4)
        }
    }
}
