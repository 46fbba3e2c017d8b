import Engine
import KVCache
import Presses
import TestSupport
import XCTest

/// A cache written to bytes reads back to the same cache: the same bytes held and the same next logits, for f16,
/// llama.cpp cache types, KIVI, GEAR, sparse and evicted caches; a truncated, corrupted or foreign archive is refused.
final class CacheArchiveTests: XCTestCase {
    func engine(width: Int = 128) throws -> InferenceEngine {
        var tiny = TinyModel()
        tiny.width = width
        return try InferenceEngine(modelPath: try tiny.write())
    }

    func filled(_ engine: InferenceEngine, storage: KVStorage = .f16, press: String? = nil) throws -> KVCache {
        let cache = engine.model.makeCache()
        if storage != .f16 { cache.setStorage(storage) }
        let tokens = engine.tokenizer.encode(String(repeating: "hello world of words, tell me a story. ", count: 6))
        let made = try press.map { try PressRegistry.make($0, ratio: 0.5) }
        _ = try engine.generate(prompt: tokens, maxTokens: 0, cache: cache, press: made)
        return cache
    }

    func testEveryArchivableCacheReadsBackToTheSameCache() throws {
        let engine = try engine()
        let cases: [(String, KVCache)] = [
            ("f16", try filled(engine)),
            ("q4_0/q8_0 rotated", try filled(engine, storage: .cacheTypes(key: .q4_0, value: .q8_0, rotated: true))),
            ("kivi 2 bits", try filled(engine, press: "kivi:bits=2,residual=32")),
            ("kivi with sinks, mse", try filled(engine, press: "kivi:bits=2,residual=32,sinks=4,fit=mse")),
            ("kivi rotated", try filled(engine, press: "kivi:bits=3,residual=32,rotate=1")),
            ("kivi keys at 4 bits, values at 2", try filled(engine, press: "kivi:bits=2,keybits=4,residual=32")),
            ("snapkv evicted", try filled(engine, press: "snapkv:window=8")),
            ("kivi after snapkv", try filled(engine, press: "snapkv:window=8+kivi:bits=4,residual=16")),
            ("gear", try filled(engine, press: "gear")),
            ("mustafar sparse", try filled(engine, press: "mustafar")),
            ("gear after snapkv", try filled(engine, press: "snapkv:window=8+gear")),
            ("minicache shared", try filled(engine, press: Self.minicache)),
        ]
        let next = engine.tokenizer.encode("and then", addSpecial: false)
        for (name, original) in cases {
            let bytes = try original.archive()
            let restored = try KVCache(archive: bytes, specs: engine.model.attentionSpecs)
            XCTAssertEqual(restored.byteCount, original.byteCount, name)
            XCTAssertEqual(restored.nextPosition, original.nextPosition, name)
            XCTAssertEqual(restored.layers.map { $0.heads.map(\.positions) }, original.layers.map { $0.heads.map(\.positions) },
                           name)
            let fromOriginal = try engine.model.forward(tokens: next, cache: original, logits: .allTokens)
            let fromRestored = try engine.model.forward(tokens: next, cache: restored, logits: .allTokens)
            XCTAssertEqual(fromRestored, fromOriginal, "\(name): the restored cache attends differently")
        }
    }

    func testBrokenOrForeignArchivesAreRefusedWithAReason() throws {
        for press in ["kivi:bits=4,residual=16", "gear", "mustafar"] {
            try checkRefusals(press: press)
        }
    }

    private func checkRefusals(press: String) throws {
        let engine = try engine()
        let bytes = try filled(engine, press: press).archive()
        let specs = engine.model.attentionSpecs
        func refusal(_ broken: [UInt8]) -> CacheArchiveError? {
            do {
                _ = try KVCache(archive: broken, specs: specs)
                return nil
            } catch {
                return error as? CacheArchiveError
            }
        }
        XCTAssertEqual(refusal(Array(bytes.prefix(5))), .truncated)
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x40
        XCTAssertEqual(refusal(flipped), .corrupted("the checksum does not match"))
        XCTAssertEqual(refusal(Array("not a cache at all, just text".utf8)), .corrupted("not a TokenPress cache"))
        // Every cut of the file is refused (none reads past its end or crashes).
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            XCTAssertNotNil(refusal(Array(bytes.prefix(length))), "a cut at \(length) bytes was read")
        }
        // Another shape of model.
        let other = try self.engine(width: 256)
        XCTAssertThrowsError(try KVCache(archive: bytes, specs: other.model.attentionSpecs)) { error in
            guard case .mismatch? = error as? CacheArchiveError else { return XCTFail("\(error)") }
        }
    }

    /// MiniCache merges from the first layer on, so the two-layer tiny model shares tokens.
    static let minicache = "minicache:start=0,retain=0.25,angle=180"

    /// A changed byte with the checksum made to match again (what a checksum cannot catch): every such file is
    /// refused with a reason, or reads back to a cache that attends without crashing.
    func testEditedArchivesWithAMatchingChecksumAreRefusedOrSafe() throws {
        let engine = try engine()
        let specs = engine.model.attentionSpecs
        let next = engine.tokenizer.encode("and then", addSpecial: false)
        for press in ["kivi:bits=2,residual=16", "gear", "mustafar", Self.minicache, "snapkv:window=8"] {
            let bytes = try filled(engine, press: press).archive()
            var refused = 0
            var read = 0
            for position in stride(from: 12, to: bytes.count - 8, by: max(1, (bytes.count - 20) / 150)) {
                for change: UInt8 in [0xFF, 0x01] {
                    var edited = Array(bytes[..<(bytes.count - 8)])
                    edited[position] = edited[position] == change ? 0 : change
                    withUnsafeBytes(of: CacheArchive.checksum(edited).littleEndian) { edited += $0 }
                    guard let cache = try? KVCache(archive: edited, specs: specs) else {
                        refused += 1
                        continue
                    }
                    read += 1
                    if cache.nextPosition + next.count <= engine.contextLength {
                        _ = try? engine.model.forward(tokens: next, cache: cache, logits: .lastToken)
                    }
                }
            }
            XCTAssertGreaterThan(refused, 0, press)
            XCTAssertGreaterThan(read, 0, "\(press): no edit of a value was read back")
        }
    }

    /// An intact file of another format version is named as such (make it again), not called corrupted.
    func testAnotherFormatVersionIsNamedNotCalledCorrupted() throws {
        let engine = try engine()
        var older = Array(try filled(engine, press: "kivi:bits=2,residual=16").archive().dropLast(8))
        let versionAt = Array("TPKVCACH".utf8).count
        older.replaceSubrange(versionAt ..< versionAt + 4, with: [1, 0, 0, 0])
        withUnsafeBytes(of: CacheArchive.checksum(older).littleEndian) { older += $0 }
        XCTAssertThrowsError(try KVCache(archive: older, specs: engine.model.attentionSpecs)) { error in
            XCTAssertEqual(error as? CacheArchiveError, .otherVersion(found: 1))
            XCTAssertEqual("\(error)", "the cache file has format version 1; this build reads version "
                           + "\(CacheArchive.version): make the cache again with this build")
        }
    }

    func testSharedTokensAreWrittenOnceForBothLayers() throws {
        let engine = try engine()
        let cache = try filled(engine, press: Self.minicache)
        let restored = try KVCache(archive: try cache.archive(), specs: engine.model.attentionSpecs)
        let views = restored.layers.flatMap { $0.heads.flatMap { $0.segments.compactMap { $0 as? SharedTokenView } } }
        XCTAssertFalse(views.isEmpty, "the press shared no tokens")
        XCTAssertEqual(Set(views.map { ObjectIdentifier($0.storage) }).count * 2, views.count,
                       "each storage is read by the two layers of its pair")
    }
}
