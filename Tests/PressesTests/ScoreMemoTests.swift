import KVCache
import Presses
import XCTest

/// A sweep compresses copies of one prefilled cache at several ratios and shares each scorer's layer scores among
/// them (`ScoreMemo`): every copy must keep exactly what it keeps without the memo.
final class ScoreMemoTests: TinyModelTestCase {
    static let ratios = [0.25, 0.5, 0.75]

    /// A cache holding `count` tokens with the statistics every one of `presses` needs.
    func base(_ count: Int, for presses: [any KVPress]) throws -> KVCache {
        let cache = engine.model.makeCache()
        let needs = presses.reduce(AttentionNeeds.none) { $0.union($1.needs) }
        cache.statistics = AttentionStatistics(needs: needs, layers: cache.layers.count, kvHeads: cache.kvHeads)
        _ = try engine.model.forward(tokens: tokens(count), cache: cache, logits: .lastToken)
        return cache
    }

    func assertSameTokens(_ a: KVCache, _ b: KVCache, _ what: String) {
        XCTAssertEqual(a.byteCount, b.byteCount, what)
        for (l, (x, y)) in zip(a.layers, b.layers).enumerated() {
            for (h, (p, q)) in zip(x.heads, y.heads).enumerated() {
                XCTAssertEqual(Array(p.positions), Array(q.positions), "\(what) layer \(l) head \(h)")
                XCTAssertEqual(p.keyRows(), q.keyRows(), "\(what) layer \(l) head \(h)")
                XCTAssertEqual(p.valueRows(), q.valueRows(), "\(what) layer \(l) head \(h)")
            }
        }
    }

    func testCopiesCompressedWithSharedScoresKeepWhatEachKeepsAlone() throws {
        let names = ["snapkv", "pyramid", "adakv", "layer-adaptive", "expected", "tova", "h2o", "keyformer", "a2sf",
                     "knorm", "random", "ems"]
        let configurations = try names.flatMap { name in
            try Self.ratios.map { (name: "\(name)@\($0)", press: try PressRegistry.make(name, ratio: $0)) }
        }
        let shared = try base(90, for: configurations.map(\.press))
        let memo = ScoreMemo()
        shared.scoreMemo = memo
        for (name, press) in configurations {
            let withMemo = shared.copy()
            XCTAssertTrue(withMemo.scoreMemo === memo, "copies share the memo")
            try press.compress(withMemo)
            let alone = shared.copy()
            alone.scoreMemo = nil
            try press.compress(alone)
            assertSameTokens(withMemo, alone, name)
        }
        // Eight scorers (snapkv also scores for pyramid, adakv and layer-adaptive), EMS's scores and
        // layer-adaptive's window attention, × 2 layers, each made once; every configuration looks its scores up
        // once per layer, layer-adaptive its window attention too.
        let lookups = configurations.count * 2 + Self.ratios.count * 2
        XCTAssertEqual(memo.computed, 10 * 2)
        XCTAssertEqual(memo.reused, lookups - 10 * 2)
    }

    func testALayerAnotherPressChangedIsScoredAfresh() throws {
        let snapkv = try PressRegistry.make("snapkv", ratio: 0.5)
        let composed = try PressRegistry.make("streaming+snapkv", ratio: 0.5)
        let shared = try base(90, for: [snapkv, composed])
        let memo = ScoreMemo()
        shared.scoreMemo = memo
        try snapkv.compress(shared.copy())
        let withMemo = shared.copy()
        try composed.compress(withMemo)
        let alone = shared.copy()
        alone.scoreMemo = nil
        try composed.compress(alone)
        assertSameTokens(withMemo, alone, "streaming+snapkv after snapkv")
        XCTAssertEqual(memo.reused, 0, "streaming had shrunk every layer before SnapKV scored it")
        XCTAssertEqual(memo.computed, 4)
    }

    func testAViewDoesNotTakeTheMemo() throws {
        let shared = try base(40, for: [])
        shared.scoreMemo = ScoreMemo()
        XCTAssertNil(shared.view(layers: [1]).scoreMemo, "a view renumbers layers, so it must not share scores")
    }
}
