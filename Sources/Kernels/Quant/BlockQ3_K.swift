/// Q3_K: 256 values in 16 sub-blocks of 16; 6-bit signed scales, 2 low bits + 1 high bit per quant.
/// Layout: hmask[32], qs[64], scales[12], f16 d.
public enum BlockQ3_K: QuantFormat {
    public static let typeID: UInt32 = 11
    public static let name = "Q3_K"
    public static let blockElements = 256
    public static let blockBytes = 110

    /// Unpacks the 16 6-bit scales (stored as 4 low bits in 8 bytes + 2 high bits in 4 bytes).
    static func scales(_ block: UnsafeRawPointer) -> [Int] {
        let raw = (0 ..< 12).map { block.load(fromByteOffset: 96 + $0, as: UInt8.self) }
        return (0 ..< 16).map { j in
            let low = j < 8 ? raw[j] & 0x0F : raw[j - 8] >> 4
            let high = (raw[8 + j % 4] >> UInt8(2 * (j / 4))) & 3
            return Int(low | high << 4) - 32
        }
    }

    public static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 108)
        let scales = scales(block)
        var y = output
        var scaleIndex = 0
        var mask: UInt8 = 1
        for half in 0 ..< 2 {
            let q = block + 32 + half * 32
            for shift in stride(from: 0, to: 8, by: 2) {
                for part in 0 ..< 2 {
                    let dl = d * Float(scales[scaleIndex])
                    scaleIndex += 1
                    for l in 0 ..< 16 {
                        let low = Int((q.load(fromByteOffset: l + part * 16, as: UInt8.self) >> UInt8(shift)) & 3)
                        let high = block.load(fromByteOffset: l + part * 16, as: UInt8.self) & mask != 0
                        y[l] = dl * Float(low - (high ? 0 : 4))
                    }
                    y += 16
                }
                mask <<= 1
            }
        }
    }
}
