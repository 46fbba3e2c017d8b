import Tokenizer
import XCTest

/// Pre-tokenizer splits, hand-checked against the regular expressions llama.cpp documents for each.
final class PreTokenizerTests: XCTestCase {
    func testGPT2() throws {
        let pre = try PreTokenizer(name: "gpt2")
        XCTAssertEqual(pre.split("Hello world's  test\n\n123 ok!?"),
                       ["Hello", " world", "'s", " ", " test", "\n", "\n", "123", " ok", "!?"])
        XCTAssertEqual(pre.split("a   b"), ["a", "  ", " b"])  // \s+(?!\S) leaves one space for the word
        XCTAssertEqual(pre.split("end  "), ["end", "  "])
    }

    func testSmolLMIsolatesEveryDigit() throws {
        let pre = try PreTokenizer(name: "smollm")
        XCTAssertEqual(pre.split("abc 123def"), ["abc", " ", "1", "2", "3", "def"])
        XCTAssertEqual(pre.split("x٣y"), ["x", "٣", "y"])  // Arabic-Indic digit is \p{N}
    }

    func testLlama3GroupsDigitsByThreeAndQwen2ByOne() throws {
        XCTAssertEqual(try PreTokenizer(name: "llama-bpe").split("1234567 I'M"), ["123", "456", "7", " I", "'M"])
        XCTAssertEqual(try PreTokenizer(name: "qwen2").split("2024"), ["2", "0", "2", "4"])
        XCTAssertEqual(try PreTokenizer(name: "llama-bpe").split("x.\n\ny"), ["x", ".\n\n", "y"])
    }

    func testUnsupportedNameIsNamed() {
        XCTAssertThrowsError(try PreTokenizer(name: "mystery")) {
            XCTAssertEqual(($0 as? TokenizerError)?.description.hasPrefix("unsupported pre-tokenizer 'mystery'"), true)
        }
    }
}
