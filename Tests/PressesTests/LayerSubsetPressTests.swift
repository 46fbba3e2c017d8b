import Engine
import KVCache
import Kernels
import Presses
import TestSupport
import XCTest

/// Presses on some layers only (`LayerSubsetPress`, `PressedLayers`): the chosen layers are pressed exactly as
/// they would be in the whole cache, the others keep every token, and statistics, budgets and profiles follow the
/// model's layer numbers.
final class LayerSubsetPressTests: XCTestCase {
    var engine: InferenceEngine!

    override func setUpWithError() throws {
        var tiny = TinyModel()
        tiny.layers = 4
        tiny.context = 1024
        engine = try InferenceEngine(modelPath: try tiny.write())
    }

    private func prefilled(_ count: Int, for press: any KVPress) throws -> KVCache {
        let cache = engine.model.makeCache()
        press.prepare(cache)
        let text = String(repeating: "hello world, tiny model of four layers ", count: count)
        let tokens = Array(engine.tokenizer.encode(text).prefix(count))
        _ = try engine.model.forward(tokens: tokens, cache: cache, logits: .lastToken)
        return cache
    }

    private func positions(_ cache: KVCache, layer: Int) -> [[Int32]] {
        cache.layers[layer].heads.map { Array($0.positions) }
    }

    func testChosenLayersArePressedAsInTheWholeCacheAndTheOthersKeepEverything() throws {
        for name in ["snapkv", "h2o", "tova", "expected", "knorm"] {
            let press = try PressRegistry.make(name, ratio: 0.5)
            let whole = try prefilled(200, for: press)
            try press.compress(whole)
            let subset = LayerSubsetPress(press, layers: [1, 3], label: "test")
            let partial = try prefilled(200, for: subset)
            let before = partial.byteCount
            try subset.compress(partial)
            for layer in [1, 3] {
                XCTAssertEqual(positions(partial, layer: layer), positions(whole, layer: layer), "\(name) layer \(layer)")
            }
            for layer in [0, 2] {
                XCTAssertTrue(partial.layers[layer].heads.allSatisfy { $0.count == 200 }, "\(name) layer \(layer) kept all")
            }
            let pressedBytes = [1, 3].reduce(0) { $0 + whole.layers[$1].byteCount }
            let keptBytes = [0, 2].reduce(0) { $0 + partial.layers[$1].byteCount }
            XCTAssertEqual(partial.byteCount, pressedBytes + keptBytes, name)
            XCTAssertLessThan(partial.byteCount, before, name)
            XCTAssertEqual(subset.description, "\(press.description) (test)")
        }
    }

    func testStatisticsOfTheViewComeBackToTheModelsLayers() throws {
        let press = try PressRegistry.make("h2o", ratio: 0.5)
        let subset = LayerSubsetPress(press, layers: [2], label: "layer 2")
        let cache = try prefilled(120, for: subset)
        let untouched = cache.statistics!.accumulated(.attention(decay: 1), layer: 0, head: 1, count: 120)
        try subset.compress(cache)
        let statistics = try XCTUnwrap(cache.statistics)
        XCTAssertEqual(statistics.accumulated(.attention(decay: 1), layer: 0, head: 1, count: 120), untouched)
        // Layer 2's sums now follow its 60 kept tokens, as after pressing the whole cache.
        let whole = try prefilled(120, for: press)
        try press.compress(whole)
        let expected = whole.statistics!.accumulated(.attention(decay: 1), layer: 2, head: 0, count: 60)
        XCTAssertEqual(statistics.accumulated(.attention(decay: 1), layer: 2, head: 0, count: 60), expected)
    }

