import Engine
import KVCache
import Presses
import TestSupport
import XCTest

/// `bench` decode tests after a depth prompt fill each press's cache once and cut it back after every repetition,
/// so the presses' timed turns follow each other closely. These check when that applies and that the cut-back cache
/// is the one the fill made.
final class BenchmarkOneFillTests: XCTestCase {
    func testOneFillAppliesToSingleSequenceDecodeAfterADepthWithoutDecodingPresses() throws {
        let decode = Benchmark.Test(generatedTokens: 4, depth: 64)
        let streaming = try PressRegistry.make("streaming", ratio: 0.5)
        let bounded = try DecodingPress(scorer: StreamingPress(compressionRatio: 0.5), budget: 32)
        XCTAssertTrue(Benchmark.decodesOverOneFill(decode, presses: [nil, streaming]))
        XCTAssertFalse(Benchmark.decodesOverOneFill(decode, presses: [nil, bounded]), "evictions while decoding")
        XCTAssertFalse(Benchmark.decodesOverOneFill(Benchmark.Test(generatedTokens: 4), presses: [nil]), "no depth")
        XCTAssertFalse(Benchmark.decodesOverOneFill(Benchmark.Test(promptTokens: 8, depth: 64), presses: [nil]))
        XCTAssertFalse(Benchmark.decodesOverOneFill(Benchmark.Test(generatedTokens: 4, depth: 64, sequences: 2),
                                                    presses: [nil]))
    }

    func testRepetitionsShareOneFillAndKeepItsBytes() throws {
        var tiny = TinyModel()
        tiny.heads = 2  // heads of 32 values, a block of the cache types
        tiny.kvHeads = 1
        let engine = try InferenceEngine(modelPath: try tiny.write())
        let presses: [(any KVPress)?] = [nil, try PressRegistry.make("cache-type:k=q4_0,v=q4_0", ratio: 0.5),
                                         try PressRegistry.make("snapkv", ratio: 0.5),
                                         try PressRegistry.make("kivi:bits=4,group=8,residual=16", ratio: 0.5)]
        let test = Benchmark.Test(generatedTokens: 6, depth: 64)
        let results = try Benchmark(engine: engine).run(test, presses: presses, threads: 1, repetitions: 3)
        XCTAssertEqual(results.map(\.samples.count), [3, 3, 3, 3])
        XCTAssertEqual(results.prefix(3).map(\.depthFills), [1, 1, 1], "f16, q4_0 and an eviction come back")
        XCTAssertGreaterThanOrEqual(results[3].depthFills, 1)
        XCTAssertLessThanOrEqual(results[3].depthFills, 4)

        // Bytes are those of a fresh fill.
        for (index, press) in presses.enumerated() {
            let (_, bytes) = try Benchmark(engine: engine).measure(test, press: press, seed: 0)
            XCTAssertEqual(results[index].cacheBytes, bytes, "\(press?.description ?? "none")")
        }
    }
}
