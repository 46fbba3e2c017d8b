import GGUF
import TestSupport
import Tokenizer
import XCTest

/// Byte-level BPE on the tiny model's vocabulary: merges by rank, specials, byte fallback, round trips.
final class BPETokenizerTests: XCTestCase {
    func tokenizer() throws -> Tokenizer {
        try Tokenizer(file: try GGUFFile(path: try TinyModel().write()))
    }

    func testMergesApplyInRankOrder() throws {
        let t = try tokenizer()
        let ids = t.encode("hello world")
        XCTAssertEqual(ids.map { t.vocabulary.tokens[$0] }, ["hello", "Ġworld"])
        XCTAssertEqual(t.decode(ids), "hello world")
    }

    func testSpecialTokenTextBecomesTheToken() throws {
        let t = try tokenizer()
        let start = try XCTUnwrap(t.vocabulary.id(of: "<|im_start|>"))
        let ids = t.encode("<|im_start|>hello")
        XCTAssertEqual(ids.first, start)
        XCTAssertEqual(t.decode(ids), "hello")                            // control tokens render as nothing
        XCTAssertEqual(t.decode(ids, renderSpecial: true), "<|im_start|>hello")
        XCTAssertFalse(t.encode("<|im_start|>", parseSpecial: false).contains(start))
    }

    func testEveryByteSurvivesARoundTrip() throws {
        let t = try tokenizer()
        let text = "naïve café 日本語 🤖 \t\r\n  x"
        XCTAssertEqual(t.decode(t.encode(text)), text)
    }

    func testEndOfGenerationIncludesEOSAndChatEnd() throws {
        let t = try tokenizer()
        XCTAssertTrue(t.endOfGeneration.contains(try XCTUnwrap(t.vocabulary.id(of: "<|im_end|>"))))
        XCTAssertTrue(t.endOfGeneration.contains(try XCTUnwrap(t.vocabulary.id(of: "<|endoftext|>"))))
    }

    func testUnsupportedTokenizerModelIsNamed() throws {
        var w = TinyModel().writer()
        w.add("x", .uint8(0))
        var broken = GGUFWriter()
        for (k, v) in w.metadata where k != GGUFKey.Tokenizer.model { broken.add(k, v) }
        broken.add(GGUFKey.Tokenizer.model, .string("wordpiece"))
        let p = NSTemporaryDirectory() + "/tok-\(UUID().uuidString).gguf"
        try broken.write(to: p)
        XCTAssertThrowsError(try Tokenizer(file: try GGUFFile(path: p))) {
            XCTAssertEqual($0 as? TokenizerError, .unsupportedModel("wordpiece"))
        }
    }
}
