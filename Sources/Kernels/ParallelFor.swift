import Dispatch

/// Splits `count` items into contiguous chunks and runs them on all cores (libdispatch's persistent pool).
public enum ParallelFor {
    /// Worker count; defaults to the number of active processors.
    nonisolated(unsafe) public static var threads = max(1, SystemInfo.activeCores)

    /// Calls `body(range)` for disjoint ranges covering `0..<count`; ranges hold at least `minimumChunk` items.
    public static func run(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads * 4, max(1, count / max(1, minimumChunk)))
        if chunks <= 1 || threads <= 1 {
            body(0 ..< count)
            return
        }
        withoutActuallyEscaping(body) { body in
            // Chunks touch disjoint ranges; the caller guarantees that is race-free.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
                if start < end { body(start ..< end) }
            }
        }
    }
}

enum SystemInfo {
    static var activeCores: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 2
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif
