import Engine
import Foundation
import KVCache

/// A cached prompt saved to disk (`POST /slots/{id}?action=save`) and read back after a restart
/// (`?action=restore`): the model it belongs to, the tokens, how it was compressed, the logits after it, and the
/// cache as a `CacheArchive`. Versioned and checksummed; a file of another model, a truncated or corrupted one is
/// refused with a 400 naming why. Files live in the `--slot-save-path` folder, under names that cannot leave it.
enum SlotFile {
    static let magic = Array("TPSLOT\u{0}\u{0}".utf8)
    static let version: UInt32 = 1

    /// The model a file belongs to: files of another shape, vocabulary or architecture are refused.
    static func modelKey(_ engine: InferenceEngine) -> String {
        let c = engine.model.configuration
        return "\(c.architecture):\(c.layerCount)x\(c.kvHeadCount)x\(c.headDimension):vocab\(c.vocabularySize):"
            + "width\(c.embeddingLength):\(URL(fileURLWithPath: engine.file.path).lastPathComponent)"
    }

    static func encode(_ entry: PrefixCache.Entry, engine: InferenceEngine) throws -> [UInt8] {
        var writer = ArchiveWriter()
        writer.raw(Array(modelKey(engine).utf8))
        writer.raw(Array(entry.compression.utf8))
        writer.u8(entry.extendable ? 1 : 0)
        writer.int(entry.reserve)
        writer.array(entry.tokens.map { Int32($0) })
        writer.array(entry.logits)
        do {
            writer.raw(try entry.cache.archive())
        } catch let error as CacheArchiveError {
            throw APIError.invalid("\(error)", param: "id")
        }
        var bytes = magic
        withUnsafeBytes(of: version.littleEndian) { bytes += $0 }
        bytes += writer.bytes
        withUnsafeBytes(of: CacheArchive.checksum(bytes).littleEndian) { bytes += $0 }
        return bytes
    }

    static func decode(_ bytes: [UInt8], engine: InferenceEngine) throws -> PrefixCache.Entry {
        func refuse(_ why: String) -> APIError { .invalid("cannot restore the slot file: \(why)", param: "filename") }
        let head = magic.count + 4
        guard bytes.count >= head + 8 else { throw refuse("it is truncated") }
        guard Array(bytes[..<magic.count]) == magic else { throw refuse("it is not a TokenPress slot file") }
        var trailer = ArchiveReader(Array(bytes[(bytes.count - 8)...]))
        guard (try? trailer.u64()) == CacheArchive.checksum(bytes[..<(bytes.count - 8)]) else {
            throw refuse("its checksum does not match (truncated or corrupted)")
        }
        var versionReader = ArchiveReader(Array(bytes[magic.count ..< head]))
        let found = try versionReader.u32()
        guard found == version else { throw refuse("version \(found); this build reads version \(version)") }
        var reader = ArchiveReader(Array(bytes[head ..< (bytes.count - 8)]))
        do {
            let model = String(decoding: try reader.raw(), as: UTF8.self)
            guard model == modelKey(engine) else { throw refuse("it was saved with another model (\(model))") }
            let compression = String(decoding: try reader.raw(), as: UTF8.self)
            let extendable = try reader.u8() == 1
            let reserve = try reader.count()
            let tokens = try reader.array(of: Int32.self).map(Int.init)
            let vocabulary = engine.model.configuration.vocabularySize
            guard !tokens.isEmpty, tokens.allSatisfy({ (0 ..< vocabulary).contains($0) }) else {
                throw refuse("its tokens are outside the vocabulary")
            }
            let logits = Array(try reader.array(of: Float.self))
            guard logits.count == vocabulary else { throw refuse("its logits are not one row of the vocabulary") }
            let cache = try KVCache(archive: try reader.raw(), specs: engine.model.attentionSpecs)
            guard cache.nextPosition == tokens.count || !extendable else { throw refuse("its cache and tokens differ") }
            return PrefixCache.Entry(compression: compression, tokens: tokens, extendable: extendable, cache: cache,
                                     logits: logits, reserve: reserve, lastUse: 0)
        } catch let error as CacheArchiveError {
            throw refuse(error.description)
        }
    }

    /// The file `name` in `folder`: letters, digits, '.', '_' and '-' only, not starting with '.', so a name can
    /// never reach outside the folder.
    static func url(_ name: String, in folder: String) throws -> URL {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= 200, !name.hasPrefix("."), name.allSatisfy(allowed.contains) else {
            let why = "'filename' may hold letters, digits, '.', '_' and '-' only (not first '.'), got '\(name)'"
            throw APIError.invalid(why, param: "filename")
        }
        let base = URL(fileURLWithPath: folder, isDirectory: true).standardizedFileURL
        let url = base.appendingPathComponent(name).standardizedFileURL
        guard url.deletingLastPathComponent().path == base.path else {
            throw APIError.invalid("'filename' must name a file in the slot folder", param: "filename")
        }
        return url
    }
}
