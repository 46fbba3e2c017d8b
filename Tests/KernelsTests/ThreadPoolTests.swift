import Foundation
import Kernels
import XCTest

/// The persistent pool under back-to-back jobs, as a decode step issues them: every chunk of every job runs exactly
/// once, and `ParallelFor.run` returns only after all of them ran. (A worker still leaving one job once took a chunk
/// of the next and counted it, so a call could return while a chunk still ran: "closure argument was escaped".)
final class ThreadPoolTests: XCTestCase {
    func testBackToBackJobsRunEveryChunkOnceBeforeReturning() {
        let saved = ParallelFor.threads
        ParallelFor.threads = max(2, saved)
        defer { ParallelFor.threads = saved }
        // A thread competing for the cores, so pool threads are preempted mid-job as on a busy machine.
        let stop = StopFlag()
        let competitor = Thread {
            var x = 0
            while !stop.isSet { x &+= 1 }
        }
        competitor.start()
        defer { stop.set() }
        let capacity = 64
        let counts = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        defer { counts.deallocate() }
        var failures = 0
        for round in 0 ..< 200_000 {
            // Two chunks, then eight: an index left over from one job is in range of the next.
            let items = round % 2 == 0 ? 2 : capacity
            counts.initialize(repeating: 0, count: capacity)
            ParallelFor.run(items) { range in
                for i in range { counts[i] += 1 }
            }
            if (0 ..< items).contains(where: { counts[$0] != 1 }) { failures += 1 }
        }
        XCTAssertEqual(failures, 0, "jobs with an item not run exactly once by the time run returned")
    }
}

private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
