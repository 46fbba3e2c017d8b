/// Q2_K: 256 values in 16 sub-blocks of 16; 4-bit scale and min per sub-block, 2-bit quants.
/// Layout: scales[16], qs[64], f16 d, f16 dmin.
public enum BlockQ2_K: QuantFormat {
    public static let typeID: UInt32 = 10
    public static let name = "Q2_K"
    public static let blockElements = 256
    public static let blockBytes = 84

    public static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 80), dmin = loadHalf(block, 82)
        var y = output
        var scaleIndex = 0
        for half in 0 ..< 2 {
            let q = block + 16 + half * 32
            for shift in stride(from: 0, to: 8, by: 2) {
                for part in 0 ..< 2 {
                    let sc = block.load(fromByteOffset: scaleIndex, as: UInt8.self)
                    scaleIndex += 1
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    for l in 0 ..< 16 {
                        let v = (q.load(fromByteOffset: l + part * 16, as: UInt8.self) >> UInt8(shift)) & 3
                        y[l] = dl * Float(v) - ml
                    }
                    y += 16
                }
            }
        }
    }
}
