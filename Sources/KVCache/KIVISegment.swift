import CKernels
import Kernels

/// Tokens stored as KIVI stores them: keys quantized per channel over groups of tokens (the outlier channels of
/// keys get their own scale), values per token over groups of channels, each group with an f16 scale and zero
/// point, codes bit-packed (`PackedCodes`). Attention reads the codes: a key group's logits are the query times
/// the group's scales dotted with the codes, plus the query dotted with its zero points; values are summed
/// from their codes with weight × scale. Nothing is decoded to a dense copy. With `settings.rotate` the rows are
/// stored Hadamard-rotated: the query is rotated before its logits and the weighted sum rotated back after.
///
/// A head fills this segment from its f16 residual window a group at a time (`HeadCache`); key groups may shrink
/// when a press drops tokens (each token keeps its group's scales), so group boundaries are stored.
public final class KIVISegment: KVSegment, RewritableSegment {
    public let headDimension: Int
    public let settings: KIVISettings
    // The stored arrays are internal only so that `KIVISegmentArchiving.swift` can write them and read them back.
    let keyRowBytes: Int
    let valueRowBytes: Int
    var keyCodes: ContiguousArray<UInt8> = []        // [count, keyRowBytes]
    var keyGroupStarts: PositionRuns = []  // first token of each key group
    var keyScales: ContiguousArray<UInt16> = []      // f16 bits, [groups, d]
    var keyZeros: ContiguousArray<UInt16> = []
    var valueCodes: ContiguousArray<UInt8> = []      // [count, valueRowBytes]
    var valueScales: ContiguousArray<UInt16> = []    // f16 bits, [count, d / group]
    var valueZeros: ContiguousArray<UInt16> = []
    public internal(set) var positions: PositionRuns = []

    public init(headDimension: Int, settings: KIVISettings) {
        precondition(headDimension % settings.group == 0 && headDimension % 8 == 0,
                     "kivi group \(settings.group) does not divide the head dimension \(headDimension)")
        precondition(!settings.rotate || HadamardRotation.supports(dimension: headDimension),
                     "kivi rotation needs a power-of-2 head dimension")
        self.headDimension = headDimension
        self.settings = settings
        keyRowBytes = PackedCodes.byteCount(codes: headDimension, bits: settings.keyBits)
        valueRowBytes = PackedCodes.byteCount(codes: headDimension, bits: settings.bits)
    }

    public var count: Int { positions.count }
    public var isPressable: Bool { true }
    public var sharedStorage: AnyObject? { nil }
    var valueGroups: Int { headDimension / settings.group }

    /// Codes, key group scales, zero points and boundaries, value scales and zero points, positions.
    public var byteCount: Int {
        let halves = keyScales.count + keyZeros.count + valueScales.count + valueZeros.count
        return keyCodes.count + valueCodes.count + halves * 2 + keyGroupStarts.count * 4 + positions.byteCount
    }

    // MARK: Filling

