/// KIVI's settings in a cache file (the head's storage and each quantized segment carry them): bits, group,
/// residual, sinks, the range fit as its index in `RangeFit.allCases`, whether rows are rotated, then key bits.
extension KIVISettings {
    func archive(into writer: inout ArchiveWriter) {
        writer.int(bits)
        writer.int(group)
        writer.int(residual)
        writer.int(sinks)
        writer.u8(UInt8(RangeFit.allCases.firstIndex(of: fit)!))
        writer.u8(rotate ? 1 : 0)
        writer.int(keyBits)
    }

    /// The settings read back, each checked as `init` checks them; a value out of range is a corrupted file.
    static func unarchive(from reader: inout ArchiveReader) throws -> KIVISettings {
        let (bits, group, residual, sinks) = (try reader.int(), try reader.int(), try reader.int(), try reader.int())
        let fitIndex = Int(try reader.u8())
        guard RangeFit.allCases.indices.contains(fitIndex) else {
            throw CacheArchiveError.corrupted("kivi range fit \(fitIndex)")
        }
        let rotateFlag = try reader.u8()
        guard rotateFlag <= 1 else { throw CacheArchiveError.corrupted("kivi rotation flag \(rotateFlag)") }
        let keyBits = try reader.int()
        do {
            return try KIVISettings(bits: bits, keyBits: keyBits, group: group, residual: residual, sinks: sinks,
                                    fit: RangeFit.allCases[fitIndex], rotate: rotateFlag == 1)
        } catch {
            throw CacheArchiveError.corrupted("kivi settings: \(error)")
        }
    }
}
