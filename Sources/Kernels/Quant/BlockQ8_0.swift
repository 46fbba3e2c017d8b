/// Q8_0: f16 scale d, 32 int8 values; x = d·q.
public enum BlockQ8_0: Q8DotFormat {
    public static let typeID: UInt32 = 8
    public static let name = "Q8_0"
    public static let blockElements = 32
    public static let blockBytes = 34
    public static let needsActivationSums = false

    public static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        for j in 0 ..< 32 { y[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
    }

    public static func dot(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        Q8Dot.dot(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: nil) { p in
            (SIMD16<Int16>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)),
             SIMD16<Int16>(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)))
        }
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        Q8Dot.dotScalar(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: nil) { p, e in
            Int32(p.load(fromByteOffset: 2 + e, as: Int8.self))
        }
    }
}