    func testBudgetsAndProfilesAreSharedAmongTheChosenLayersOnly() throws {
        // Pyramid shares one total among the layers it sees: two layers at the same average ratio.
        let pyramid = try PressRegistry.make("pyramid(snapkv)", ratio: 0.5)
        let cache = try prefilled(200, for: pyramid)
        try LayerSubsetPress(pyramid, layers: [0, 3], label: "ends").compress(cache)
        let kept = [0, 3].reduce(0) { total, layer in total + cache.layers[layer].heads.reduce(0) { $0 + $1.count } }
        XCTAssertEqual(kept, 2 * 2 * 100, "half of the chosen layers' tokens")
        XCTAssertGreaterThan(cache.layers[0].heads[0].count, cache.layers[3].heads[0].count, "deeper keeps fewer")
        XCTAssertTrue([1, 2].allSatisfy { cache.layers[$0].heads.allSatisfy { $0.count == 200 } })

        // Razor reads the profile rows of the model's layers 1 and 3: only layer 3 head 1 retrieves.
        var scores = [[Float]](repeating: [0, 0], count: 4)
        scores[3][1] = 1
        let profile = HeadProfile(model: "tiny", echo: scores, induction: scores, passkey: scores)
        let razor = try RazorPress(profile: profile, compressionRatio: 0.5, retrievalFraction: 0.25)
        let viewed = try prefilled(200, for: razor)
        try LayerSubsetPress(razor, layers: [1, 3], label: "odd").compress(viewed)
        XCTAssertEqual(viewed.layers[3].heads[1].count, 200, "the retrieval head keeps everything")
        XCTAssertLessThan(viewed.layers[3].heads[0].count, 200)
        XCTAssertLessThan(viewed.layers[1].heads[1].count, 200)
        XCTAssertEqual(viewed.layers[2].heads[1].count, 200, "an unchosen layer keeps everything")
    }

    func testDecodingPressStaysOnItsLayers() throws {
        let decoding = try DecodingPress(scorer: try PressRegistry.scorer("streaming", ratio: 0), budget: 64, interval: 8)
        let subset = LayerSubsetPress(decoding, layers: [0], label: "first")
        let cache = try prefilled(100, for: subset)
        try subset.compress(cache)
        for step in 1 ... 40 {
            _ = try engine.model.forward(tokens: [5], cache: cache, logits: .lastToken)
            try subset.compressDuringDecoding(cache, step: step)
        }
        XCTAssertTrue(cache.layers[0].heads.allSatisfy { $0.count <= 64 + 8 })
        XCTAssertTrue(cache.layers[1].heads.allSatisfy { $0.count == 140 })
    }

    func testPressedLayersParseAndChoose() throws {
        let rope = RoPE(dimensions: 16, base: 10_000)
        func spec(_ window: Int?) -> AttentionSpec {
            AttentionSpec(headDimension: 16, queryHeads: 4, kvHeads: 2, scale: 0.25, rope: rope, slidingWindow: window)
        }
        let gemmaLike = [spec(512), spec(512), spec(nil), spec(512), spec(nil)]
        XCTAssertEqual(try PressedLayers(parsing: "global").layers(specs: gemmaLike), [2, 4])
        XCTAssertEqual(try PressedLayers(parsing: "all").layers(specs: gemmaLike), [0, 1, 2, 3, 4])
        XCTAssertEqual(try PressedLayers(parsing: "3, 1,3").layers(specs: gemmaLike), [1, 3])
        XCTAssertEqual(try PressedLayers.global.layers(specs: [spec(nil), spec(nil)]), [0, 1], "no windows: every layer")
        XCTAssertEqual(try PressedLayers.global.layers(specs: [spec(8)]), [0], "only windows: every layer")
        for bad in ["", "x", "-1", "1,,2", "global,1"] {
            XCTAssertThrowsError(try PressedLayers(parsing: bad), bad)
        }
        XCTAssertThrowsError(try PressedLayers(parsing: "5").layers(specs: gemmaLike)) {
            XCTAssertTrue("\($0)".contains("layer 5 does not exist"), "\($0)")
        }
        let press = try PressRegistry.make("knorm", ratio: 0.5)
        XCTAssertTrue(try PressedLayers.global.restrict(press, specs: [spec(nil)]) is KnormPress, "no wrapper needed")
        let wrapped = try PressedLayers.global.restrict(press, specs: gemmaLike) as? LayerSubsetPress
        XCTAssertEqual(wrapped?.layers, [2, 4])
        XCTAssertEqual(wrapped?.description, "knorm@0.5 (global layers)")
    }
}
