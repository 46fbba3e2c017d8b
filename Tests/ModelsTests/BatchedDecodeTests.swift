import Engine
import KVCache
import Models
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
