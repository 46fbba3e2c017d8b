import Engine
import Foundation
import Kernels
import Sampling
import XCTest

/// TokenPress against llama.cpp on Gemma 3 270M Q4_K_M (fixtures from scripts/llamacpp_reference.py with
/// --one-token-at-a-time, AVX2 build; see Fixtures/gemma3/build.txt).
final class Gemma3FidelityTests: XCTestCase {
    struct LogitsFixture: Decodable {
        struct Position: Decodable { let ids: [Int]; let values: [Float] }
        let prompt: String
        let prompt_ids: [Int]
        let positions: [Position]
    }

    func testTokenizationMatchesLlamaCpp() throws {
        let engine = try ReferenceModel.gemma3()
        let fixture = try ReferenceModel.fixture("gemma3/tokens.json")
        let expected = try JSONDecoder().decode(LlamaCppFidelityTests.TokensFixture.self, from: fixture).ids
        let ids = engine.tokenizer.encode(try ReferenceModel.fixtureText("tokenizer_text.txt"))
        XCTAssertGreaterThanOrEqual(expected.count, 2000)
        if let first = zip(ids, expected).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
            let ours = Array(ids[first.offset...].prefix(6))
            let theirs = Array(expected[first.offset...].prefix(6))
            XCTFail("first difference at token \(first.offset): ours \(ours), llama.cpp \(theirs)")
        }
        XCTAssertEqual(ids.count, expected.count)
    }

    /// Every token run through the model alone (the decode kernels, which llama.cpp also used for the fixtures):
    /// the largest logits at every position of a prompt have llama.cpp's bits.
    func testDecodeLogitsHaveLlamaCppsBitsAtEveryPosition() throws {
        let engine = try ReferenceModel.gemma3()
        let fixture = try JSONDecoder().decode(LogitsFixture.self, from: try ReferenceModel.fixture("gemma3/logits.json"))
        XCTAssertEqual(engine.tokenizer.encode(fixture.prompt), fixture.prompt_ids)
        let model = engine.model
        let cache = model.makeCache()
        for (position, expected) in fixture.positions.enumerated() {
            let row = try model.forward(tokens: [fixture.prompt_ids[position]], cache: cache, logits: .lastToken)
            let ours = expected.ids.map { row[$0].bitPattern }
            XCTAssertEqual(ours, expected.values.map(\.bitPattern), "logits at position \(position)")
        }
    }

    /// Greedy continuations of five prompts, each fed one token at a time as the fixtures were, token for token.
    func testGreedyDecodingMatchesLlamaCppTokenForToken() throws {
        let engine = try ReferenceModel.gemma3()
        let data = try ReferenceModel.fixture("gemma3/greedy.json")
        let fixture = try JSONDecoder().decode(LlamaCppFidelityTests.GreedyFixture.self, from: data)
        XCTAssertEqual(fixture.cases.count, 5)
        for c in fixture.cases {
            XCTAssertEqual(engine.tokenizer.encode(c.prompt), c.prompt_ids, "prompt tokens differ for \(c.prompt.debugDescription)")
            XCTAssertEqual(try greedy(engine, prompt: c.prompt_ids, count: fixture.max_tokens), c.generated,
                           "greedy tokens differ for \(c.prompt.debugDescription)")
        }
    }

    /// The batched prompt path (tinyBLAS summation order in attention) on the same prompts: the first tokens agree.
    func testBatchedPrefillAgreesWithTheDecodePathOnTheFirstTokens() throws {
        let engine = try ReferenceModel.gemma3()
        let data = try ReferenceModel.fixture("gemma3/greedy.json")
        let fixture = try JSONDecoder().decode(LlamaCppFidelityTests.GreedyFixture.self, from: data)
        for c in fixture.cases {
            let result = try engine.generate(prompt: c.prompt_ids, maxTokens: 8, sampling: .greedy)
            XCTAssertEqual(result.tokens, Array(c.generated.prefix(8)), "first tokens for \(c.prompt.debugDescription)")
        }
    }

    /// The portable kernels (what a CPU without AVX2 runs) give llama.cpp's greedy tokens too.
    func testPortableKernelsReproduceLlamaCppGreedyTokens() throws {
        let engine = try ReferenceModel.gemma3()
        let data = try ReferenceModel.fixture("gemma3/greedy.json")
        let fixture = try JSONDecoder().decode(LlamaCppFidelityTests.GreedyFixture.self, from: data)
        let saved = KernelDispatch.forcePortable
        KernelDispatch.forcePortable = true
        defer { KernelDispatch.forcePortable = saved }
        let c = fixture.cases[1]
        XCTAssertEqual(try greedy(engine, prompt: c.prompt_ids, count: 12), Array(c.generated.prefix(12)))
    }

    private func greedy(_ engine: InferenceEngine, prompt: [Int], count: Int) throws -> [Int] {
        let model = engine.model
        let cache = model.makeCache()
        var logits: [Float] = []
        for token in prompt { logits = try model.forward(tokens: [token], cache: cache, logits: .lastToken) }
        var out: [Int] = []
        while out.count < count {
            let next = logits.indices.max { logits[$0] < logits[$1] }!
            if engine.tokenizer.endOfGeneration.contains(next) { break }
            out.append(next)
            logits = try model.forward(tokens: [next], cache: cache, logits: .lastToken)
        }
        return out
    }

    func testPerplexityWithinHalfAPercentOfLlamaCpp() throws {
        let engine = try ReferenceModel.gemma3()
        let data = try ReferenceModel.fixture("gemma3/perplexity.json")
        let fixture = try JSONDecoder().decode(LlamaCppFidelityTests.PerplexityFixture.self, from: data)
        let text = try ReferenceModel.fixtureText("perplexity_text.txt")
        let tokens = Array(engine.tokenizer.encode(text).prefix(fixture.ctx))
        let result = try PerplexityEvaluator(engine: engine).evaluate(tokens: tokens, context: fixture.ctx)
        XCTAssertEqual(result.tokens, fixture.tokens)
        let relative = abs(result.ppl - fixture.ppl) / fixture.ppl
        XCTAssertLessThan(relative, 0.005, "ppl \(result.ppl) vs llama.cpp \(fixture.ppl)")
    }
}
