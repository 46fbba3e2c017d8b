/// GPT-2's reversible map from bytes to printable code points: byte-level BPE vocabularies spell tokens with it.
enum ByteLevelEncoding {
    static let byteToScalar: [Unicode.Scalar] = {
        var printable = Array(0x21 ... 0x7E) + Array(0xA1 ... 0xAC) + Array(0xAE ... 0xFF)
        var scalars = [Unicode.Scalar](repeating: " ", count: 256)
        var next = 256
        for b in 0 ..< 256 {
            if printable.contains(b) {
                scalars[b] = Unicode.Scalar(UInt32(b))!
            } else {
                scalars[b] = Unicode.Scalar(UInt32(next))!
                next += 1
            }
        }
        printable.removeAll()
        return scalars
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    /// The byte-level spelling of each UTF-8 byte, as one-scalar strings.
    static let byteStrings: [String] = byteToScalar.map { String(Character($0)) }

    /// Decodes a token's byte-level spelling back to raw bytes (unknown scalars pass through as UTF-8).
    static func bytes(of token: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in token.unicodeScalars {
            if let b = scalarToByte[s.value] { out.append(b) } else { out.append(contentsOf: Array(String(s).utf8)) }
        }
        return out
    }
}
