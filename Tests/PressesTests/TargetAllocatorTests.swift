import Engine
import Foundation
import KVCache
import Presses
import TestSupport
import XCTest

/// The target allocator: memory targets never exceeded, floors kept, plans deterministic, bytes as predicted,
/// KL bounds met by the prediction, bad targets refused in one line.
final class TargetAllocatorTests: TinyModelTestCase {
    /// Sensitivities of the tiny model, measured once for the whole class (small windows: a test, not a report).
    nonisolated(unsafe) static var measured: HeadSensitivity?

    func sensitivity() throws -> HeadSensitivity {
        if let measured = Self.measured { return measured }
        var calibration = SensitivityCalibration(engine: engine)
        calibration.promptTokens = 160
        calibration.continuationTokens = 24
        calibration.windows = 2
        let text = String(repeating: "the quick brown fox jumps over the lazy dog while tiny models hum along. ", count: 80)
        let result = try calibration.run(text: text, describing: "test text")
        Self.measured = result
        return result
    }

    func compressed(_ tokens: [Int], _ target: CompressionTarget, reserve: Int = 0) throws -> (KVCache, AllocationPlan) {
        let press = try TargetPress(target: target, sensitivity: try sensitivity(), reserveTokens: reserve)
        let cache = try prefilled(tokens, for: press)
        try press.compress(cache)
        return (cache, try XCTUnwrap(press.plans.last))
    }

