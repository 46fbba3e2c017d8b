import Engine
import Kernels
import GGUF
import KVCache
import Models
import Sampling
import TestSupport
import XCTest

/// The llama graph on tiny random models built with the GGUF writer.
final class TinyLlamaTests: XCTestCase {
    func engine(_ configure: (inout TinyModel) -> Void = { _ in }) throws -> InferenceEngine {
        var tiny = TinyModel()
        configure(&tiny)
        return try InferenceEngine(modelPath: try tiny.write())
    }

    func testConfigurationIsReadFromMetadata() throws {
        let c = try engine().model.configuration
        XCTAssertEqual(c.layerCount, 2)
        XCTAssertEqual(c.headCount, 4)
        XCTAssertEqual(c.kvHeadCount, 2)
        XCTAssertEqual(c.headDimension, 16)
        XCTAssertEqual(c.vocabularySize, TinyModel().vocabularySize)
        XCTAssertEqual(c.contextLength, 256)
    }

    func testBatchedPrefillMatchesTokenByToken() throws {
        let e = try engine()
        let tokens = e.tokenizer.encode("hello world, hello again")
        let batched = try e.model.forward(tokens: tokens, cache: e.model.makeCache(), logits: .allTokens)
        let cache = e.model.makeCache()
        let vocabulary = e.model.configuration.vocabularySize
        for (i, t) in tokens.enumerated() {
            let row = try e.model.forward(tokens: [t], cache: cache, logits: .lastToken)
            let expected = Array(batched[i * vocabulary ..< (i + 1) * vocabulary])
            // Batched and single-token attention add in different lane orders (as llama.cpp): tiny differences only.
            for (a, b) in zip(row, expected) { XCTAssertEqual(a, b, accuracy: 1e-3) }
        }
    }

    func testScalarKernelsGiveTheSameLogitsAsVectorizedOnes() throws {
        for type in [GGMLType.q8_0, .q4_1, .f32] {
            let e = try engine { $0.weightType = type }
            let llama = try XCTUnwrap(e.model as? Llama)
            let tokens = e.tokenizer.encode("hello world")
            let fast = try llama.forward(tokens: tokens, cache: llama.makeCache(), logits: .allTokens)
            llama.useScalarKernels = true
            let slow = try llama.forward(tokens: tokens, cache: llama.makeCache(), logits: .allTokens)
            XCTAssertEqual(fast.map(\.bitPattern), slow.map(\.bitPattern), type.name)
            XCTAssertTrue(fast.allSatisfy(\.isFinite))
        }
    }

    func testUntiedOutputWeightIsUsed() throws {
        let tied = try engine()
        let untied = try engine { $0.tiedEmbeddings = false }
        let tokens = tied.tokenizer.encode("hello")
        let a = try tied.model.forward(tokens: tokens, cache: tied.model.makeCache(), logits: .lastToken)
        let b = try untied.model.forward(tokens: tokens, cache: untied.model.makeCache(), logits: .lastToken)
        XCTAssertNotEqual(a, b)
    }

    func testCacheHoldsEveryTokenPerHeadWithExactBytes() throws {
        let e = try engine()
        let cache = e.model.makeCache()
        let tokens = e.tokenizer.encode("hello world")
        _ = try e.model.forward(tokens: tokens, cache: cache, logits: .lastToken)
        XCTAssertEqual(cache.nextPosition, tokens.count)
        for layer in cache.layers {
            XCTAssertEqual(layer.heads.count, 2)
            for head in layer.heads {
                XCTAssertEqual(head.count, tokens.count)
                XCTAssertEqual(Array(head.positions), (0 ..< tokens.count).map(Int32.init))
            }
        }
        // keys + values in f16 (2 × 16 dims × 2 bytes) + a 4-byte position, per token, head and layer.
        XCTAssertEqual(cache.byteCount, 2 * 2 * tokens.count * (2 * 16 * 2 + 4))
        XCTAssertEqual(cache.denseF16ByteCount(tokens: tokens.count), 2 * 2 * tokens.count * 2 * 16 * 2)
    }

    func testAttentionSeesOnlyWhatAHeadRetained() throws {
        // Dropping tokens from every head must change the next logits, and keeping all must not.
        let e = try engine()
        let tokens = e.tokenizer.encode("hello world hello world")
        let full = e.model.makeCache()
        _ = try e.model.forward(tokens: tokens, cache: full, logits: .lastToken)
        let reference = try e.model.forward(tokens: [5], cache: full, logits: .lastToken)
        let pruned = e.model.makeCache()
        _ = try e.model.forward(tokens: tokens, cache: pruned, logits: .lastToken)
        for layer in pruned.layers { for head in layer.heads { head.retain(indices: [0, head.count - 1]) } }
        XCTAssertEqual(pruned.layers[0].heads[0].count, 2)
        let prunedLogits = try e.model.forward(tokens: [5], cache: pruned, logits: .lastToken)
        XCTAssertNotEqual(prunedLogits, reference)
        XCTAssertLessThan(pruned.byteCount, full.byteCount)
    }

