/// A binary min-heap of candidate merges between adjacent symbols, ordered by priority and then by the left
/// symbol's index, so the best merge and, among equals, the leftmost comes first (as llama.cpp's bigram queues).
/// Candidates go stale when a neighbour merges; the encoders skip those when they surface.
struct MergeQueue {
    struct Candidate {
        /// Lower runs first: a merge rank, or a negated vocabulary score.
        var priority: Double
        /// Index of the left symbol; the right one is the left's successor when the candidate was made.
        var left: Int
        var right: Int
        /// Byte length of the merged symbol when the candidate was made (a mismatch later marks it stale).
        var length: Int

        func precedes(_ other: Candidate) -> Bool {
            priority < other.priority || (priority == other.priority && left < other.left)
        }
    }

    private var heap: [Candidate] = []

    init(capacity: Int) { heap.reserveCapacity(capacity) }

    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ candidate: Candidate) {
        heap.append(candidate)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var best = parent
            if left < heap.count && heap[left].precedes(heap[best]) { best = left }
            if right < heap.count && heap[right].precedes(heap[best]) { best = right }
            if best == parent { break }
            heap.swapAt(parent, best)
            parent = best
        }
        return top
    }
}

/// Symbols of one word as a doubly linked list over a byte buffer: merging joins a symbol with its successor
/// in O(1). A merged-away symbol has length 0.
struct SymbolList {
    /// The word's bytes; symbol i covers `bytes[start[i] ..< start[i] + length[i]]`.
    let bytes: [UInt8]
    var start: [Int]
    var length: [Int]
    var previous: [Int]  // -1 at the head
    var next: [Int]      // -1 at the tail

    /// One symbol per piece, pieces given by their byte lengths in order.
    init(bytes: [UInt8], pieceLengths: [Int]) {
        self.bytes = bytes
        let count = pieceLengths.count
        start = []
        start.reserveCapacity(count)
        var offset = 0
        for pieceLength in pieceLengths {
            start.append(offset)
            offset += pieceLength
        }
        length = pieceLengths
        previous = (0 ..< count).map { $0 - 1 }
        next = (0 ..< count).map { $0 + 1 < count ? $0 + 1 : -1 }
    }

    var count: Int { start.count }

    func symbol(_ i: Int) -> ArraySlice<UInt8> { bytes[start[i] ..< start[i] + length[i]] }

    /// Bytes of symbols `left` and its successor `right`, joined.
    func joined(_ left: Int, _ right: Int) -> ArraySlice<UInt8> { bytes[start[left] ..< start[right] + length[right]] }

    /// Whether a candidate made for (left, right) with merged length `length` still describes two live neighbours.
    func isCurrent(_ candidate: MergeQueue.Candidate) -> Bool {
        let left = candidate.left
        let right = candidate.right
        return length[left] > 0 && length[right] > 0 && next[left] == right
            && length[left] + length[right] == candidate.length
    }

    /// Joins `right` into its predecessor `left`.
    mutating func merge(_ left: Int, _ right: Int) {
        length[left] += length[right]
        length[right] = 0
        next[left] = next[right]
        if next[right] >= 0 { previous[next[right]] = left }
    }

    /// The live symbols from the head, in order.
    var live: [Int] {
        var result: [Int] = []
        var i = count > 0 ? 0 : -1
        while i >= 0 {
            result.append(i)
            i = next[i]
        }
        return result
    }
}
