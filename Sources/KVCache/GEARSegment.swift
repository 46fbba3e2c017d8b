import Kernels

/// GEAR's three-part storage of a head's tokens: a quantized backbone (KIVI codes: keys per channel, values per
/// token), a low-rank approximation A·Bᵀ of what quantizing left over (rank `rank`, by power iteration, f16), and
/// the largest-magnitude elements of every row kept exactly as sparse outliers (channel index and f16 value),
/// removed before quantizing so they do not stretch the backbone's ranges. For keys and values alike:
/// row ≈ backbone + A_row·Bᵀ + outliers.
///
/// Attention reads the parts as stored: logit = backbone logit + (Bᵀq)·A_j + Σ q[c]·outlier; the value sum is the
/// backbone's sum + B·(Σ_j w_j A_j) + the weighted outliers, added into their channels.
public final class GEARSegment: KVSegment, RewritableSegment {
    public let headDimension: Int
    public let settings: GEARSettings
    private var backbone: KIVISegment
    private var keyPart: LowRankAndOutliers
    private var valuePart: LowRankAndOutliers

    /// Encodes `keys` and `values` (one row per token, at `positions`, ascending).
    public init(headDimension: Int, settings: GEARSettings, keys: [[Float]], values: [[Float]], positions: [Int32]) {
        self.headDimension = headDimension
        self.settings = settings
        let kivi = KIVISettings(checkedBits: settings.bits, group: settings.group, fit: .minMax, rotate: false)
        backbone = KIVISegment(headDimension: headDimension, settings: kivi)
        keyPart = LowRankAndOutliers(dimension: headDimension, rank: settings.rank, outliers: settings.outliersPerRow)
        valuePart = keyPart
        encode(keys: keys, values: values, positions: positions)
    }

    public var count: Int { backbone.count }
    public var positions: PositionRuns { backbone.positions }
    public var isPressable: Bool { true }
    public var sharedStorage: AnyObject? { nil }

    /// The backbone's codes, scales and positions, both low-rank factors and the outliers, exactly.
    public var byteCount: Int { backbone.byteCount + keyPart.byteCount + valuePart.byteCount }

