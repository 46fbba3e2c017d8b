/// A segment's token positions (ascending; a merged token may share a position), stored as runs of consecutive
/// positions or, when runs would cost more, as a plain list. A head that was never pressed holds one run, so its
/// positions cost 8 bytes instead of 4 per token: at 4 bits per element those 4 bytes per token were a quarter of a
/// bit (64-value heads), the difference between TokenPress's and llama.cpp's q4_0 bytes. A press that scatters
/// what it keeps falls back to the list: never more than 4 bytes per token (plus one run before the switch).
public struct PositionRuns: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral {
    /// Runs: the first position of each run and the index of its first token. Empty in list form.
    private var firsts: ContiguousArray<Int32> = []
    private var starts: ContiguousArray<Int32> = []
    /// List form: every position.
    private var list: ContiguousArray<Int32> = []
    private var isList = false
    public private(set) var count = 0

    /// Runs beyond this many more than half the tokens make the list the smaller form.
    private static let slack = 8

    public init() {}

    public init<S: Sequence>(_ positions: S) where S.Element == Int32 {
        append(contentsOf: positions)
    }

    public init(arrayLiteral positions: Int32...) {
        append(contentsOf: positions)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(index: Int) -> Int32 {
        precondition(index >= 0 && index < count, "position index \(index) out of 0..<\(count)")
        if isList { return list[index] }
        let run = self.run(containing: index)
        return firsts[run] + Int32(index) - starts[run]
    }

    /// Runs held (0 in list form).
    public var runCount: Int { firsts.count }
    /// What the positions cost: 8 bytes per run, or 4 per token in list form.
    public var byteCount: Int {
        (isList ? count : 2 * runCount) * MemoryLayout<Int32>.size
    }

    public static func == (a: PositionRuns, b: PositionRuns) -> Bool {
        a.count == b.count && a.elementsEqual(b)
    }

    public mutating func append(_ position: Int32) {
        precondition(count == 0 || position >= self[count - 1], "positions must not descend")
        if isList {
            list.append(position)
        } else if let first = firsts.last, let start = starts.last, position == first + Int32(count) - start {
            // Extends the last run.
        } else {
            firsts.append(position)
            starts.append(Int32(count))
            if 2 * firsts.count > count + 1 + Self.slack { switchToList(appending: position) }
        }
        count += 1
    }

    public mutating func append<S: Sequence>(contentsOf positions: S) where S.Element == Int32 {
        for position in positions { append(position) }
    }

    /// Inserts `position` before index `index` (rare: a merged token); rebuilds the storage.
    public mutating func insert(_ position: Int32, at index: Int) {
        var all = Array(self)
        all.insert(position, at: index)
        self = PositionRuns(all)
    }

    /// Number of leading positions ≤ `position` (what a query at `position` may see).
    public func count(upTo position: Int) -> Int {
        let keys = isList ? list : firsts
        // The number of runs (or listed tokens) starting at or before `position`.
        var low = 0
        var high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if Int(keys[mid]) <= position { low = mid + 1 } else { high = mid }
        }
        guard !isList else { return low }
        guard low > 0 else { return 0 }
        let run = low - 1
        let runEnd = run + 1 < starts.count ? Int(starts[run + 1]) : count
        let start = Int(starts[run])
        return Swift.min(runEnd, start + position - Int(firsts[run]) + 1)
    }

    /// The run holding token `index`: the last run whose first index is ≤ `index`.
    private func run(containing index: Int) -> Int {
        if firsts.count == 1 { return 0 }
        var low = 0
        var high = starts.count
        while low < high {
            let mid = (low + high) / 2
            if Int(starts[mid]) <= index { low = mid + 1 } else { high = mid }
        }
        return low - 1
    }

    /// Moves to list form; `position` (already the last run's first) is the token being appended.
    private mutating func switchToList(appending position: Int32) {
        var all = ContiguousArray<Int32>()
        all.reserveCapacity(count + 1)
        for index in 0 ..< count { all.append(self[index]) }
        all.append(position)
        list = all
        firsts = []
        starts = []
        isList = true
    }
}
