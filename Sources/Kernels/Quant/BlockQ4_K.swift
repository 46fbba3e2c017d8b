/// Q4_K: 256 values in 8 sub-blocks of 32; 6-bit scales and mins, 4-bit quants.
/// Layout: f16 d, f16 dmin, scales[12], qs[128].
public enum BlockQ4_K: QuantFormat {
    public static let typeID: UInt32 = 12
    public static let name = "Q4_K"
    public static let blockElements = 256
    public static let blockBytes = 144

    public static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0), dmin = loadHalf(block, 2)
        var y = output
        for chunk in 0 ..< 4 {
            let q = block + 16 + chunk * 32
            let (s1, m1) = KQuantScales.scaleMin(2 * chunk, block + 4)
            let (s2, m2) = KQuantScales.scaleMin(2 * chunk + 1, block + 4)
            for l in 0 ..< 32 { y[l] = d * Float(s1) * Float(q.load(fromByteOffset: l, as: UInt8.self) & 0x0F) - dmin * Float(m1) }
            for l in 0 ..< 32 { y[32 + l] = d * Float(s2) * Float(q.load(fromByteOffset: l, as: UInt8.self) >> 4) - dmin * Float(m2) }
            y += 64
        }
    }
}
