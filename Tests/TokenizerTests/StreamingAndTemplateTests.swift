import Engine
import Sampling
import Tokenizer
import XCTest

final class StreamingAndTemplateTests: XCTestCase {
    func testStreamingDecoderNeverEmitsABrokenSequence() {
        var d = StreamingDecoder()
        let bytes = Array("a€🤖".utf8)  // 1 + 3 + 4 bytes
        var out: [String] = []
        for b in bytes { out.append(d.append([b])) }
        XCTAssertEqual(out, ["a", "", "", "€", "", "", "", "🤖"])
        XCTAssertEqual(d.flush(), "")
        XCTAssertEqual(d.append([0xE2, 0x82]), "")
        XCTAssertEqual(d.flush(), "\u{FFFD}")  // an unfinished sequence at the end becomes U+FFFD
    }

    func testChatMLTemplateWithDefaultSystemPrompt() throws {
        let smol = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
        let template = try ChatTemplate(template: smol)
        XCTAssertEqual(template.render([ChatMessage(role: "user", content: "Hi")]),
                       "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(template.render([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false),
                       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
    }

    func testOtherFamiliesAndUnsupportedTemplates() throws {
        XCTAssertEqual(try ChatTemplate(template: "{{ '<|start_header_id|>' }}").render([ChatMessage(role: "user", content: " Hi ")]),
                       "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        XCTAssertEqual(try ChatTemplate(template: "<start_of_turn>").render([ChatMessage(role: "user", content: "Hi")]),
                       "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n")
        XCTAssertThrowsError(try ChatTemplate(template: "[INST] {{ m }} [/INST]")) {
            guard case .unsupportedChatTemplate = $0 as? TokenizerError else { return XCTFail("\($0)") }
        }
    }

    func testStopStringsAreHeldBackAndCut() {
        var m = StopStringMatcher(stops: ["END"])
        XCTAssertEqual(m.feed("hello E").emit, "hello ")
        XCTAssertEqual(m.feed("N").emit, "")
        let last = m.feed("D and more")
        XCTAssertEqual(last.emit, "")
        XCTAssertTrue(last.stopped)
        var n = StopStringMatcher(stops: ["END"])
        XCTAssertEqual(n.feed("EN").emit, "")
        XCTAssertEqual(n.feed("x").emit, "ENx")
    }
}
