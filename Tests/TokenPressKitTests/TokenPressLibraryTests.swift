import Foundation
import TokenPressKit
import XCTest

/// The library on the real default model: what the README and the Examples package promise a dependent.
final class TokenPressLibraryTests: XCTestCase {
    static func model() async throws -> TokenPressModel {
        try await TokenPressModel.load(ProcessInfo.processInfo.environment["TOKENPRESS_MODEL"]) { print($0) }
    }

    func testStreamedTextIsTheGeneratedText() async throws {
        let model = try await Self.model()
        let prompt = "The capital of France is"
        let whole = try await model.generate(prompt, maxTokens: 12)
        var pieces = ""
        var finished: GenerationResult?
        for try await event in model.stream(prompt, maxTokens: 12) {
            switch event {
            case .text(let piece): pieces += piece
            case .finished(let result): finished = result
            }
        }
        XCTAssertEqual(pieces, whole.text)
        XCTAssertEqual(finished?.tokens, whole.tokens)
        XCTAssertEqual(whole.tokens.count, 12)
    }

    func testSessionReusesTheConversationSoFar() async throws {
        let model = try await Self.model()
        let session = try await model.session()
        let first = try await session.send("What is 2 + 2? Reply with the number only.", maxTokens: 64)
        XCTAssertEqual(first.stopReason, .endOfGeneration, "a reply cut short is rebuilt, not reused: \(first.text)")
        let reusedFirst = await session.reusedTokens
        XCTAssertEqual(reusedFirst, 0)
        let second = try await session.stream("And 3 + 3?", maxTokens: 24).text()
        // The second prompt starts with the first turn, whose tokens were in the cache already.
        let reusedSecond = await session.reusedTokens
        XCTAssertGreaterThan(reusedSecond, first.tokens.count)
        let messages = await session.messages
        XCTAssertEqual(messages.map(\.role), ["user", "assistant", "user", "assistant"])
        XCTAssertEqual(messages.last?.content, second)
        await session.reset()
        let afterReset = await session.messages
        XCTAssertTrue(afterReset.isEmpty)
    }

    func testDocumentIsCompressedOnceAndAnswersEachQuestionAlone() async throws {
        let model = try await Self.model()
        let filler = String(repeating: "The grass is green and the sky is blue. ", count: 30)
        let context = filler + "The secret code is 4817. " + filler
        let document = try await model.compress(context: context, press: PressRegistry.make("snapkv@0.5", ratio: 0.5))
        XCTAssertLessThan(document.statistics.cacheBytesAfterPrompt, document.statistics.denseCacheBytesAfterPrompt * 6 / 10)
        let question = "What is the secret code?"
        let first = try await document.ask(question, maxTokens: 16)
        _ = try await document.ask("What colour is the sky?", maxTokens: 16)
        // The second question did not see the first: asking again gives the same tokens.
        let again = try await document.ask(question, maxTokens: 16)
        XCTAssertEqual(first.tokens, again.tokens)
        XCTAssertFalse(first.text.isEmpty)
    }

    func testQuantizedCachesFromTheLibrary() async throws {
        let model = try await Self.model()
        let filler = String(repeating: "The grass is green and the sky is blue. ", count: 30)
        let context = filler + "The secret code is 4817. " + filler
        // A precision press on a document: every token kept at 4 bits.
        let kivi = KIVIPress(settings: try KIVISettings(bits: 4, group: 32, residual: 32))
        let document = try await model.compress(context: context, press: kivi)
        XCTAssertLessThan(document.statistics.cacheBytesAfterPrompt, document.statistics.denseCacheBytesAfterPrompt * 45 / 100)
        let answer = try await document.ask("What is the secret code?", maxTokens: 16)
        XCTAssertTrue(answer.text.contains("4817"), answer.text)
        // Keys one bit above values, group 64, no f16 window: fewer bytes than 4 bits for both, the code still found.
        let keyed = try KIVISettings(bits: 3, keyBits: 4, group: 64, residual: 0, sinks: 4, fit: .meanSquare, rotate: true)
        let smaller = try await model.compress(context: context, press: KIVIPress(settings: keyed))
        XCTAssertLessThan(smaller.statistics.cacheBytesAfterPrompt, document.statistics.cacheBytesAfterPrompt * 90 / 100)
        let keyedAnswer = try await smaller.ask("What is the secret code?", maxTokens: 16)
        XCTAssertTrue(keyedAnswer.text.contains("4817"), keyedAnswer.text)
        // llama.cpp's cache types for every new cache of the model.
        try await model.useCacheStorage(.cacheTypes(key: .q8_0, value: .q8_0, rotated: true))
        let result = try await model.generate(context + "The secret code is", maxTokens: 4)
        XCTAssertEqual(result.statistics.bitsPerElementAfterPrompt, 8.5, accuracy: 0.01, "q8_0 blocks; positions are one run a head")
        XCTAssertEqual(result.statistics.layerBytesAfterPrompt.count, 30)
        await XCTAssertThrowsErrorAsync(try await model.useCacheStorage(.kivi(try KIVISettings(group: 48))))
    }

