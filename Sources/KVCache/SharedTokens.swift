import Kernels

/// Tokens that one KV head of two adjacent layers stores once (MiniCache): per token a unit key direction and a
/// unit value direction (f16, shared), each layer's key and value magnitudes (f16) and the position. Layer `slot`
/// reads token j as key `keyMagnitude(j, slot) · keyDirection(j)` and value `valueMagnitude(j, slot) · valueDirection(j)`.
/// Both layers' heads read it through a `SharedTokenView`; its bytes are counted once, by the view of slot 0.
public final class SharedTokens {
    public let headDimension: Int
    private(set) var keyDirections: ContiguousArray<Float16> = []    // [count, headDimension]
    private(set) var valueDirections: ContiguousArray<Float16> = []  // [count, headDimension]
    /// [count, 4]: key magnitude of slot 0, of slot 1, value magnitude of slot 0, of slot 1.
    private(set) var magnitudes: ContiguousArray<Float16> = []
    public private(set) var positions: PositionRuns = []

    public init(headDimension: Int) {
        self.headDimension = headDimension
    }

    public var count: Int { positions.count }

    /// Exact bytes held: both directions, four magnitudes and the position of every token.
    public var byteCount: Int {
        (keyDirections.count + valueDirections.count + magnitudes.count) * MemoryLayout<Float16>.size
            + positions.byteCount
    }

    /// Appends a token after the last one (positions must ascend). Directions hold `headDimension` floats.
    public func append(keyDirection: [Float], valueDirection: [Float], keyMagnitudes: (Float, Float), valueMagnitudes: (Float, Float),
                       position: Int) {
        precondition(positions.last.map { Int($0) < position } ?? true, "shared tokens must be appended in position order")
        for x in keyDirection { keyDirections.append(HalfConversion.half(x)) }
        for x in valueDirection { valueDirections.append(HalfConversion.half(x)) }
        for x in [keyMagnitudes.0, keyMagnitudes.1, valueMagnitudes.0, valueMagnitudes.1] { magnitudes.append(HalfConversion.half(x)) }
        positions.append(Int32(position))
    }

    public func keyMagnitude(_ index: Int, slot: Int) -> Float { Float(magnitudes[index * 4 + slot]) }
    public func valueMagnitude(_ index: Int, slot: Int) -> Float { Float(magnitudes[index * 4 + 2 + slot]) }

    /// Key and value of token `index` as layer `slot` sees them, as floats.
    public func token(_ index: Int, slot: Int) -> (key: [Float], value: [Float]) {
        let range = index * headDimension ..< (index + 1) * headDimension
        let k = keyMagnitude(index, slot: slot), v = valueMagnitude(index, slot: slot)
        return (keyDirections[range].map { k * Float($0) }, valueDirections[range].map { v * Float($0) })
    }

    /// Keeps only the tokens at `indices` (ascending), for both layers.
    func retain(indices: [Int]) {
        let d = headDimension
        keyDirections = F16Rows.retain(indices, of: keyDirections, dimension: d)
        valueDirections = F16Rows.retain(indices, of: valueDirections, dimension: d)
        magnitudes = F16Rows.retain(indices, of: magnitudes, dimension: 4)
        positions = PositionRuns(indices.map { positions[$0] })
    }

    /// Gives token i position `newPositions[i]` (ascending), rotating its key direction by the change: a rotation
    /// keeps a unit vector unit and commutes with either layer's magnitude.
    func reposition(_ newPositions: [Int32], rope: RoPE) {
        let delta = (0 ..< count).map { newPositions[$0] - positions[$0] }
        F16Rows.rotate(&keyDirections, by: delta, dimension: headDimension, rope: rope)
        positions = PositionRuns(newPositions)
    }

    /// An independent deep copy.
    public func copy() -> SharedTokens {
        let c = SharedTokens(headDimension: headDimension)
        c.keyDirections = keyDirections
        c.valueDirections = valueDirections
        c.magnitudes = magnitudes
        c.positions = positions
        return c
    }

    /// Calls `body` with key and value directions [count, headDimension] as f16.
    public func withDirections<R>(_ body: (UnsafePointer<Float16>, UnsafePointer<Float16>) throws -> R) rethrows -> R {
        try keyDirections.withUnsafeBufferPointer { k in
            try valueDirections.withUnsafeBufferPointer { v in
                try body(k.baseAddress ?? UnsafePointer(bitPattern: 2)!, v.baseAddress ?? UnsafePointer(bitPattern: 2)!)
            }
        }
    }
}

extension SharedTokens {
    func archive(into writer: inout ArchiveWriter) {
        positions.archive(into: &writer)
        writer.array(keyDirections)
        writer.array(valueDirections)
        writer.array(magnitudes)
    }

    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> SharedTokens {
        let tokens = SharedTokens(headDimension: headDimension)
        tokens.positions = try PositionRuns.unarchive(from: &reader)
        tokens.keyDirections = try reader.array(of: Float16.self)
        tokens.valueDirections = try reader.array(of: Float16.self)
        tokens.magnitudes = try reader.array(of: Float16.self)
        let elements = tokens.positions.count * headDimension
        guard tokens.keyDirections.count == elements, tokens.valueDirections.count == elements,
              tokens.magnitudes.count == tokens.positions.count * 4 else {
            throw CacheArchiveError.corrupted("shared tokens' rows do not match their tokens")
        }
        return tokens
    }
}
