import KVCache
import XCTest

/// Positions stored as runs: the same sequence as a plain array, 8 bytes per run, and the visible counts a
/// binary search over the array would give.
final class PositionRunsTests: XCTestCase {
    func testRunsHoldTheSamePositionsAsAnArray() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0 ..< 50 {
            var array: [Int32] = []
            var next: Int32 = Int32.random(in: 0 ..< 5, using: &generator)
            for _ in 0 ..< Int.random(in: 0 ..< 300, using: &generator) {
                array.append(next)
                next += Bool.random(using: &generator) ? 1 : Int32.random(in: 2 ..< 9, using: &generator)
            }
            let runs = PositionRuns(array)
            XCTAssertEqual(Array(runs), array)
            let breaks = zip(array, array.dropFirst()).filter { $1 != $0 + 1 }.count
            // Runs while they are the smaller form; a list (4 bytes a token) once scattered positions make runs dearer.
            XCTAssertLessThanOrEqual(runs.byteCount, 4 * array.count + 40)
            if breaks == 0 { XCTAssertEqual(runs.byteCount, array.isEmpty ? 0 : 8) }
            for query in -1 ... Int(next) + 1 {
                XCTAssertEqual(runs.count(upTo: query), array.filter { Int($0) <= query }.count, "query \(query)")
            }
            if !array.isEmpty {
                let index = Int.random(in: 0 ..< array.count, using: &generator)
                let kept = array.indices.filter { $0 != index }.map { array[$0] }
                XCTAssertEqual(Array(PositionRuns(kept)), kept)
            }
        }
    }

    func testAnUnpressedHeadHoldsOneRun() {
        var runs = PositionRuns()
        runs.append(contentsOf: (0 ..< 4096).map { Int32($0) })
        XCTAssertEqual(runs.runCount, 1)
        XCTAssertEqual(runs.byteCount, 8)
        XCTAssertEqual(runs[4095], 4095)
        // A merged token at a position another token holds (positions never descend): a run of its own.
        runs.insert(7, at: 7)
        XCTAssertEqual(Array(runs.prefix(10)), [0, 1, 2, 3, 4, 5, 6, 7, 7, 8])
        XCTAssertEqual(runs.runCount, 2)
        XCTAssertEqual(runs.count(upTo: 7), 9)
        XCTAssertEqual(runs.count(upTo: 6), 7)
        XCTAssertEqual(runs.count, 4097)
    }
}
