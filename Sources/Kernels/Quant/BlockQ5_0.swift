/// Q5_0: f16 scale d, 32 high bits (u32), 32 low nibbles; x = d·(q − 16).
public enum BlockQ5_0: Q8DotFormat {
    public static let typeID: UInt32 = 6
    public static let name = "Q5_0"
    public static let blockElements = 32
    public static let blockBytes = 22
    public static let needsActivationSums = false

    public static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0)
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        for j in 0 ..< 16 {
            let byte = block.load(fromByteOffset: 6 + j, as: UInt8.self)
            let h0 = Int((qh >> UInt32(j)) & 1) << 4, h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = Float((Int(byte & 0x0F) | h0) - 16) * d
            y[j + 16] = Float((Int(byte >> 4) | h1) - 16) * d
        }
    }

    public static func dot(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        Q8Dot.dot(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: nil) { p in
            let (h0, h1) = Q8Dot.highBits(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
            let packed = p.loadUnaligned(fromByteOffset: 6, as: SIMD16<UInt8>.self)
            let low = (SIMD16<Int16>(truncatingIfNeeded: packed & 0x0F) | h0) &- 16
            let high = (SIMD16<Int16>(truncatingIfNeeded: packed &>> 4) | h1) &- 16
            return (low, high)
        }
    }

    public static func dotScalar(row: UnsafeRawPointer, activations a: Q8Row, blocks: Int) -> Float {
        Q8Dot.dotScalar(row: row, activations: a, blocks: blocks, blockBytes: blockBytes, minimumOffset: nil) { p, e in
            Int32(Q5Layout.value(p, qhOffset: 2, e)) - 16
        }
    }
}

/// Element access shared by the Q5 formats' scalar twins.
enum Q5Layout {
    /// The 5-bit value of element `j`: its nibble, plus bit `j` of `qh` as the 5th bit.
    static func value(_ block: UnsafeRawPointer, qhOffset: Int, _ j: Int) -> Int {
        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: qhOffset, as: UInt32.self))
        let byte = block.load(fromByteOffset: qhOffset + 4 + j % 16, as: UInt8.self)
        let nibble = j < 16 ? Int(byte & 0x0F) : Int(byte >> 4)
        return nibble | Int((qh >> UInt32(j)) & 1) << 4
    }
}
