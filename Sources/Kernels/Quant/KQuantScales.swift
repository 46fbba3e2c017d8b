/// The 6-bit scale/min packing shared by Q4_K and Q5_K (12 bytes for 8 sub-blocks).
enum KQuantScales {
    static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
        func b(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
        return ((b(j + 4) & 0x0F) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4))
    }
}
