import Kernels

/// The tokens one KV head retains: keys and values in f16 (keys after RoPE), each with its original position.
/// Heads are independent so a press can give each its own length; removal compacts storage for real.
public final class HeadCache: @unchecked Sendable {
    public let headDimension: Int
    private(set) var keys: ContiguousArray<Float16> = []      // [count, headDimension]
    private(set) var values: ContiguousArray<Float16> = []    // [count, headDimension]
    public private(set) var positions: ContiguousArray<Int32> = []  // [count]

    public init(headDimension: Int) {
        self.headDimension = headDimension
    }

    /// Tokens shared with the same head of an adjacent layer (MiniCache), read with magnitudes of `sharedSlot`.
    public private(set) var shared: SharedTokens?
    /// 0 for the first layer of the pair (which counts the shared bytes), 1 for the second.
    public private(set) var sharedSlot = 0

    /// Tokens stored in this head's own storage (the ones presses index); shared tokens are not among them.
    public var count: Int { positions.count }
    /// Tokens attention reads: its own and the shared ones.
    public var attendedCount: Int { count + (shared?.count ?? 0) }

    /// Exact bytes held: keys, values and positions, plus the shared tokens when this head is the first of its pair.
    public var byteCount: Int {
        keys.count * MemoryLayout<Float16>.size + values.count * MemoryLayout<Float16>.size + positions.count * MemoryLayout<Int32>.size
            + (sharedSlot == 0 ? shared?.byteCount ?? 0 : 0)
    }

    /// Makes this head read `tokens` (shared with another layer's head) as layer `slot` of the pair.
    public func share(_ tokens: SharedTokens?, slot: Int) {
        precondition(slot == 0 || slot == 1, "a shared segment has two slots")
        shared = tokens
        sharedSlot = slot
    }

    public func reserveCapacity(_ tokens: Int) {
        keys.reserveCapacity(tokens * headDimension)
        values.reserveCapacity(tokens * headDimension)
        positions.reserveCapacity(tokens)
    }

    /// Appends one token (`key` and `value` hold `headDimension` floats; they are stored as f16).
    public func append(key: UnsafePointer<Float>, value: UnsafePointer<Float>, position: Int) {
        for i in 0 ..< headDimension { keys.append(HalfConversion.half(key[i])) }
        for i in 0 ..< headDimension { values.append(HalfConversion.half(value[i])) }
        positions.append(Int32(position))
    }

    /// Keeps only the tokens at `indices` (ascending), releasing the rest.
    public func retain(indices: [Int]) {
        var newKeys = ContiguousArray<Float16>(), newValues = ContiguousArray<Float16>(), newPositions = ContiguousArray<Int32>()
        newKeys.reserveCapacity(indices.count * headDimension)
        newValues.reserveCapacity(indices.count * headDimension)
        newPositions.reserveCapacity(indices.count)
        for i in indices {
            newKeys.append(contentsOf: keys[i * headDimension ..< (i + 1) * headDimension])
            newValues.append(contentsOf: values[i * headDimension ..< (i + 1) * headDimension])
            newPositions.append(positions[i])
        }
        keys = newKeys
        values = newValues
        positions = newPositions
    }

    /// Inserts one token (e.g. a merged one standing for several evicted tokens) where its position keeps the
    /// positions in order; returns its index. Its bytes count like any other token's.
    @discardableResult
    public func insert(key: [Float], value: [Float], position: Int) -> Int {
        let index = positions.firstIndex { Int($0) > position } ?? positions.count
        let k = key.map { HalfConversion.half($0) }
        let v = value.map { HalfConversion.half($0) }
        keys.insert(contentsOf: k, at: index * headDimension)
        values.insert(contentsOf: v, at: index * headDimension)
        positions.insert(Int32(position), at: index)
        return index
    }

    /// Overwrites the key and value of token `index` (e.g. with a merge of several tokens); its position stays.
    public func replace(_ index: Int, key: [Float], value: [Float]) {
        for i in 0 ..< headDimension {
            keys[index * headDimension + i] = HalfConversion.half(key[i])
            values[index * headDimension + i] = HalfConversion.half(value[i])
        }
    }

    /// Gives token i position `newPositions[i]` (ascending), rotating its key by the change (keys are stored
    /// after RoPE; see `KVCache.reindex`).
    func reposition(_ newPositions: [Int32], rope: RoPE) {
        let d = headDimension, half = rope.dimensions / 2
        var tables: [Int32: (cos: [Float], sin: [Float])] = [:]
        var key = [Float](repeating: 0, count: d)
        for i in 0 ..< count {
            let delta = newPositions[i] - positions[i]
            guard delta != 0 else { continue }
            if tables[delta] == nil {
                var c = [Float](repeating: 0, count: half), s = c
                rope.table(position: Int(delta), cos: &c, sin: &s)
                tables[delta] = (c, s)
            }
            let table = tables[delta]!
            for j in 0 ..< d { key[j] = HalfConversion.float(fromBits: keys[i * d + j].bitPattern) }
            rope.rotate(&key, heads: 1, headDimension: d, cos: table.cos, sin: table.sin)
            for j in 0 ..< d { keys[i * d + j] = HalfConversion.half(key[j]) }
        }
        positions = ContiguousArray(newPositions)
    }

    /// Key and value of token `index`, as floats.
    public func token(_ index: Int) -> (key: [Float], value: [Float]) {
        let range = index * headDimension ..< (index + 1) * headDimension
        return (keys[range].map { HalfConversion.float(fromBits: $0.bitPattern) }, values[range].map { HalfConversion.float(fromBits: $0.bitPattern) })
    }

    /// Replaces this head's own tokens with a copy of `other`'s (`KVCache.copy` reattaches shared tokens).
    public func assign(from other: HeadCache) {
        keys = other.keys
        values = other.values
        positions = other.positions
        shared = nil
        sharedSlot = other.sharedSlot
    }

    public func removeAll() {
        keys = []
        values = []
        positions = []
        shared = nil
        sharedSlot = 0
    }

    /// Calls `body` with keys and values [count, headDimension] as f16.
    public func withStorage<R>(_ body: (UnsafePointer<Float16>, UnsafePointer<Float16>) throws -> R) rethrows -> R {
        try keys.withUnsafeBufferPointer { k in
            try values.withUnsafeBufferPointer { v in
                try body(k.baseAddress ?? UnsafePointer(bitPattern: 2)!, v.baseAddress ?? UnsafePointer(bitPattern: 2)!)
            }
        }
    }
}
