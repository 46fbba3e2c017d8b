import Foundation

/// A cache written to bytes and read back exactly (`KVCache.archive()`, `KVCache(archive:specs:)`): what the server
/// saves of a compressed prompt so a restart does not read and compress it again. Versioned, checksummed (FNV-1a 64),
/// and every count is checked against the bytes left before anything is allocated, so a truncated or corrupted file
/// is refused with a one-line reason rather than read.
public enum CacheArchive {
    static let magic = Array("TPKVCACH".utf8)
    // 2: KIVI settings carry sinks, the range fit and rotation; 3: and key bits.
    public static let version: UInt32 = 3

    /// The FNV-1a 64-bit hash of `bytes`.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}

public enum CacheArchiveError: Error, Equatable, CustomStringConvertible, Sendable {
    case truncated
    case corrupted(String)
    case unsupported(String)
    case mismatch(String)
    /// An intact file in a format this build does not read (written by an older or newer build).
    case otherVersion(found: UInt32)

    public var description: String {
        switch self {
        case .truncated: return "the cache file is truncated"
        case .corrupted(let why): return "the cache file is corrupted: \(why)"
        case .unsupported(let why): return "cannot save this cache: \(why)"
        case .mismatch(let why): return "the cache file is for another model: \(why)"
        case .otherVersion(let found):
            return "the cache file has format version \(found); this build reads version \(CacheArchive.version): "
                + "make the cache again with this build"
        }
    }
}

/// Appends little-endian fields to bytes.
public struct ArchiveWriter {
    public private(set) var bytes: [UInt8] = []
    /// Storage two heads share, by the order it was first written (the second head refers to it by that number).
    var sharedStorage: [ObjectIdentifier: Int] = [:]

    public init() {}

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    public mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    public mutating func int(_ value: Int) { u64(UInt64(bitPattern: Int64(value))) }

    /// A count, then the elements' bytes as they are in memory (little-endian machines only write these files).
    public mutating func array<T: BitwiseCopyable>(_ values: some Collection<T>) {
        int(values.count)
        for value in values { withUnsafeBytes(of: value) { bytes += $0 } }
    }

    public mutating func raw(_ data: some Collection<UInt8>) {
        int(data.count)
        bytes += data
    }
}

/// Reads what `ArchiveWriter` wrote, checking every length against what is left.
public struct ArchiveReader {
    private let bytes: [UInt8]
    public private(set) var offset = 0
    /// Shared storage read so far, and the slots that already read each.
    var sharedTokens: [(tokens: SharedTokens, slots: Set<Int>)] = []

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw CacheArchiveError.truncated }
        defer { offset += count }
        return bytes[offset ..< offset + count]
    }

    public mutating func u8() throws -> UInt8 { try take(1).first! }

    public mutating func u32() throws -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    public mutating func u64() throws -> UInt64 {
        try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    public mutating func int() throws -> Int {
        let value = Int64(bitPattern: try u64())
        guard value >= Int64(Int.min), value <= Int64(Int.max) else {
            throw CacheArchiveError.corrupted("a field overflows")
        }
        return Int(value)
    }

    /// A non-negative count of at most `limit`.
    public mutating func count(limit: Int = Int(Int32.max)) throws -> Int {
        let value = try int()
        guard value >= 0, value <= limit else { throw CacheArchiveError.corrupted("a count of \(value)") }
        return value
    }

    public mutating func array<T: BitwiseCopyable>(of type: T.Type) throws -> ContiguousArray<T> {
        let count = try count()
        let size = MemoryLayout<T>.stride
        guard count <= remaining / size else { throw CacheArchiveError.truncated }
        let slice = try take(count * size)
        var values = ContiguousArray<T>(unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = count
        }
        values.withUnsafeMutableBytes { target in
            slice.withUnsafeBytes { source in target.copyMemory(from: source) }
        }
        return values
    }

    public mutating func raw() throws -> [UInt8] {
        let count = try count()
        return Array(try take(count))
    }
}

/// A segment the archive can write and read back bit for bit.
protocol ArchivableSegment: KVSegment {
    /// The segment's tag in the archive.
    static var archiveKind: UInt8 { get }
    func archive(into writer: inout ArchiveWriter)
    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> Self
}

extension PositionRuns {
    func archive(into writer: inout ArchiveWriter) {
        writer.array(Array(self))
    }

    /// Positions must be non-negative and never descend, as a segment holds them.
    static func unarchive(from reader: inout ArchiveReader) throws -> PositionRuns {
        let positions = try reader.array(of: Int32.self)
        guard positions.first.map({ $0 >= 0 }) ?? true, zip(positions, positions.dropFirst()).allSatisfy({ $0 <= $1 })
        else {
            throw CacheArchiveError.corrupted("positions out of order")
        }
        return PositionRuns(positions)
    }
}
