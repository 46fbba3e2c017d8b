import Engine
import Kernels
import Foundation
import Sampling
import XCTest

/// TokenPress against llama.cpp's own outputs on the default model (fixtures from scripts/llamacpp_reference.py).
final class LlamaCppFidelityTests: XCTestCase {
    struct TokensFixture: Decodable { let ids: [Int] }
    struct GreedyFixture: Decodable {
        struct Case: Decodable { let prompt: String; let prompt_ids: [Int]; let generated: [Int] }
        let max_tokens: Int
        let cases: [Case]
    }
    struct PerplexityFixture: Decodable { let ctx: Int; let tokens: Int; let ppl: Double }

    func testTokenizationMatchesLlamaCppOnVariedText() throws {
        let engine = try ReferenceModel.engine()
        let expected = try JSONDecoder().decode(TokensFixture.self, from: try ReferenceModel.fixture("tokens.json")).ids
        let text = try ReferenceModel.fixtureText("tokenizer_text.txt")
        let ids = engine.tokenizer.encode(text)
        XCTAssertGreaterThanOrEqual(expected.count, 2000)
        if let first = zip(ids, expected).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
            XCTFail("first difference at token \(first.offset): ours \(Array(ids[first.offset...].prefix(6))), llama.cpp \(Array(expected[first.offset...].prefix(6)))")
        }
        XCTAssertEqual(ids.count, expected.count)
    }

    func testDecodingRoundTripsTheFixtureText() throws {
        let engine = try ReferenceModel.engine()
        let text = try ReferenceModel.fixtureText("tokenizer_text.txt")
        XCTAssertEqual(engine.tokenizer.decode(engine.tokenizer.encode(text), renderSpecial: true), text)
    }

    func testGreedyGenerationMatchesLlamaCppTokenForToken() throws {
        let engine = try ReferenceModel.engine()
        let fixture = try JSONDecoder().decode(GreedyFixture.self, from: try ReferenceModel.fixture("greedy.json"))
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 3)
        for c in fixture.cases {
            XCTAssertEqual(engine.tokenizer.encode(c.prompt), c.prompt_ids, "prompt tokens differ for \(c.prompt.debugDescription)")
            let result = try engine.generate(prompt: c.prompt_ids, maxTokens: fixture.max_tokens, sampling: .greedy)
            XCTAssertEqual(result.tokens, c.generated, "greedy tokens differ for \(c.prompt.debugDescription)")
        }
    }

    func testPerplexityWithinHalfAPercentOfLlamaCpp() throws {
        let engine = try ReferenceModel.engine()
        let fixture = try JSONDecoder().decode(PerplexityFixture.self, from: try ReferenceModel.fixture("perplexity.json"))
        let tokens = Array(engine.tokenizer.encode(try ReferenceModel.fixtureText("perplexity_text.txt")).prefix(fixture.ctx))
        let result = try PerplexityEvaluator(engine: engine).evaluate(tokens: tokens, context: fixture.ctx)
        XCTAssertEqual(result.tokens, fixture.tokens)
        XCTAssertEqual(result.windows, 1)
        let relative = abs(result.ppl - fixture.ppl) / fixture.ppl
        XCTAssertLessThan(relative, 0.005, "ppl \(result.ppl) vs llama.cpp \(fixture.ppl)")
    }
}

/// The portable Swift kernels (what a CPU without AVX2 runs) match llama.cpp too.
final class PortablePathFidelityTests: XCTestCase {
    func testPortableKernelsReproduceLlamaCppGreedyTokens() throws {
        let engine = try ReferenceModel.engine()
        let fixture = try JSONDecoder().decode(LlamaCppFidelityTests.GreedyFixture.self, from: try ReferenceModel.fixture("greedy.json"))
        let saved = KernelDispatch.forcePortable
        KernelDispatch.forcePortable = true
        defer { KernelDispatch.forcePortable = saved }
        let c = fixture.cases[1]
        XCTAssertEqual(try engine.generate(prompt: c.prompt_ids, maxTokens: 24, sampling: .greedy).tokens, Array(c.generated.prefix(24)))
    }
}
