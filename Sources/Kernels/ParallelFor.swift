import CKernels

/// Splits `count` items into contiguous chunks and runs them on a persistent pool of threads
/// (`ThreadPool.c`: workers spin briefly between jobs, so the hundreds of small jobs of a decode step
/// do not pay for waking threads).
public enum ParallelFor {
    /// Worker count, the calling thread included; defaults to the number of online processors.
    public static var threads: Int {
        get { configuredThreads.value }
        set { configuredThreads.value = Int(tp_pool_set_threads(Int32(newValue))) }
    }

    private static let configuredThreads = ThreadCount()

    /// Calls `body(range)` for disjoint ranges covering `0..<count`; ranges hold at least `minimumChunk` items.
    public static func run(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        runChunks(count, minimumChunk: minimumChunk) { _, range in body(range) }
    }

    /// How many chunks `run` splits `count` items into (for sizing per-chunk scratch space).
    public static func chunkCount(_ count: Int, minimumChunk: Int = 1) -> Int {
        threads <= 1 ? 1 : min(threads * 4, max(1, count / max(1, minimumChunk)))
    }

    /// As `run`, also passing the chunk's index in `0 ..< chunkCount(count, minimumChunk:)`.
    public static func runChunks(_ count: Int, minimumChunk: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = chunkCount(count, minimumChunk: minimumChunk)
        if chunks <= 1 {
            body(0, 0 ..< count)
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = Job(body: body, count: count, chunks: chunks)
            withUnsafeMutablePointer(to: &job) { pointer in
                tp_pool_run({ context, chunk in
                    let job = context!.assumingMemoryBound(to: Job.self).pointee
                    let start = job.count * Int(chunk) / job.chunks, end = job.count * (Int(chunk) + 1) / job.chunks
                    if start < end { job.body(Int(chunk), start ..< end) }
                }, pointer, Int32(chunks))
            }
        }
    }

    private struct Job {
        let body: (Int, Range<Int>) -> Void
        let count: Int
        let chunks: Int
    }
}

/// The configured thread count (set once at start-up by the CLI; read by every kernel call).
private final class ThreadCount: @unchecked Sendable {
    var value: Int
    init() {
        let online = max(1, SystemInfo.activeCores)
        value = Int(tp_pool_set_threads(Int32(online)))
    }
}

enum SystemInfo {
    /// Processors available to this process: online processors on Linux, active ones elsewhere (macOS).
    static var activeCores: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return ProcessInfo.processInfo.activeProcessorCount
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
