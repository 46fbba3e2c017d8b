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
