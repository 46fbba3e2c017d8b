// A head's segments and storage written to an archive and read back (see `CacheArchive`).

extension HeadCache {
    private static let archivable: [any ArchivableSegment.Type] = [F16Segment.self, CacheTypeSegment.self,
                                                                    KIVISegment.self, GEARSegment.self,
                                                                    SparseSegment.self, SharedTokenView.self]

    func archive(into writer: inout ArchiveWriter) throws {
        Self.archive(storage, into: &writer)
        writer.int(segments.count)
        writer.int(segments.firstIndex { $0 === tail }!)
        for segment in segments {
            guard let archivable = segment as? any ArchivableSegment else {
                throw CacheArchiveError.unsupported("it holds \(type(of: segment)) storage")
            }
            writer.u8(type(of: archivable).archiveKind)
            archivable.archive(into: &writer)
        }
    }

    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> HeadCache {
        let storage = try unarchiveStorage(from: &reader, headDimension: headDimension)
        let count = try reader.count(limit: 1 << 20)
        let tailIndex = try reader.count(limit: max(0, count - 1))
        var segments: [any KVSegment] = []
        for _ in 0 ..< count {
            let kind = try reader.u8()
            guard let type = archivable.first(where: { $0.archiveKind == kind }) else {
                throw CacheArchiveError.corrupted("segment kind \(kind)")
            }
            segments.append(try type.unarchive(from: &reader, headDimension: headDimension))
        }
        guard count > 0, let tail = segments[tailIndex] as? any AppendableSegment else {
            throw CacheArchiveError.corrupted("a head without a segment to append to")
        }
        return HeadCache(headDimension: headDimension, storage: storage, segments: segments, tail: tail)
    }

    private static func archive(_ storage: KVStorage, into writer: inout ArchiveWriter) {
        switch storage {
        case .cacheTypes(let key, let value, let rotated):
            writer.u8(0)
            writer.u8(UInt8(CacheType.allCases.firstIndex(of: key)!))
            writer.u8(UInt8(CacheType.allCases.firstIndex(of: value)!))
            writer.u8(rotated ? 1 : 0)
        case .kivi(let settings):
            writer.u8(1)
            settings.archive(into: &writer)
        }
    }

    private static func unarchiveStorage(from reader: inout ArchiveReader, headDimension: Int) throws -> KVStorage {
        let storage: KVStorage
        switch try reader.u8() {
        case 0:
            let types = CacheType.allCases
            let key = Int(try reader.u8())
            let value = Int(try reader.u8())
            guard types.indices.contains(key), types.indices.contains(value) else {
                throw CacheArchiveError.corrupted("cache types \(key), \(value)")
            }
            storage = .cacheTypes(key: types[key], value: types[value], rotated: try reader.u8() == 1)
        case 1:
            storage = .kivi(try KIVISettings.unarchive(from: &reader))
        case let kind:
            throw CacheArchiveError.corrupted("storage kind \(kind)")
        }
        do {
            try storage.check(dimension: headDimension)
        } catch {
            throw CacheArchiveError.corrupted("\(storage) for heads of \(headDimension)")
        }
        return storage
    }
}
