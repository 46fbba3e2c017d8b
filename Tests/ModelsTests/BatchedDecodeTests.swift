import Engine
import KVCache
import Models
import Presses
import TestSupport
import XCTest

/// Several sequences' decode steps run through the weights together (the server's continuous batching) give each
/// sequence the logits it gets alone, and a prompt's cache cut back to its start is that start's cache.
final class BatchedDecodeTests: XCTestCase {
    func testABatchOfSequencesGetsTheBitsOfEachDecodedAlone() throws {
        for scalar in [false, true] {
            var tiny = TinyModel()
            tiny.weightType = .q4_1
            let engine = try InferenceEngine(modelPath: try tiny.write())
            let model = try XCTUnwrap(engine.model as? Llama)
            model.useScalarKernels = scalar
            let prompts = ["hello world", "tell me", "hello hello hello world of words", "x"].map {
                engine.tokenizer.encode($0)
            }
            func prefilled() throws -> [KVCache] {
                try prompts.map { prompt in
                    let cache = model.makeCache()
                    _ = try model.forward(tokens: prompt, cache: cache, logits: .lastToken)
                    return cache
                }
            }
            let alone = try prefilled()
            let together = try prefilled()
            let vocabulary = model.configuration.vocabularySize
            var next = [5, 17, 200, 3]
            for step in 0 ..< 6 {
                let batched = try model.forward(batch: next, caches: together)
                XCTAssertEqual(batched.count, next.count * vocabulary)
                for (row, cache) in alone.enumerated() {
                    let single = try model.forward(tokens: [next[row]], cache: cache, logits: .lastToken)
                    let slice = Array(batched[row * vocabulary ..< (row + 1) * vocabulary])
                    XCTAssertEqual(slice, single, "sequence \(row), step \(step), scalar \(scalar)")
                    XCTAssertEqual(together[row].nextPosition, cache.nextPosition)
                }
                next = next.map { ($0 * 31 + 7) % vocabulary }
            }
        }
    }

    func testGeneratingTogetherGivesEachCacheItsGenerationAlone() throws {
        var tiny = TinyModel()
        tiny.width = 128  // heads of 32 values: llama.cpp's blocks and KIVI's grouped kernels apply
        let engine = try InferenceEngine(modelPath: try tiny.write())
        let context = engine.tokenizer.encode("hello world, tell me a story of words and more words of the world")
        let prompt = context + engine.tokenizer.encode(" tell me", addSpecial: false)
        let base = engine.makeCache()
        _ = try engine.prefill(context, cache: base)
        // Quantized caches beside f16 ones: their rows take GroupedDecodeAttention, the others one parallel loop.
        let presses: [(any KVPress)?] = [nil, StreamingPress(compressionRatio: 0.5, sinks: 2),
                                         KnormPress(compressionRatio: 0.3), RandomPress(compressionRatio: 0.7),
                                         KIVIPress(settings: try KIVISettings(bits: 4, group: 8, residual: 4)),
                                         CacheTypePress(keyType: .q8_0, valueType: .q4_0)]
        func caches() throws -> [KVCache] {
            var caches = try presses.map { press in
                let cache = base.copy()
                try press?.compress(cache)
                return cache
            }
            let whole = engine.makeCache()  // holds the whole prompt: its last token runs again
            _ = try engine.prefill(prompt, cache: whole)
            caches.append(whole)
            return caches
        }
        // One sequence stops early on its text; the others run to the limit or the end of generation.
        let stopAt = { (text: String) in text.count >= 9 }
        let together = try engine.generateTogether(prompt: prompt, maxTokens: 12, caches: try caches(), until: stopAt)
        XCTAssertEqual(together.count, presses.count + 1)
        for (index, cache) in try caches().enumerated() {
            let alone = try engine.generate(prompt: prompt, maxTokens: 12, sampling: .greedy, cache: cache, until: stopAt)
            XCTAssertEqual(together[index].tokens, alone.tokens, "cache \(index)")
            XCTAssertEqual(together[index].text, alone.text, "cache \(index)")
            XCTAssertEqual(together[index].stopReason, alone.stopReason, "cache \(index)")
        }
        XCTAssertThrowsError(try engine.generateTogether(prompt: [], maxTokens: 4, caches: try caches()))
        XCTAssertThrowsError(try engine.generateTogether(prompt: prompt, maxTokens: -1, caches: try caches()))
        let tooLong = Array(repeating: prompt[0], count: engine.contextLength + 1)
        XCTAssertThrowsError(try engine.generateTogether(prompt: tooLong, maxTokens: 4, caches: try caches()))
        XCTAssertEqual(try engine.generateTogether(prompt: prompt, maxTokens: 4, caches: []).count, 0)
    }

    func testACacheCutBackToItsStartIsThatStartsCache() throws {
        let engine = try InferenceEngine(modelPath: try TinyModel().write())
        let model = engine.model
        let tokens = engine.tokenizer.encode("hello world, tell me a story of words")
        let long = model.makeCache()
        _ = try model.forward(tokens: tokens, cache: long, logits: .lastToken)
        let cut = 7
        XCTAssertTrue(long.truncate(toPositions: cut))
        XCTAssertEqual(long.nextPosition, cut)
        let short = model.makeCache()
        _ = try model.forward(tokens: Array(tokens[..<cut]), cache: short, logits: .lastToken)
        XCTAssertEqual(long.byteCount, short.byteCount)
        let next = Array(tokens[cut...])
        let fromCut = try model.forward(tokens: next, cache: long, logits: .allTokens)
        let fromShort = try model.forward(tokens: next, cache: short, logits: .allTokens)
        XCTAssertEqual(fromCut, fromShort)
        XCTAssertFalse(long.truncate(toPositions: long.nextPosition + 1), "a cache cannot grow by cutting")
    }
}
