/// KIVI's settings in a cache file (the head's storage and each quantized segment carry them): bits, group,
/// residual, sinks, then the range fit as its index in `RangeFit.allCases`.
extension KIVISettings {
    func archive(into writer: inout ArchiveWriter) {
        writer.int(bits)
        writer.int(group)
        writer.int(residual)
        writer.int(sinks)
        writer.u8(UInt8(RangeFit.allCases.firstIndex(of: fit)!))
    }

    /// The settings read back, each checked as `init` checks them; a value out of range is a corrupted file.
    static func unarchive(from reader: inout ArchiveReader) throws -> KIVISettings {
        let (bits, group, residual, sinks) = (try reader.int(), try reader.int(), try reader.int(), try reader.int())
        let fitIndex = Int(try reader.u8())
        guard RangeFit.allCases.indices.contains(fitIndex) else {
            throw CacheArchiveError.corrupted("kivi range fit \(fitIndex)")
        }
        do {
            return try KIVISettings(bits: bits, group: group, residual: residual, sinks: sinks,
                                    fit: RangeFit.allCases[fitIndex])
        } catch {
            throw CacheArchiveError.corrupted("kivi settings: \(error)")
        }
    }
}
