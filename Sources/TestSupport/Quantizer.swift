import GGUF

/// Simple reference quantizers (round to nearest), enough to build test weights in the common formats.
public enum Quantizer {
    public static func encode(_ values: [Float], as type: GGMLType) -> [UInt8] {
        var out: [UInt8] = []
        func half(_ v: Float) { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        switch type {
        case .f32:
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .f16:
            values.forEach(half)
        case .q8_0:
            for b in stride(from: 0, to: values.count, by: 32) {
                let block = values[b ..< b + 32]
                let d = (block.map(abs).max() ?? 0) / 127
                half(d)
                for v in block { out.append(UInt8(bitPattern: Int8(clamping: Int((d == 0 ? 0 : v / d).rounded())))) }
            }
        case .q4_1:
            for b in stride(from: 0, to: values.count, by: 32) {
                let block = Array(values[b ..< b + 32])
                let low = block.min() ?? 0, high = block.max() ?? 0
                let d = (high - low) / 15
                half(d)
                half(low)
                let q = block.map { UInt8(clamping: Int((d == 0 ? 0 : ($0 - low) / d).rounded())) }
                for j in 0 ..< 16 { out.append(min(q[j], 15) | min(q[j + 16], 15) << 4) }
            }
        default:
            preconditionFailure("test quantizer does not encode \(type.name)")
        }
        return out
    }
}
