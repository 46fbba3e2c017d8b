import Engine
import Foundation
import Kernels
import Models
import XCTest

/// Tiny random-weight models of each architecture beyond the two real ones (qwen2 with Q/K/V biases, qwen3 with
/// Q/K norms and a head dimension that is not width/heads, Llama 3 with `rope_freqs` and the `llama-bpe`
/// pre-tokenizer, Gemma 3 with linear RoPE scaling on its global layer), against llama.cpp's figures for the same
/// files (`scripts/make_tiny_architectures.py`; `Fixtures/architectures/build.txt` names the llama.cpp build).
final class ArchitectureFidelityTests: XCTestCase {
    static let names = ["qwen2", "qwen3", "llama3", "gemma3-scaled", "llama-q5k"]

    struct Position: Decodable {
        let ids: [Int]
        let values: [Float]
    }

    struct Fixture: Decodable {
        let architecture: String
        let prompt_ids: [Int]
        let text_ids: [Int]
        let one_at_a_time: [Position]
        let batched: [Position]
    }

    /// The largest difference between our logits and llama.cpp's top 32 at each position, and how many positions
    /// have llama.cpp's top token as ours.
    struct Agreement {
        var maxDifference: Float = 0
        var sameTopToken = 0
    }

    private func load(_ name: String) throws -> (InferenceEngine, Fixture) {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/architectures/\(name).gguf")
        let engine = try InferenceEngine(modelPath: url.path)
        let data = try ReferenceModel.fixture("architectures/\(name).json")
        return (engine, try JSONDecoder().decode(Fixture.self, from: data))
    }

    private func compare(_ rows: [[Float]], with expected: [Position]) -> Agreement {
        var agreement = Agreement()
        for (row, position) in zip(rows, expected) {
            for (id, value) in zip(position.ids, position.values) {
                agreement.maxDifference = max(agreement.maxDifference, abs(row[id] - value))
            }
            let top = row.indices.max { row[$0] < row[$1] }
            if top == position.ids[0] { agreement.sameTopToken += 1 }
        }
        return agreement
    }

    /// Logits of every prompt position, one token at a time (`decode`) or in one batch.
    private func logits(_ engine: InferenceEngine, _ ids: [Int], oneAtATime: Bool) throws -> [[Float]] {
        let model = engine.model
        let cache = model.makeCache()
        let vocabulary = model.configuration.vocabularySize
        if oneAtATime {
            return try ids.map { try model.forward(tokens: [$0], cache: cache, logits: .lastToken) }
        }
        let flat = try model.forward(tokens: ids, cache: cache, logits: .allTokens)
        return (0 ..< ids.count).map { Array(flat[$0 * vocabulary ..< ($0 + 1) * vocabulary]) }
    }

    func testEachArchitectureLoadsUnderItsOwnName() throws {
        for name in Self.names {
            let (engine, fixture) = try load(name)
            XCTAssertEqual(engine.model.configuration.architecture, fixture.architecture, name)
        }
        XCTAssertEqual(try load("qwen3").0.model.configuration.headDimension, 32, "qwen3's key_length, not 64/4")
    }

    /// The tokenizer (trained merges, the file's pre-tokenizer, special tokens, BOS) splits the fixture text as
    /// llama.cpp does: this tells `llama-bpe` (digits by three, ignore-merges) from `qwen2` (digits one by one).
    func testTokenizationMatchesLlamaCpp() throws {
        let text = try ReferenceModel.fixtureText("tokenizer_text.txt")
        for name in Self.names {
            let (engine, fixture) = try load(name)
            let ids = engine.tokenizer.encode(text)
            if let first = zip(ids, fixture.text_ids).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
                let ours = Array(ids[first.offset...].prefix(6))
                let theirs = Array(fixture.text_ids[first.offset...].prefix(6))
                XCTFail("\(name): first difference at token \(first.offset): ours \(ours), llama.cpp \(theirs)")
            }
            XCTAssertEqual(ids.count, fixture.text_ids.count, name)
        }
    }

    /// Token by token (the decode kernels) and in one batch, on both kernel paths: the 32 largest logits at every
    /// one of 48 positions have the bits of llama.cpp's (AVX2 build) for the same way of running the prompt. (On the
    /// Gemma fixture llama.cpp's own batched and one-at-a-time logits differ at one position; ours differ as its do.)
    func testLogitsHaveLlamaCppsBitsAtEveryPosition() throws {
        for name in Self.names {
            let (engine, fixture) = try load(name)
            for portable in [false, true] {
                let saved = KernelDispatch.forcePortable
                KernelDispatch.forcePortable = portable
                defer { KernelDispatch.forcePortable = saved }
                let kernels = portable ? "portable" : "native"
                let decoded = try logits(engine, fixture.prompt_ids, oneAtATime: true)
                let decode = compare(decoded, with: fixture.one_at_a_time)
                XCTAssertEqual(decode.sameTopToken, fixture.prompt_ids.count, "\(name) \(kernels) decode")
                XCTAssertEqual(decode.maxDifference, 0, "\(name) \(kernels) decode")
                let batched = compare(try logits(engine, fixture.prompt_ids, oneAtATime: false), with: fixture.batched)
                XCTAssertEqual(batched.sameTopToken, fixture.prompt_ids.count, "\(name) \(kernels) batched")
                XCTAssertEqual(batched.maxDifference, 0, "\(name) \(kernels) batched")
            }
        }
    }

    /// Each file's RoPE as llama.cpp reads it: NEOX halves for Qwen, Llama 3's factors, Gemma's global scaling
    /// (its local layers unscaled).
    func testAttentionSpecsCarryEachArchitecturesRoPE() throws {
        for name in Self.names {
            let (engine, _) = try load(name)
            let last = engine.model.attentionSpec(layer: engine.model.configuration.layerCount - 1)
            switch name {
            case "llama3":
                XCTAssertEqual(last.rope.layout, .adjacentPairs)
                XCTAssertEqual(last.rope.frequencyFactors?.count, 8)
                XCTAssertEqual(last.rope.frequencyFactors?.first, 1, "the fastest pair is not slowed")
                XCTAssertEqual(last.rope.frequencyFactors?.last, 8, "the slowest pair is slowed by the factor")
            case "gemma3-scaled":
                XCTAssertEqual(last.rope.frequencyScale, 1.0 / 8)
                XCTAssertEqual(engine.model.attentionSpec(layer: 0).rope.frequencyScale, 1, "local layers unscaled")
            case "qwen2", "qwen3":
                XCTAssertEqual(last.rope.layout, .neoxHalves)
                XCTAssertNil(last.rope.frequencyFactors)
            case "llama-q5k":
                XCTAssertEqual(last.rope.layout, .adjacentPairs)
            default:
                XCTFail("unknown fixture \(name)")
            }
        }
    }
}