    func testAMemoryTargetFromTheLibrary() async throws {
        let model = try await Self.model()
        let filler = String(repeating: "The grass is green and the sky is blue. ", count: 40)
        let context = filler + "The secret code is 4817. " + filler
        // Rough rates on short windows of other text (the profile's own are measured once per model file).
        let text = String(repeating: "A quiet river runs past the old mill, and the miller counts his sacks of grain. ", count: 60)
        let sensitivity = try await model.measureSensitivity(on: CalibrationText(text: text, description: "test text"),
                                                             promptTokens: 200, continuationTokens: 8, windows: 1)
        let press = try await model.targetPress(.share(0.25), sensitivity: sensitivity)
        let document = try await model.compress(context: context, press: press)
        XCTAssertLessThanOrEqual(document.statistics.cacheBytesAfterPrompt, document.statistics.denseCacheBytesAfterPrompt / 4)
        let plan = try XCTUnwrap(press.plans.last)
        XCTAssertEqual(plan.measuredBytes, document.statistics.cacheBytesAfterPrompt)
        XCTAssertTrue(plan.table.contains("| 29 |"), "a row per layer")
        let answer = try await document.ask("What is the secret code?", maxTokens: 16)
        XCTAssertFalse(answer.text.isEmpty)
    }

    func testCancellingAStreamStopsTheGeneration() async throws {
        let model = try await Self.model()
        let session = try await model.session()
        let stream = session.stream("Count from 1 to 300, separated by commas.", maxTokens: 400)
        let consumer = Task {
            var pieces = 0
            for try await event in stream {
                if case .text = event { pieces += 1 }
                if pieces == 3 { break }
            }
            return pieces
        }
        let pieces = try await consumer.value
        XCTAssertEqual(pieces, 3)
        // The reply recorded once the generation stopped is a few tokens long, not hundreds.
        let messages = await session.messages
        let reply = try XCTUnwrap(messages.last)
        XCTAssertEqual(reply.role, "assistant")
        XCTAssertLessThan(reply.content.count, 60, reply.content)
        // The model is free again.
        let next = try await model.generate("Hello", maxTokens: 2)
        XCTAssertEqual(next.tokens.count, 2)
    }

    /// A turn that cannot fit the context is refused with its own error and leaves the conversation as it was.
    func testTooLongATurnIsRefusedAndChangesNothing() async throws {
        let model = try await Self.model()
        let session = try await model.session()
        do {
            _ = try await session.send("Hello", maxTokens: model.contextLength)
            XCTFail("a reply as long as the context was accepted")
        } catch EngineError.conversationTooLong(let tokens, let context) {
            XCTAssertGreaterThan(tokens, context)
        }
        let messages = await session.messages
        XCTAssertTrue(messages.isEmpty)
        let reply = try await session.send("Hello", maxTokens: 2)
        XCTAssertEqual(reply.tokens.count, 2)
    }
}

/// XCTAssertThrowsError for an async expression.
func XCTAssertThrowsErrorAsync<T>(_ expression: @autoclosure () async throws -> T, file: StaticString = #filePath,
                                  line: UInt = #line) async {
    do {
        _ = try await expression()
        XCTFail("expected an error", file: file, line: line)
    } catch {}
}
