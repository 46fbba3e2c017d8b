import Engine
import Foundation
import KVCache
import Presses
import TestSupport
import XCTest

/// Budgets per layer and per head: real, different lengths whose bytes add up, within the total budget.
final class HeadAwarePressTests: TinyModelTestCase {
    func profile() throws -> HeadProfile {
        try HeadCalibration(engine: engine).run(model: "tiny")
    }

    func lengths(_ cache: KVCache) -> [[Int]] { cache.layers.map { $0.heads.map(\.count) } }

    func testProfileIsMeasuredAndRoundTrips() throws {
        let p = try profile()
        XCTAssertEqual(p.layers, 2)
        XCTAssertEqual(p.kvHeads, 2)
        for row in p.echo + p.induction + p.passkey { for v in row { XCTAssertTrue((0 ... 1.0001).contains(v), "\(v) is an attention mass") } }
        let file = NSTemporaryDirectory() + "/profile-\(UUID().uuidString).json"
        try p.json().write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try HeadProfile.load(file), p)
        XCTAssertEqual(try HeadCalibration(engine: engine).run(model: "tiny"), p, "calibration is deterministic")
        try Data("{\"model\": 1}".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try HeadProfile.load(file)) { XCTAssertTrue("\($0)".contains("is not a head profile"), "\($0)") }
        XCTAssertThrowsError(try p.check(layers: 30, kvHeads: 3)) { XCTAssertTrue("\($0)".contains("measured on 2 layers × 2 KV heads"), "\($0)") }
    }

    func testEveryNewPressAtEveryRatioMeetsTheTotalBudgetWithRealLengths() throws {
        let p = try profile()
        let tokens = tokens(120)
        for name in PressRegistry.allocatorNames + PressRegistry.profileNames + ["ems", "adakv(knorm)", "pyramid(expected)"] {
            for ratio in PressTests.ratios {
                let press = try PressRegistry.make(name.contains("(") ? name : name + (PressRegistry.allocatorNames.contains(name) ? "(snapkv:window=8)" : ""),
                                                   ratio: ratio, profile: p)
                let cache = try prefilled(tokens, for: press)
                try press.compress(cache)
                let total = 4 * (120 - Int(120 * ratio))
                let counts = lengths(cache).joined()
                XCTAssertLessThanOrEqual(counts.reduce(0, +), total, "\(name)@\(ratio) stays within the budget")
                XCTAssertGreaterThanOrEqual(counts.reduce(0, +), total - 4, "\(name)@\(ratio) uses its budget")
                XCTAssertEqual(cache.byteCount, counts.reduce(0, +) * Self.rowBytes + cache.positionBytes, "bytes follow the real lengths")
                for layer in cache.layers {
                    for head in layer.heads { XCTAssertEqual(Array(head.positions), Array(head.positions).sorted()) }
                }
                _ = try engine.model.forward(tokens: [5], cache: cache, logits: .lastToken)
            }
        }
    }

    func testAdaKVGivesHeadsDifferentLengthsAboveTheirFloor() throws {
        let tokens = tokens(120)
        let press = try AdaKVPress(scorer: SnapKVPress(compressionRatio: 0.75, window: 8), compressionRatio: 0.75, floor: 0.5)
        let cache = try prefilled(tokens, for: press)
        try press.compress(cache)
        for layer in cache.layers {
            XCTAssertEqual(layer.heads.reduce(0) { $0 + $1.count }, 2 * 30, "the layer's budget is shared")
            for head in layer.heads { XCTAssertGreaterThanOrEqual(head.count, 15, "floor: half of the uniform 30") }
        }
        XCTAssertGreaterThan(Set(lengths(cache).joined()).count, 1, "heads get different lengths")
    }

    func testPyramidBudgetsShrinkWithDepthAndAverageTheRatio() throws {
        let press = try PyramidPress(scorer: KnormPress(compressionRatio: 0.75), compressionRatio: 0.75, beta: 4)
        let budgets = (0 ..< 30).map { press.budget(layer: $0, layers: 30, count: 4096) }
        XCTAssertEqual(budgets, budgets.sorted(by: >))
        XCTAssertEqual(Double(budgets.reduce(0, +)) / 30, 1024, accuracy: 2)
        XCTAssertEqual(budgets.last, 256, "average / beta")
        let cache = try prefilled(tokens(120), for: press)
        try press.compress(cache)
        XCTAssertGreaterThan(cache.layers[0].heads[0].count, cache.layers[1].heads[0].count)
    }

    func testRazorKeepsRetrievalHeadsWholeAndCompensatesTheOthers() throws {
        var p = try profile()
        p.echo = [[0, 0], [0, 0]]
        p.induction = [[0, 0.9], [0, 0]]  // layer 0, head 1 is the retrieval head
        let press = try RazorPress(profile: p, compressionRatio: 0.5, retrievalFraction: 0.25)
        let cache = try prefilled(tokens(100), for: press)
        let dropped = (4 ..< 100 - 28).map { cache.layers[1].heads[0].token($0) }
        try press.compress(cache)
        XCTAssertEqual(cache.layers[0].heads[1].count, 100, "the retrieval head keeps everything")
        // The other three share 200 − 100 = 100 tokens: 34, 33, 33 = 4 sinks + 1 compensation + the most recent.
        XCTAssertEqual(lengths(cache).joined().reduce(0, +), 200)
        let other = cache.layers[1].heads[0]
        XCTAssertEqual(other.count, 33)
        XCTAssertEqual(Array(other.positions.prefix(5)), [0, 1, 2, 3, 71], "sinks, then the compensation token at the last dropped position")
        XCTAssertEqual(Array(other.positions.suffix(28)), Array(72 ..< 100).map(Int32.init))
        let mean = (0 ..< 16).map { i in dropped.reduce(Float(0)) { $0 + $1.key[i] } / Float(dropped.count) }
        for (i, x) in other.token(4).key.enumerated() { XCTAssertEqual(x, mean[i], accuracy: 2e-3, "the mean of the dropped keys") }
        XCTAssertEqual(cache.byteCount, 200 * Self.rowBytes + cache.positionBytes, "the compensation token is counted like any token")
    }

    /// EMS merges what it evicts into the most similar kept token: same count and bytes as eviction, but kept
    /// entries become weighted averages (within the range of the originals).
    func testEMSMergesEvictedTokensIntoKeptOnes() throws {
        let press = try EMSPress(compressionRatio: 0.5, window: 8)
        let cache = try prefilled(tokens(80), for: press)
        let originals = (0 ..< 80).map { cache.layers[0].heads[0].token($0) }
        try press.compress(cache)
        let head = cache.layers[0].heads[0]
        XCTAssertEqual(head.count, 40)
        XCTAssertEqual(cache.byteCount, 4 * 40 * Self.rowBytes + cache.positionBytes,
                       "merged entries cost what kept ones cost, nothing more")
        var changed = 0
        for (k, position) in head.positions.enumerated() {
            let entry = head.token(k), original = originals[Int(position)]
            if zip(entry.key, original.key).contains(where: { abs($0 - $1) > 1e-3 }) { changed += 1 }
            for i in 0 ..< 16 {
                let low = originals.map { $0.key[i] }.min()!, high = originals.map { $0.key[i] }.max()!
                XCTAssertTrue(entry.key[i] >= low - 1e-2 && entry.key[i] <= high + 1e-2, "a weighted average of keys")
            }
        }
        XCTAssertGreaterThan(changed, 0, "evicted tokens were merged into kept ones")
    }

    /// CompressKV: the most retrieving query head of each group chooses for the KV head.
    func testCompressKVLetsTheRetrievalQueryHeadChoose() throws {
        var p = try profile()
        XCTAssertEqual(p.queryRetrieval?.count, 2)
        XCTAssertEqual(p.queryRetrieval?.first?.count, 4, "one score per query head")
        p.queryRetrieval = [[0, 1, 1, 0], [1, 0, 0, 1]]
        let press = try CompressKVPress(profile: p, compressionRatio: 0.5, window: 8)
        let cache = try prefilled(tokens(100), for: press)
        // Query head 1 chooses for KV head 0 of layer 0: its own window attention, pooled.
        try press.compress(cache)
        XCTAssertEqual(lengths(cache).joined().reduce(0, +), 4 * 50)
        for layer in cache.layers { for head in layer.heads { XCTAssertEqual(Array(head.positions.suffix(8)), Array(92 ..< 100).map(Int32.init)) } }
        // Another query head choosing changes what KV head 0 keeps.
        var other = p
        other.queryRetrieval = [[1, 0, 1, 0], [1, 0, 0, 1]]
        let second = try prefilled(tokens(100), for: press)
        try CompressKVPress(profile: other, compressionRatio: 0.5, window: 8).compress(second)
        XCTAssertNotEqual(Array(cache.layers[0].heads[0].positions), Array(second.layers[0].heads[0].positions))
        XCTAssertEqual(Array(cache.layers[1].heads[0].positions), Array(second.layers[1].heads[0].positions), "same chooser, same tokens")
        var old = p
        old.queryRetrieval = nil
        XCTAssertThrowsError(try CompressKVPress(profile: old, compressionRatio: 0.5)) { XCTAssertTrue("\($0)".contains("measure it again"), "\($0)") }
    }

    /// CompressKV's layer budgets: proportional to the eviction error, same total, within floor and prompt.
    func testLayerAdaptiveBudgetsFollowTheEvictionError() throws {
        let b = LayerAdaptivePress.budgets(errors: [0.1, 0.3, 0.0, 0.6], uniform: 100, count: 400, floor: 0.25)
        XCTAssertEqual(b.reduce(0, +), 400)
        XCTAssertEqual(b[2], 25, "no error: the floor")
        XCTAssertTrue(b[3] > b[1] && b[1] > b[0] && b[0] > b[2], "\(b)")
        let capped = LayerAdaptivePress.budgets(errors: [0.0, 1.0], uniform: 100, count: 120, floor: 0.5)
        XCTAssertEqual(capped, [80, 120], "capped at the prompt, the rest to the other layer")
        let press = try PressRegistry.make("layer-adaptive(knorm)", ratio: 0.75)
        let cache = try prefilled(tokens(120), for: press)
        try press.compress(cache)
        XCTAssertEqual(lengths(cache).joined().reduce(0, +), 4 * 30)
        XCTAssertEqual(cache.byteCount, 4 * 30 * Self.rowBytes + cache.positionBytes)
    }

    /// ZipVL's rule: each layer keeps the fewest tokens holding τ of the attention mass, plus the window.
    func testMassKeepsTheAttentionMassAskedFor() throws {
        XCTAssertEqual(MassPress.massCount([0.5, 0.1, 0.3, 0.1], tau: 0.8), 2)
        XCTAssertEqual(MassPress.massCount([0.5, 0.1, 0.3, 0.1], tau: 0.81), 3)
        XCTAssertEqual(MassPress.massCount([0.25, 0.25, 0.25, 0.25], tau: 1), 4)
        var kept: [Int] = []
        for tau in [0.5, 0.9] {
            let press = try MassPress(tau: tau, window: 8)
            let cache = try prefilled(tokens(120), for: press)
            try press.compress(cache)
            let counts = lengths(cache).joined()
            XCTAssertEqual(cache.byteCount, counts.reduce(0, +) * Self.rowBytes + cache.positionBytes)
            for layer in cache.layers {
                XCTAssertEqual(layer.heads[0].count, layer.heads[1].count, "one budget per layer")
                for head in layer.heads { XCTAssertEqual(Array(head.positions.suffix(8)), Array(112 ..< 120).map(Int32.init), "the window stays") }
            }
            kept.append(counts.reduce(0, +))
        }
        XCTAssertLessThan(kept[0], kept[1], "more mass needs more tokens")
        XCTAssertThrowsError(try PressRegistry.make("mass:tau=0", ratio: 0.5))
    }

    func testDuoKeepsTheTopPasskeyHeadsWholeAndStreamsTheRest() throws {
        var p = try profile()
        p.passkey = [[0.1, 0.0], [0.9, 0.2]]
        let press = try DuoPress(profile: p, compressionRatio: 0.5, sinks: 4, window: 16)
        let cache = try prefilled(tokens(100), for: press)
        try press.compress(cache)
        // f·100 + (1 − f)·20 = 50 → f = 0.375 → one of four heads whole (layer 1, head 0).
        XCTAssertEqual(cache.layers[1].heads[0].count, 100)
        XCTAssertEqual(lengths(cache).joined().reduce(0, +), 200)
        let streaming = cache.layers[0].heads[0]
        XCTAssertEqual(Array(streaming.positions.prefix(4)), [0, 1, 2, 3])
        XCTAssertEqual(Int(streaming.positions.last!), 99)
        XCTAssertThrowsError(try PressRegistry.make("duo", ratio: 0.5)) { XCTAssertTrue("\($0)".contains("needs a head profile"), "\($0)") }
        XCTAssertThrowsError(try PressRegistry.make("razor(knorm)", ratio: 0.5, profile: p))
        XCTAssertThrowsError(try PressRegistry.scorer("adakv", ratio: 0.5)) { XCTAssertTrue("\($0)".contains("is not a scorer press"), "\($0)") }
    }
}
