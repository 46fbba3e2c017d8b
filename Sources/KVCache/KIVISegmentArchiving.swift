import Kernels

/// A KIVI segment in a cache file: its settings, positions, key group starts, then codes, scales and zero points of
/// keys and values; read back only if every array's length matches the tokens and groups it claims.
extension KIVISegment: ArchivableSegment {
    static var archiveKind: UInt8 { 3 }

    func archive(into writer: inout ArchiveWriter) {
        settings.archive(into: &writer)
        positions.archive(into: &writer)
        keyGroupStarts.archive(into: &writer)
        writer.array(keyCodes)
        writer.array(keyScales)
        writer.array(keyZeros)
        writer.array(valueCodes)
        writer.array(valueScales)
        writer.array(valueZeros)
    }

    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> KIVISegment {
        let settings = try KIVISettings.unarchive(from: &reader)
        do {
            try settings.check(dimension: headDimension)
        } catch {
            throw CacheArchiveError.corrupted("kivi settings: \(error)")
        }
        let segment = KIVISegment(headDimension: headDimension, settings: settings)
        segment.positions = try PositionRuns.unarchive(from: &reader)
        segment.keyGroupStarts = try PositionRuns.unarchive(from: &reader)
        segment.keyCodes = try reader.array(of: UInt8.self)
        segment.keyScales = try reader.array(of: UInt16.self)
        segment.keyZeros = try reader.array(of: UInt16.self)
        segment.valueCodes = try reader.array(of: UInt8.self)
        segment.valueScales = try reader.array(of: UInt16.self)
        segment.valueZeros = try reader.array(of: UInt16.self)
        let tokens = segment.positions.count
        let groups = segment.keyGroupStarts.count
        let consistent = segment.keyCodes.count == tokens * segment.keyRowBytes
            && segment.valueCodes.count == tokens * segment.valueRowBytes
            && segment.keyScales.count == groups * headDimension && segment.keyZeros.count == groups * headDimension
            && segment.valueScales.count == tokens * segment.valueGroups
            && segment.valueZeros.count == tokens * segment.valueGroups
            && segment.keyGroupStarts.allSatisfy { $0 >= 0 && Int($0) < max(tokens, 1) }
        guard consistent else { throw CacheArchiveError.corrupted("a kivi segment's codes do not match its tokens") }
        return segment
    }
}
