import Sampling
import XCTest

final class SamplingTests: XCTestCase {
    let logits: [Float] = [1, 5, 3, 5, -2, 0.5]

    func testGreedyPicksTheFirstMaximum() {
        var chain = SamplerChain(.greedy)
        XCTAssertEqual(chain.sample(logits: logits, history: []), 1)
    }

    func testFiltersNarrowTheCandidates() {
        var c = TokenCandidates(logits: logits)
        TopKFilter(k: 3).process(&c, history: [])
        XCTAssertEqual(c.ids, [1, 3, 2])
        var p = TokenCandidates(logits: logits)
        TopPFilter(p: 0.9).process(&p, history: [])
        XCTAssertEqual(p.ids, [1, 3])  // the two tied tokens hold ~93% of the mass
        var m = TokenCandidates(logits: logits)
        MinPFilter(p: 0.1).process(&m, history: [])
        XCTAssertEqual(Set(m.ids), [1, 2, 3])
        var r = TokenCandidates(logits: logits)
        RepetitionPenalty(penalty: 2).process(&r, history: [1, 4])
        XCTAssertEqual(r.logits[1], 2.5)
        XCTAssertEqual(r.logits[4], -4)
    }

    func testKeepingTheLargestEqualsSortingThenTruncating() {
        var generator = SeededGenerator(seed: 5)
        for (count, k) in [(49_152, 40), (1000, 1), (300, 299), (64, 64), (50, 100)] {
            // Few distinct values, so ties (broken by id) are everywhere.
            let logits = (0 ..< count).map { _ in Float(generator.next() % 97) / 8 - 6 }
            var sorted = TokenCandidates(logits: logits)
            sorted.sortDescending()
            sorted.truncate(to: k)
            var kept = TokenCandidates(logits: logits)
            kept.keepLargest(k)
            XCTAssertEqual(kept.ids, sorted.ids, "\(count) logits, k \(k)")
            XCTAssertEqual(kept.logits, sorted.logits)
        }
    }

    func testSeededSamplingIsReproducibleAndFollowsTheDistribution() {
        var params = SamplingParameters()
        params.temperature = 1
        params.topK = 0
        params.topP = 1
        params.minP = 0
        params.seed = 42
        var a = SamplerChain(params), b = SamplerChain(params)
        let first = (0 ..< 200).map { _ in a.sample(logits: logits, history: []) }
        XCTAssertEqual(first, (0 ..< 200).map { _ in b.sample(logits: logits, history: []) })
        let share = Double(first.filter { $0 == 1 || $0 == 3 }.count) / 200
        XCTAssertEqual(share, 0.93, accuracy: 0.07)
    }
}
