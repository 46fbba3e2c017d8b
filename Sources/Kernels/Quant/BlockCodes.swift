/// The integer codes of one block of a KV cache format as floats, with the block's scale and minimum, so that
/// value = scale · code + minimum: what a weighted sum over value rows needs to add scale-weighted codes and
/// fold the minimums in once per block (the AVX2 twin, `tp_weighted_sum_q`, reads the same codes).
public enum BlockCodes {
    public static func decode(_ format: any QuantFormat.Type, block: UnsafeRawPointer,
                              into codes: UnsafeMutablePointer<Float>) -> (scale: Float, minimum: Float) {
        let d = loadHalf(block, 0)
        switch format.typeID {
        case BlockQ8_0.typeID:
            for j in 0 ..< 32 { codes[j] = Float(block.load(fromByteOffset: 2 + j, as: Int8.self)) }
            return (d, 0)
        case BlockQ4_0.typeID, BlockQ4_1.typeID:
            let hasMinimum = format.typeID == BlockQ4_1.typeID
            let start = hasMinimum ? 4 : 2
            let offset: Float = hasMinimum ? 0 : 8
            for j in 0 ..< 16 {
                let byte = block.load(fromByteOffset: start + j, as: UInt8.self)
                codes[j] = Float(byte & 0x0F) - offset
                codes[j + 16] = Float(byte >> 4) - offset
            }
            return (d, hasMinimum ? loadHalf(block, 2) : 0)
        case BlockQ5_0.typeID:
            for j in 0 ..< 32 { codes[j] = Float(Q5Layout.value(block, qhOffset: 2, j) - 16) }
            return (d, 0)
        case BlockQ5_1.typeID:
            for j in 0 ..< 32 { codes[j] = Float(Q5Layout.value(block, qhOffset: 4, j)) }
            return (d, loadHalf(block, 2))
        default:
            preconditionFailure("\(format.name) is not a KV cache format")
        }
    }
}
