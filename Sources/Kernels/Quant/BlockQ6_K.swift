/// Q6_K: 256 values in 16 sub-blocks of 16; int8 scales, 4 low + 2 high bits per quant, offset 32.
/// Layout: ql[128], qh[64], scales[16] (int8), f16 d.
public enum BlockQ6_K: QuantFormat {
    public static let typeID: UInt32 = 14
    public static let name = "Q6_K"
    public static let blockElements = 256
    public static let blockBytes = 210

    public static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        let d = loadHalf(block, 208)
        for half in 0 ..< 2 {
            let ql = block + half * 64, qh = block + 128 + half * 32
            let sc = block + 192 + half * 8
            let y = output + half * 128
            for l in 0 ..< 32 {
                let scaleIndex = l / 16
                let low0 = ql.load(fromByteOffset: l, as: UInt8.self), low1 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                let high = qh.load(fromByteOffset: l, as: UInt8.self)
                let q1 = Int((low0 & 0x0F) | ((high >> 0) & 3) << 4) - 32
                let q2 = Int((low1 & 0x0F) | ((high >> 2) & 3) << 4) - 32
                let q3 = Int((low0 >> 4) | ((high >> 4) & 3) << 4) - 32
                let q4 = Int((low1 >> 4) | ((high >> 6) & 3) << 4) - 32
                func scale(_ k: Int) -> Float { Float(sc.load(fromByteOffset: scaleIndex + k, as: Int8.self)) }
                y[l] = d * scale(0) * Float(q1)
                y[l + 32] = d * scale(2) * Float(q2)
                y[l + 64] = d * scale(4) * Float(q3)
                y[l + 96] = d * scale(6) * Float(q4)
            }
        }
    }
}