    /// Quantizes `tokens` tokens (keys and values [tokens, headDimension], contiguous) at `positions` after the
    /// last ones, keys in groups of `settings.group` tokens (a last partial group is a group of its own).
    public func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, tokens: Int, positions new: [Int32]) {
        precondition(new.count == tokens && (positions.last ?? Int32.min) < (new.first ?? Int32.max))
        let d = headDimension
        var first = 0
        while first < tokens {
            let n = min(settings.group, tokens - first)
            keyGroupStarts.append(Int32(count + first))
            keyScales.append(contentsOf: repeatElement(0, count: d))
            keyZeros.append(contentsOf: repeatElement(0, count: d))
            keyCodes.append(contentsOf: repeatElement(0, count: n * keyRowBytes))
            writeKeyGroup(keyGroupStarts.count - 1, rows: keys + first * d, firstToken: count + first, tokens: n)
            first += n
        }
        for t in 0 ..< tokens { appendValue(values + t * d) }
        positions.append(contentsOf: new)
    }

    /// Calls `body` with `rows` rows of `headDimension` values as they are stored: rotated when the settings ask.
    private func withStoredRows<R>(_ rows: UnsafePointer<Float>, count: Int,
                                   _ body: (UnsafePointer<Float>) -> R) -> R {
        guard settings.rotate else { return body(rows) }
        return HadamardRotation.withRotatedCopy(of: rows, count: count, dimension: headDimension, body)
    }

    /// A stored row turned back to the model's frame (a rotation is its own inverse).
    private func unrotated(_ row: [Float]) -> [Float] {
        settings.rotate ? HadamardRotation.rotated(row) : row
    }

    // MARK: Attention

    public func logits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder, kernel: AttentionKernel,
                       scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        guard !tokens.isEmpty else { return }
        withStoredRows(query, count: 1) { query in
            storedLogits(query: query, tokens: tokens, kernel: kernel, scratch: scratch, into: logits)
        }
    }

    /// Logits of a query already in the stored frame.
    private func storedLogits(query: UnsafePointer<Float>, tokens: Range<Int>, kernel: AttentionKernel,
                              scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        let d = headDimension
        let bits = settings.keyBits
        forEachKeyGroup(in: tokens) { codes, scales, zeros, rows in
            // The group's scales folded into the query (in `scratch`), its zero points into one bias.
            let out = logits + (rows.lowerBound - tokens.lowerBound)
            let first = codes + rows.lowerBound * keyRowBytes
            switch kernel {
            case .avx2:
                tp_packed_logits(query, scales, zeros, first, Int32(rows.count), Int32(d), Int32(bits), scratch, out)
            case .portable:
                PackedCodes.logits(query: query, scales: scales, zeros: zeros, codes: first, rows: rows.count,
                                   dimension: d, bits: bits, qs: scratch, into: out)
            }
        }
    }

    /// Calls `body` for each key group's part of `tokens` (not empty), in order, with the key codes and that group's
    /// f16 scales and zero points.
    func forEachKeyGroup(in tokens: Range<Int>, _ body: (_ codes: UnsafePointer<UInt8>, _ scales: UnsafePointer<UInt16>,
                                                          _ zeros: UnsafePointer<UInt16>, _ rows: Range<Int>) -> Void) {
        guard !tokens.isEmpty else { return }
        let d = headDimension
        var group = groupIndex(of: tokens.lowerBound)
        var j = tokens.lowerBound
        keyCodes.withUnsafeBufferPointer { codes in
            keyScales.withUnsafeBufferPointer { scales in
                keyZeros.withUnsafeBufferPointer { zeros in
                    while j < tokens.upperBound {
                        let end = min(groupEnd(group), tokens.upperBound)
                        body(codes.baseAddress!, scales.baseAddress! + group * d, zeros.baseAddress! + group * d,
                             j ..< end)
                        j = end
                        group += 1
                    }
                }
            }
        }
    }

    public func weightedSum(weights: UnsafeMutablePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                            kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let d = headDimension
        let rows = tokens.count
        let (bits, group) = (settings.bits, settings.group)
        withValueRows(from: tokens.lowerBound) { c, s, z in
            switch kernel {
            case .avx2:
                tp_packed_weighted_sum(weights, c, s, z, Int32(rows), Int32(d), Int32(bits), Int32(group), lanes, output)
            case .portable:
                PackedCodes.weightedSum(weights: weights, codes: c, scales: s, zeros: z, rows: rows, dimension: d,
                                        bits: bits, group: group, zeroSums: lanes, into: output)
            }
        }
        if settings.rotate { HadamardRotation.rotate(output, count: d) }
    }

    /// Calls `body` with the value codes, scales and zero points from token `first` on (dangling pointers, which no
    /// kernel reads for no rows, when the segment is empty: its buffers may have no address).
    func withValueRows<R>(from first: Int, _ body: (_ codes: UnsafePointer<UInt8>, _ scales: UnsafePointer<UInt16>,
                                                    _ zeros: UnsafePointer<UInt16>) -> R) -> R {
        let groups = valueGroups
        return valueCodes.withUnsafeBufferPointer { codes in
            valueScales.withUnsafeBufferPointer { scales in
                valueZeros.withUnsafeBufferPointer { zeros in
                    let dangling = UnsafePointer<UInt8>(bitPattern: 16)!
                    let danglingHalves = UnsafePointer<UInt16>(bitPattern: 16)!
                    return body((codes.baseAddress ?? dangling) + first * valueRowBytes,
                                (scales.baseAddress ?? danglingHalves) + first * groups,
                                (zeros.baseAddress ?? danglingHalves) + first * groups)
                }
            }
        }
    }

    // MARK: Rows for presses

    public func key(_ index: Int) -> [Float] {
        unrotated(storedKey(index))
    }

    public func value(_ index: Int) -> [Float] {
        unrotated(storedValue(index))
    }

    /// Key `index` decoded, in the stored frame.
    private func storedKey(_ index: Int) -> [Float] {
        let d = headDimension
        let group = groupIndex(of: index)
        return keyCodes.withUnsafeBufferPointer { codes in
            let row = codes.baseAddress! + index * keyRowBytes
            return (0 ..< d).map { c in
                let scale = HalfConversion.float(fromBits: keyScales[group * d + c])
                let zero = HalfConversion.float(fromBits: keyZeros[group * d + c])
                return scale * Float(PackedCodes.code(row, c, bits: settings.keyBits)) + zero
            }
        }
    }

    /// Value `index` decoded, in the stored frame.
    private func storedValue(_ index: Int) -> [Float] {
        let groups = valueGroups
        return valueCodes.withUnsafeBufferPointer { codes in
            let row = codes.baseAddress! + index * valueRowBytes
            return (0 ..< headDimension).map { c in
                let g = index * groups + c / settings.group
                let scale = HalfConversion.float(fromBits: valueScales[g])
                return scale * Float(PackedCodes.code(row, c, bits: settings.bits))
                    + HalfConversion.float(fromBits: valueZeros[g])
            }
        }
    }

    // MARK: Presses and re-indexing

    public func retain(indices: [Int]) {
        let d = headDimension
        let groups = valueGroups
        var codes = ContiguousArray<UInt8>()
        var values = ContiguousArray<UInt8>()
        var starts = PositionRuns()
        var scales = ContiguousArray<UInt16>()
        var zeros = ContiguousArray<UInt16>()
        var vScales = ContiguousArray<UInt16>()
        var vZeros = ContiguousArray<UInt16>()
        codes.reserveCapacity(indices.count * keyRowBytes)
        values.reserveCapacity(indices.count * valueRowBytes)
        var lastGroup = -1
        var group = 0
        for (kept, i) in indices.enumerated() {
            while groupEnd(group) <= i { group += 1 }
            if group != lastGroup {
                starts.append(Int32(kept))
                scales.append(contentsOf: keyScales[group * d ..< (group + 1) * d])
                zeros.append(contentsOf: keyZeros[group * d ..< (group + 1) * d])
                lastGroup = group
            }
            codes.append(contentsOf: keyCodes[i * keyRowBytes ..< (i + 1) * keyRowBytes])
            values.append(contentsOf: valueCodes[i * valueRowBytes ..< (i + 1) * valueRowBytes])
            vScales.append(contentsOf: valueScales[i * groups ..< (i + 1) * groups])
            vZeros.append(contentsOf: valueZeros[i * groups ..< (i + 1) * groups])
        }
        keyCodes = codes
        valueCodes = values
        keyGroupStarts = starts
        keyScales = scales
        keyZeros = zeros
        valueScales = vScales
        valueZeros = vZeros
        positions = PositionRuns(indices.map { positions[$0] })
    }

    /// Decodes each key group holding a moved token, rotates the moved keys and quantizes the group again (new
    /// scales: a rotation mixes channel pairs, so the old per-channel ranges no longer hold).
    public func reposition(_ newPositions: [Int32], rope: RoPE) {
        let d = headDimension
        let half = rope.dimensions / 2
        var cos = [Float](repeating: 0, count: half)
        var sin = cos
        for group in 0 ..< keyGroupStarts.count {
            let range = Int(keyGroupStarts[group]) ..< groupEnd(group)
            guard range.contains(where: { newPositions[$0] != positions[$0] }) else { continue }
            var rows = range.flatMap { key($0) }
            for (r, j) in range.enumerated() where newPositions[j] != positions[j] {
                rope.table(position: Int(newPositions[j] - positions[j]), cos: &cos, sin: &sin)
                rows.withUnsafeMutableBufferPointer { buffer in
                    rope.rotate(buffer.baseAddress! + r * d, heads: 1, headDimension: d, cos: cos, sin: sin)
                }
            }
            rows.withUnsafeBufferPointer { writeKeyGroup(group, rows: $0.baseAddress!, firstToken: range.lowerBound,
                                                         tokens: range.count) }
        }
        positions = PositionRuns(newPositions)
    }

    /// Overwrites token `index` (a merge): its value is quantized alone, its key group is quantized again.
    public func replace(_ index: Int, key: [Float], value: [Float]) {
        let d = headDimension
        let group = groupIndex(of: index)
        let range = Int(keyGroupStarts[group]) ..< groupEnd(group)
        var rows = range.flatMap { self.key($0) }
        rows.replaceSubrange((index - range.lowerBound) * d ..< (index - range.lowerBound + 1) * d, with: key)
        rows.withUnsafeBufferPointer { writeKeyGroup(group, rows: $0.baseAddress!, firstToken: range.lowerBound,
                                                     tokens: range.count) }
        value.withUnsafeBufferPointer { writeValue(index, $0.baseAddress!) }
    }

    public func copy(sharing copies: SharedStorageCopies) -> any KVSegment {
        let c = KIVISegment(headDimension: headDimension, settings: settings)
        c.keyCodes = keyCodes
        c.keyGroupStarts = keyGroupStarts
        c.keyScales = keyScales
        c.keyZeros = keyZeros
        c.valueCodes = valueCodes
        c.valueScales = valueScales
        c.valueZeros = valueZeros
        c.positions = positions
        return c
    }

    // MARK: Quantization

    /// The key group holding token `index` (binary search over the group starts).
    func groupIndex(of index: Int) -> Int {
        var low = 0
        var high = keyGroupStarts.count
        while high - low > 1 {
            let mid = (low + high) / 2
            if Int(keyGroupStarts[mid]) <= index { low = mid } else { high = mid }
        }
        return low
    }

    func groupEnd(_ group: Int) -> Int {
        group + 1 < keyGroupStarts.count ? Int(keyGroupStarts[group + 1]) : count
    }

    /// Quantizes `tokens` key rows ([tokens, d], the model's frame) per channel into key group `group`, tokens from
    /// `firstToken`.
    private func writeKeyGroup(_ group: Int, rows: UnsafePointer<Float>, firstToken: Int, tokens: Int) {
        withStoredRows(rows, count: tokens) { stored in
            writeStoredKeyGroup(group, rows: stored, firstToken: firstToken, tokens: tokens)
        }
    }

    private func writeStoredKeyGroup(_ group: Int, rows: UnsafePointer<Float>, firstToken: Int, tokens: Int) {
        let d = headDimension
        var codes = [UInt8](repeating: 0, count: tokens * d)
        for c in 0 ..< d {
            let (scale, zero) = AsymmetricQuantizer.quantize(rows + c, count: tokens, stride: d, bits: settings.keyBits,
                                                              fit: settings.fit) { codes[$0 * d + c] = $1 }
            keyScales[group * d + c] = scale
            keyZeros[group * d + c] = zero
        }
        keyCodes.withUnsafeMutableBufferPointer { buffer in
            codes.withUnsafeBufferPointer { source in
                for t in 0 ..< tokens {
                    PackedCodes.pack(source.baseAddress! + t * d, count: d, bits: settings.keyBits,
                                     into: buffer.baseAddress! + (firstToken + t) * keyRowBytes)
                }
            }
        }
    }

    private func appendValue(_ row: UnsafePointer<Float>) {
        valueCodes.append(contentsOf: repeatElement(0, count: valueRowBytes))
        valueScales.append(contentsOf: repeatElement(0, count: valueGroups))
        valueZeros.append(contentsOf: repeatElement(0, count: valueGroups))
        writeValue(valueCodes.count / valueRowBytes - 1, row)
    }

    /// Quantizes one value row (the model's frame) per group of `settings.group` channels into token slot `index`.
    private func writeValue(_ index: Int, _ row: UnsafePointer<Float>) {
        withStoredRows(row, count: 1) { writeStoredValue(index, $0) }
    }

    private func writeStoredValue(_ index: Int, _ row: UnsafePointer<Float>) {
        let group = settings.group
        var codes = [UInt8](repeating: 0, count: headDimension)
        for g in 0 ..< valueGroups {
            let (scale, zero) = AsymmetricQuantizer.quantize(row + g * group, count: group, stride: 1,
                                                              bits: settings.bits, fit: settings.fit) {
                codes[g * group + $0] = $1
            }
            valueScales[index * valueGroups + g] = scale
            valueZeros[index * valueGroups + g] = zero
        }
        valueCodes.withUnsafeMutableBufferPointer { buffer in
            codes.withUnsafeBufferPointer {
                PackedCodes.pack($0.baseAddress!, count: headDimension, bits: settings.bits,
                                 into: buffer.baseAddress! + index * valueRowBytes)
            }
        }
    }
}
