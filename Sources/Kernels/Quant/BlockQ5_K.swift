/// Q5_K: as Q4_K plus a 5th bit per quant. Layout: f16 d, f16 dmin, scales[12], qh[32], qs[128].
public enum BlockQ5_K: QuantFormat {
    public static let typeID: UInt32 = 13
    public static let name = "Q5_K"
    public static let blockElements = 256
    public static let blockBytes = 176

    public static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 0), dmin = loadHalf(block, 2)
        let qh = block + 16
        var y = output
        var u1: UInt8 = 1, u2: UInt8 = 2
        for chunk in 0 ..< 4 {
            let ql = block + 48 + chunk * 32
            let (s1, m1) = KQuantScales.scaleMin(2 * chunk, block + 4)
            let (s2, m2) = KQuantScales.scaleMin(2 * chunk + 1, block + 4)
            for l in 0 ..< 32 {
                let low = ql.load(fromByteOffset: l, as: UInt8.self), high = qh.load(fromByteOffset: l, as: UInt8.self)
                y[l] = d * Float(s1) * Float(Int(low & 0x0F) + (high & u1 != 0 ? 16 : 0)) - dmin * Float(m1)
                y[32 + l] = d * Float(s2) * Float(Int(low >> 4) + (high & u2 != 0 ? 16 : 0)) - dmin * Float(m2)
            }
            y += 64
            u1 <<= 2
            u2 <<= 2
        }
    }
}
