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
        Q8Dot.dot(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: 2) { p in
            let (h0, h1) = Q8Dot.highBits(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            let packed = p.loadUnaligned(fromByteOffset: 8, as: SIMD16<UInt8>.self)
            return (SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F) | h0, SIMD16<Int16>(truncatingIfNeeded: packed &>> 4) | h1)
        }
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        Q8Dot.dotScalar(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: 2) { p, e in
            Int32(Q5Layout.value(p, qhOffset: 4, e))
        }
    }
}