    func testGenerationIsDeterministicAndRespectsLimits() throws {
        let e = try engine()
        let prompt = e.tokenizer.encode("hello")
        let a = try e.generate(prompt: prompt, maxTokens: 12, sampling: .greedy)
        let b = try e.generate(prompt: prompt, maxTokens: 12, sampling: .greedy)
        XCTAssertEqual(a.tokens, b.tokens)
        XCTAssertLessThanOrEqual(a.tokens.count, 12)
        var params = SamplingParameters()
        params.seed = 9
        let c = try e.generate(prompt: prompt, maxTokens: 12, sampling: params)
        let d = try e.generate(prompt: prompt, maxTokens: 12, sampling: params)
        XCTAssertEqual(c.tokens, d.tokens)
        var streamed = ""
        let s = try e.generate(prompt: prompt, maxTokens: 12, sampling: .greedy) { streamed += $0 }
        XCTAssertEqual(streamed, s.text)
        XCTAssertEqual(try e.generate(prompt: prompt, maxTokens: 0).tokens, [])
    }

    func testContextAndInputErrors() throws {
        let e = try engine { $0.context = 32 }
        let long = Array(repeating: 5, count: 40)
        XCTAssertThrowsError(try e.generate(prompt: long, maxTokens: 1)) {
            XCTAssertEqual($0 as? EngineError, .promptTooLong(tokens: 40, context: 32))
        }
        XCTAssertThrowsError(try e.generate(prompt: [5], maxTokens: -1)) {
            guard case .invalidParameter = $0 as? EngineError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try e.generate(prompt: [], maxTokens: 1)) { XCTAssertEqual($0 as? EngineError, .emptyPrompt) }
        XCTAssertThrowsError(try e.model.forward(tokens: [999_999], cache: e.model.makeCache(), logits: .lastToken))
        // Generation stops at the context limit instead of overflowing it.
        let r = try e.generate(prompt: Array(repeating: 5, count: 30), maxTokens: 100)
        XCTAssertLessThanOrEqual(30 + r.tokens.count, 32)
    }

    func testUnsupportedArchitectureAndBrokenWeightsAreNamed() throws {
        let mamba = try TinyModel().writer()
        var w = GGUFWriter()
        for (k, v) in mamba.metadata { w.add(k, k == GGUFKey.architecture ? .string("mamba") : v) }
        let p = NSTemporaryDirectory() + "/mamba-\(UUID().uuidString).gguf"
        try w.write(to: p)
        XCTAssertThrowsError(try InferenceEngine(modelPath: p)) {
            XCTAssertEqual(($0 as? ModelError)?.description, "unsupported model architecture 'mamba' (supported: gemma3, llama, qwen2, qwen3)")
        }

        // A gemma3 file without Gemma's extra norms is refused with the first missing tensor named.
        var gemma = TinyModel()
        gemma.architecture = "gemma3"
        XCTAssertThrowsError(try InferenceEngine(modelPath: try gemma.write())) {
            XCTAssertTrue("\($0)".contains("blk.0.attn_q_norm.weight"), "\($0)")
        }

        var missing = GGUFWriter()
        let full = TinyModel().writer()
        for (k, v) in full.metadata { missing.add(k, v) }
        for t in full.tensors where t.name != GGUFTensorName.feedForwardUp(1) {
            missing.addTensor(t.name, dimensions: t.dimensions, typeID: t.typeID, data: t.data)
        }
        let q = NSTemporaryDirectory() + "/missing-\(UUID().uuidString).gguf"
        try missing.write(to: q)
        XCTAssertThrowsError(try InferenceEngine(modelPath: q)) {
            XCTAssertEqual($0 as? GGUFError, .missingTensor("blk.1.ffn_up.weight"))
        }
    }
}

/// The whole forward pass on the AVX2 kernels and on the portable ones: bit-identical logits.
final class KernelPathTests: XCTestCase {
    func testPortableAndAVX2PathsGiveIdenticalLogits() throws {
        try XCTSkipUnless(KernelDispatch.cpuHasAVX2, "this CPU has no AVX2: only the portable path exists")
        let e = try InferenceEngine(modelPath: try TinyModel().write())
        let tokens = e.tokenizer.encode("hello world hello")
        func run() throws -> [Float] {
            let cache = e.model.makeCache()
            let prefill = try e.model.forward(tokens: tokens, cache: cache, logits: .allTokens)
            let decode = try e.model.forward(tokens: [7], cache: cache, logits: .lastToken)
            return prefill + decode
        }
        let saved = KernelDispatch.forcePortable
        defer { KernelDispatch.forcePortable = saved }
        KernelDispatch.forcePortable = false
        let fast = try run()
        KernelDispatch.forcePortable = true
        let slow = try run()
        XCTAssertEqual(fast.map(\.bitPattern), slow.map(\.bitPattern))
    }
}