    func testSensitivitiesAreMeasuredForEveryHeadAndOptionAndRoundTripInTheProfile() throws {
        let s = try sensitivity()
        XCTAssertEqual(s.options, ["8", "4", "3", "2", "evict"])
        XCTAssertEqual(s.layers, 2)
        XCTAssertEqual(s.kvHeads, 2)
        XCTAssertEqual(s.group, 16, "the largest group dividing the tiny model's 16-value heads")
        XCTAssertTrue(s.scale.isFinite && s.scale > 0)
        for rates in s.rates.joined() {
            XCTAssertTrue(rates.allSatisfy { $0.isFinite && $0 >= 0 }, "\(rates)")
            XCTAssertGreaterThan(rates[3], rates[0], "2 bits cost more than 8 bits per unit of mass: \(rates)")
        }
        var profile = try HeadCalibration(engine: engine).run(model: "tiny")
        profile.sensitivity = s
        let file = NSTemporaryDirectory() + "/profile-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try profile.json().write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try HeadProfile.load(file), profile)
        var broken = profile
        broken.sensitivity?.rates[1].removeLast()
        try broken.json().write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try HeadProfile.load(file)) { XCTAssertTrue("\($0)".contains("sensitivities do not fit"), "\($0)") }
    }

    func testMemoryTargetsAreNeverExceededOverManyPromptsAndTargets() throws {
        for length in [300, 517, 800, 1100] {
            let tokens = tokens(length)
            let dense = engine.model.makeCache().denseF16ByteCount(tokens: length)
            for share in [0.2, 0.3, 0.45, 0.6, 0.8] {
                for target in [CompressionTarget.share(share), .bytes(Int(Double(dense) * share))] {
                    let (cache, plan) = try compressed(tokens, target)
                    let budget = try XCTUnwrap(target.budget(dense: dense))
                    XCTAssertLessThanOrEqual(cache.byteCount, budget, "\(length) tokens, \(target)")
                    XCTAssertEqual(plan.measuredBytes, cache.byteCount)
                    XCTAssertGreaterThanOrEqual(plan.estimatedBytes, cache.byteCount, "the plan's bytes are an upper bound")
                    // The bound counts positions as a list (4 bytes a token, 36 more per segment); runs cost less.
                    let slack = 4 * 2 * cache.retainedTokens + 2 * 40 * 6 * 4
                    XCTAssertLessThanOrEqual(plan.estimatedBytes - cache.byteCount, slack, "and a close one")
                    try assertFloorsKept(cache)
                    _ = try engine.model.forward(tokens: [5], cache: cache, logits: .lastToken)
                }
            }
        }
    }

    /// Every head keeps its first 4 and last 32 positions, at f16.
    func assertFloorsKept(_ cache: KVCache, file: StaticString = #filePath, line: UInt = #line) throws {
        for layer in cache.layers {
            for head in layer.heads {
                let f16 = head.segments.compactMap { $0 as? F16Segment }.flatMap { Array($0.positions) }
                let all = head.segments.flatMap { Array($0.positions) }.sorted()
                let floors = Array(all.prefix(4)) + Array(all.suffix(32))
                XCTAssertTrue(Set(floors).isSubset(of: Set(f16)), "floors at f16", file: file, line: line)
                XCTAssertGreaterThanOrEqual(head.count, min(36, all.count), "no head is emptied", file: file, line: line)
            }
        }
    }

    func testPlansAreDeterministic() throws {
        let tokens = tokens(300)
        let (a, planA) = try compressed(tokens, .share(0.25))
        let (b, planB) = try compressed(tokens, .share(0.25))
        XCTAssertEqual(planA.heads, planB.heads)
        XCTAssertEqual(a.byteCount, b.byteCount)
        for (la, lb) in zip(a.layers, b.layers) {
            for (ha, hb) in zip(la.heads, lb.heads) { XCTAssertEqual(Array(ha.positions), Array(hb.positions)) }
        }
    }

    func testSmallerTargetsSpendFewerBytesAndPredictMoreKL() throws {
        let tokens = tokens(800)
        var previous: AllocationPlan?
        for share in [0.8, 0.5, 0.3, 0.2] {
            let (_, plan) = try compressed(tokens, .share(share))
            if let previous {
                XCTAssertLessThan(try XCTUnwrap(plan.measuredBytes), try XCTUnwrap(previous.measuredBytes))
                XCTAssertGreaterThanOrEqual(plan.predictedKL, previous.predictedKL)
            }
            previous = plan
        }
    }

    func testKLTargetsStayWithinTheirBoundAndLooserBoundsSaveMore() throws {
        let tokens = tokens(300)
        var bytes: [Int] = []
        for bound in [0.0005, 0.005, 0.05, 0.5] {
            let (cache, plan) = try compressed(tokens, .meanKL(bound))
            XCTAssertLessThanOrEqual(plan.predictedKL, bound)
            bytes.append(cache.byteCount)
        }
        XCTAssertEqual(bytes, bytes.sorted(by: >), "a looser bound never keeps more: \(bytes)")
        XCTAssertLessThan(bytes.last!, bytes.first!)
    }

    func testGenerationWithReservedTokensStaysWithinTheTarget() throws {
        let tokens = tokens(600)
        let dense = engine.model.makeCache().denseF16ByteCount(tokens: 600)
        let budget = dense / 4
        let (cache, _) = try compressed(tokens, .bytes(budget), reserve: 40)
        cache.statistics = nil
        for step in 0 ..< 40 {
            _ = try engine.model.forward(tokens: [5 + step % 7], cache: cache, logits: .lastToken)
            XCTAssertLessThanOrEqual(cache.byteCount, budget, "after generated token \(step + 1)")
        }
    }

    func testTargetsAboveTheCacheCompressNothingWithANote() throws {
        let tokens = tokens(200)
        let untouched = try prefilled(tokens).byteCount
        for target in [CompressionTarget.share(1), .share(3), .bytes(1 << 40)] {
            let (cache, plan) = try compressed(tokens, target)
            XCTAssertEqual(cache.byteCount, untouched, "\(target)")
            XCTAssertFalse(plan.compresses)
            XCTAssertTrue(try XCTUnwrap(plan.note).contains("nothing compressed"), plan.summary)
        }
    }

    func testTargetsBelowTheFloorsAreRefusedInOneLine() throws {
        XCTAssertThrowsError(try compressed(tokens(200), .bytes(1000))) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("smallest cache") && message.contains("first and 32 last"), message)
            XCTAssertFalse(message.contains("\n"))
        }
    }

    func testSizesParseAndBadOnesAreNamed() throws {
        XCTAssertEqual(try CompressionTarget.memory("24MiB"), .bytes(24 << 20))
        XCTAssertEqual(try CompressionTarget.memory("512 KiB"), .bytes(512 << 10))
        XCTAssertEqual(try CompressionTarget.memory("1.5GiB"), .bytes(3 << 29))
        XCTAssertEqual(try CompressionTarget.memory("3000000"), .bytes(3_000_000))
        XCTAssertEqual(try CompressionTarget.memory("25%"), .share(0.25))
        XCTAssertEqual(try CompressionTarget.memory("0.25"), .share(0.25))
        for (bad, why) in [("0", "more than 0"), ("-5MiB", "more than 0"), ("abc", "not a size"), ("12XB", "not a size"),
                           ("nan", "not a size"), ("inf", "not a size"), ("", "not a size"), ("1e30", "out of range"),
                           ("0%", "more than 0"), ("+5", "not a size")] {
            XCTAssertThrowsError(try CompressionTarget.memory(bad), bad) { error in
                XCTAssertTrue("\(error)".contains("--kv-memory") && "\(error)".contains(why), "\(bad): \(error)")
            }
        }
        for bad in [0, -0.1, .nan, .infinity] {
            XCTAssertThrowsError(try CompressionTarget.klBound(bad)) { XCTAssertTrue("\($0)".contains("--max-kl"), "\($0)") }
        }
        XCTAssertThrowsError(try PressRegistry.make("target", ratio: 0, profile: .placeholder)) {
            XCTAssertTrue("\($0)".contains("exactly one of memory, bytes and kl"), "\($0)")
        }
        XCTAssertThrowsError(try PressRegistry.make("target:memory=0.2,kl=0.1", ratio: 0, profile: .placeholder))
        XCTAssertThrowsError(try PressRegistry.make("target:memory=-1", ratio: 0, profile: .placeholder))
        XCTAssertThrowsError(try PressRegistry.make("target:kl=0", ratio: 0, profile: .placeholder))
        XCTAssertNoThrow(try PressRegistry.make("target:memory=0.25", ratio: 0, profile: .placeholder))
    }

    /// Two heads with known rates: the cheaper one (less KL per byte) gives up its bytes first, and an option off
    /// the convex hull (4 bits costing as much KL as 2) is skipped.
    func testTheGreedyTakesTheCheapestKLPerByteFirstAndSkipsOptionsOffTheHull() throws {
        let n = 200
        let mass = (0 ..< n).map { _ in 1.0 / Double(n) }
        let positions = (0 ..< n).map { Int32($0) }
        func head(_ index: Int, _ scale: Double, fourBits: Double) -> TargetAllocator.HeadInput {
            .init(layer: 0, head: index, mass: mass, positions: positions, headDimension: 64,
                  rates: [0, 0.01 * scale, fourBits * scale, fourBits * scale, 0.3 * scale, 1 * scale])
        }
        let allocator = TargetAllocator()
        let heads = [head(0, 10, fourBits: 0.05), head(1, 1, fourBits: 0.3)]
        let current = heads.count * StorageOption.f16.segmentBytes(tokens: n, headDimension: 64, group: 32)
        let result = try allocator.plan(heads, target: .bytes(current * 3 / 4), dense: current, current: current)
        let plan = result.plan
        XCTAssertLessThan(plan.heads[1].bytes, plan.heads[0].bytes, "the head with lower rates is compressed more")
        XCTAssertEqual(plan.heads[1].counts[2] + plan.heads[1].counts[3], 0,
                       "4 and 3 bits (as costly as 2 bits here) are off head 1's hull")
        XCTAssertLessThanOrEqual(plan.estimatedBytes, current * 3 / 4)
        XCTAssertEqual(allocator.hull(allocator.costs(of: Array(0 ..< 32), in: heads[1]), heads[1]), [0, 1, 4, 5])
    }

    /// Retrieval heads (`keepsEveryToken`) give up bits, never tokens: eviction is off their hull even where it is
    /// the cheapest option, and a press marks the heads with the best retrieval scores.
    func testRetrievalHeadsLoseBitsButNoTokens() throws {
        let n = 200
        let mass = (0 ..< n).map { _ in 1.0 / Double(n) }
        var whole = TargetAllocator.HeadInput(layer: 0, head: 0, mass: mass, positions: (0 ..< n).map { Int32($0) },
                                              headDimension: 64, rates: [0, 0.01, 0.05, 0.1, 0.3, 0.001])
        whole.keepsEveryToken = true
        var other = whole
        other.head = 1
        other.keepsEveryToken = false
        let allocator = TargetAllocator()
        XCTAssertEqual(allocator.hull(allocator.costs(of: Array(0 ..< 32), in: whole), whole).last, 4, "2 bits at most")
        XCTAssertEqual(allocator.hull(allocator.costs(of: Array(0 ..< 32), in: other), other).last, 5)
        let current = 2 * StorageOption.f16.segmentBytes(tokens: n, headDimension: 64, group: 32)
        let plan = try allocator.plan([whole, other], target: .bytes(current / 3), dense: current, current: current).plan
        XCTAssertEqual(plan.heads[0].counts[5], 0, "nothing evicted from the retrieval head")
        XCTAssertGreaterThan(plan.heads[1].counts[5], 0, "the other head evicts (its cheapest option)")
        XCTAssertLessThanOrEqual(plan.estimatedBytes, current / 3)

        let tokens = tokens(517)
        let layers = engine.model.configuration.layerCount
        let kvHeads = engine.model.configuration.kvHeadCount
        var scores = [[Float]](repeating: [Float](repeating: 0, count: kvHeads), count: layers)
        scores[layers - 1][0] = 1
        let press = try TargetPress(target: .share(0.3), sensitivity: try sensitivity(), retrieval: scores,
                                    retrievalHeads: 1 / Double(layers * kvHeads))
        let cache = try prefilled(tokens, for: press)
        try press.compress(cache)
        XCTAssertEqual(cache.layers[layers - 1].heads[0].count, tokens.count, "the best retrieval head keeps every token")
        XCTAssertLessThan(cache.retainedTokens, layers * kvHeads * tokens.count, "the others do not")
        let dense = engine.model.makeCache().denseF16ByteCount(tokens: tokens.count)
        XCTAssertLessThanOrEqual(cache.byteCount, Int(Double(dense) * 0.3))
        XCTAssertThrowsError(try TargetPress(target: .share(0.3), sensitivity: nil, retrievalHeads: 1.5))
    }

    func testTieredStorageCountsBytesWithinTheEstimate() throws {
        let cache = try prefilled(tokens(170))
        let head = cache.layers[0].heads[1]
        let thirds = [Array(0 ..< 50), Array(50 ..< 120), Array(120 ..< 160)]
        cache.storeTiers(layer: 0, head: 1, [(.f16, thirds[0]), (.bits(2), thirds[1]), (.bits(4), thirds[2])],
                         codes: CodeSettings(group: 16))
        XCTAssertEqual(head.count, 160, "tokens in no tier are dropped")
        let estimate = [(StorageOption.f16, 50), (.bits(2), 70), (.bits(4), 40)].reduce(0) {
            $0 + $1.0.segmentBytes(tokens: $1.1, headDimension: 16, group: 16)
        }
        XCTAssertLessThanOrEqual(head.byteCount, estimate)
        // Exact but for positions, which the bound counts as lists (4 bytes a token or group, 36 more per segment).
        XCTAssertGreaterThanOrEqual(head.byteCount, estimate - 4 * (160 + 8) - 3 * 2 * 36)
    }
}
