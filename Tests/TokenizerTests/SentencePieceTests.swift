import Tokenizer
import XCTest

/// SentencePiece-style BPE (`llama` tokenizer model) on a hand-made vocabulary with scores.
final class SentencePieceTests: XCTestCase {
    func tokenizer(addSpacePrefix: Bool = true) -> Tokenizer {
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [Vocabulary.TokenType] = [.unknown, .control, .control]
        var scores: [Float] = [0, 0, 0]
        for b in 0 ..< 256 {
            tokens.append("<0x" + String(format2: b) + ">")
            types.append(.byte)
            scores.append(0)
        }
        let pieces: [(String, Float)] = [("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("w", -2), ("r", -2), ("d", -2),
                                         ("he", -3), ("ll", -3), ("hell", -4), ("hello", -5), ("▁hello", -6), ("▁w", -3), ("or", -3)]
        for (p, s) in pieces { tokens.append(p); types.append(.normal); scores.append(s) }
        let vocabulary = Vocabulary(tokens: tokens, types: types, scores: scores, bos: 1, eos: 2, unknown: 0, addBOS: true, addEOS: false)
        return Tokenizer(vocabulary: vocabulary, kind: .sentencePiece(addSpacePrefix: addSpacePrefix))
    }

    func testHighestScoringMergesWinAndSpacePrefixIsAdded() {
        let t = tokenizer()
        let ids = t.encode("hello world")
        XCTAssertEqual(ids.first, 1)  // BOS
        XCTAssertEqual(ids.dropFirst().map { t.vocabulary.tokens[$0] }, ["▁hello", "▁w", "or", "l", "d"])
        XCTAssertEqual(t.decode(Array(ids.dropFirst())), "hello world")
    }

    func testUnknownCharactersFallBackToBytes() {
        let t = tokenizer()
        let ids = t.encode("hé", addSpecial: false)
        XCTAssertEqual(ids.map { t.vocabulary.tokens[$0] }, ["▁", "h", "<0xC3>", "<0xA9>"])
        XCTAssertEqual(t.decode(ids), "hé")
    }

    func testNoSpacePrefixWhenTheModelSaysSo() {
        let t = tokenizer(addSpacePrefix: false)
        XCTAssertEqual(t.encode("hello", addSpecial: false).map { t.vocabulary.tokens[$0] }, ["hello"])
    }
}

extension String {
    init(format2 value: Int) {
        let hex = String(value, radix: 16, uppercase: true)
        self = hex.count == 1 ? "0" + hex : hex
    }
}