    public func logits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder, kernel: AttentionKernel,
                       scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        guard !tokens.isEmpty else { return }
        backbone.logits(query: query, tokens: tokens, order: order, kernel: kernel, scratch: scratch, into: logits)
        keyPart.addLogits(query: query, tokens: tokens, into: logits)
    }

    public func weightedSum(weights: UnsafeMutablePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                            kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        backbone.weightedSum(weights: weights, tokens: tokens, order: order, kernel: kernel, lanes: lanes,
                             scratch: scratch, into: output)
        valuePart.addWeightedSum(weights: weights, tokens: tokens, into: output)
    }

    public func key(_ index: Int) -> [Float] { keyPart.added(to: backbone.key(index), row: index) }
    public func value(_ index: Int) -> [Float] { valuePart.added(to: backbone.value(index), row: index) }

    public func retain(indices: [Int]) {
        backbone.retain(indices: indices)
        keyPart.retain(indices)
        valuePart.retain(indices)
    }

    /// Moved keys are rotated in full and the whole segment is encoded again (new ranges, factors and outliers).
    public func reposition(_ newPositions: [Int32], rope: RoPE) {
        var keys = (0 ..< count).map(key)
        let values = (0 ..< count).map(value)
        for i in 0 ..< count where newPositions[i] != positions[i] {
            keys[i] = rope.rotated(keys[i], by: Int(newPositions[i] - positions[i]))
        }
        encode(keys: keys, values: values, positions: newPositions)
    }

    /// A merge overwrites one token: the segment is encoded again with it.
    public func replace(_ index: Int, key: [Float], value: [Float]) {
        var keys = (0 ..< count).map(self.key)
        var values = (0 ..< count).map(self.value)
        keys[index] = key
        values[index] = value
        encode(keys: keys, values: values, positions: Array(positions))
    }

    public func copy(sharing copies: SharedStorageCopies) -> any KVSegment {
        GEARSegment(copying: self)
    }

    /// A segment read back from an archive, its parts checked against each other.
    private init(headDimension: Int, settings: GEARSettings, backbone: KIVISegment, keyPart: LowRankAndOutliers,
                 valuePart: LowRankAndOutliers) {
        self.headDimension = headDimension
        self.settings = settings
        self.backbone = backbone
        self.keyPart = keyPart
        self.valuePart = valuePart
    }

    private init(copying other: GEARSegment) {
        headDimension = other.headDimension
        settings = other.settings
        backbone = other.backbone.copy(sharing: SharedStorageCopies()) as! KIVISegment
        keyPart = other.keyPart
        valuePart = other.valuePart
    }

    private func encode(keys: [[Float]], values: [[Float]], positions: [Int32]) {
        let kivi = backbone.settings
        backbone = KIVISegment(headDimension: headDimension, settings: kivi)
        // Outliers out first, then the backbone, then the low-rank fit of what the backbone missed.
        let keyRest = keyPart.takeOutliers(keys)
        let valueRest = valuePart.takeOutliers(values)
        let flatKeys = keyRest.flatMap { $0 }
        let flatValues = valueRest.flatMap { $0 }
        flatKeys.withUnsafeBufferPointer { k in
            flatValues.withUnsafeBufferPointer { v in
                backbone.append(keys: k.baseAddress!, values: v.baseAddress!, tokens: positions.count, positions: positions)
            }
        }
        keyPart.fit(residual: keyRest.indices.map { i in zip(keyRest[i], backbone.key(i)).map { $0 - $1 } })
        valuePart.fit(residual: valueRest.indices.map { i in zip(valueRest[i], backbone.value(i)).map { $0 - $1 } })
    }
}

extension GEARSegment: ArchivableSegment {
    static var archiveKind: UInt8 { 4 }

    func archive(into writer: inout ArchiveWriter) {
        writer.int(settings.bits)
        writer.int(settings.group)
        writer.int(settings.rank)
        writer.int(settings.outliersPerRow)
        backbone.archive(into: &writer)
        keyPart.archive(into: &writer)
        valuePart.archive(into: &writer)
    }

    static func unarchive(from reader: inout ArchiveReader, headDimension: Int) throws -> GEARSegment {
        let settings = GEARSettings(bits: try reader.int(), group: try reader.int(), rank: try reader.int(),
                                    outliersPerRow: try reader.int())
        guard (0 ... headDimension).contains(settings.rank), (0 ... headDimension).contains(settings.outliersPerRow),
              headDimension <= 256 else {
            throw CacheArchiveError.corrupted("GEAR settings \(settings)")
        }
        let backbone = try KIVISegment.unarchive(from: &reader, headDimension: headDimension)
        guard backbone.settings.bits == settings.bits, backbone.settings.group == settings.group else {
            throw CacheArchiveError.corrupted("GEAR's backbone does not match its settings")
        }
        let parts = try (0 ..< 2).map { _ in
            try LowRankAndOutliers.unarchive(from: &reader, dimension: headDimension, rank: settings.rank,
                                             outliers: settings.outliersPerRow, rows: backbone.count)
        }
        return GEARSegment(headDimension: headDimension, settings: settings, backbone: backbone, keyPart: parts[0],
                           valuePart: parts[1])
    }
}

/// GEAR's settings: backbone bits and group, low-rank rank, and the share of each row kept as exact outliers.
public struct GEARSettings: Sendable, Equatable {
    public let bits: Int
    public let group: Int
    public let rank: Int
    public let outliersPerRow: Int

    public init(bits: Int, group: Int, rank: Int, outliersPerRow: Int) {
        self.bits = bits
        self.group = group
        self.rank = rank
        self.outliersPerRow = outliersPerRow
    }
}
