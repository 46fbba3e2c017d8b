import Kernels

/// The tokens one KV head retains, as a list of segments (`KVSegment`): its own f16 tokens first, then any it
/// reads from storage shared with another layer. Heads are independent so a press can give each its own length;
/// removal compacts storage for real.
///
/// Presses index the head's pressable tokens: the pressable segments' tokens one after the other.
public final class HeadCache {
    public let headDimension: Int
    /// How this head stores its tokens (set at creation or with `setStorage`).
    public private(set) var storage: KVStorage
    /// Every segment attention reads, in the order it reads them.
    public private(set) var segments: [any KVSegment]
    /// Where appended and inserted tokens go.
    private(set) var tail: any AppendableSegment

    public init(headDimension: Int, storage: KVStorage = .f16) {
        self.headDimension = headDimension
        self.storage = storage
        let own = Self.makeTail(storage, headDimension: headDimension)
        segments = [own]
        tail = own
    }

    init(headDimension: Int, storage: KVStorage, segments: [any KVSegment], tail: any AppendableSegment) {
        self.headDimension = headDimension
        self.storage = storage
        self.segments = segments
        self.tail = tail
    }

    /// The segment new tokens go to: f16 rows (also KIVI's residual window) or llama.cpp cache types.
    private static func makeTail(_ storage: KVStorage, headDimension d: Int) -> any AppendableSegment {
        switch storage {
        case .cacheTypes(let key, let value, let rotated) where key != .f16 || value != .f16:
            return CacheTypeSegment(headDimension: d, keyType: key, valueType: value, rotated: rotated)
        default:
            return F16Segment(headDimension: d)
        }
    }

    /// Stores this head's tokens as `newStorage` from now on; the tokens it holds are decoded and stored again
    /// (their order and positions stay, so press indices and statistics still match). Shared tokens stay shared.
    public func setStorage(_ newStorage: KVStorage) {
        guard newStorage != storage else { return }
        let d = headDimension
        let own = ownTokens()
        let keys = own.keys.flatMap { $0 }
        let values = own.values.flatMap { $0 }
        let positions = own.positions
        storage = newStorage
        tail = Self.makeTail(newStorage, headDimension: d)
        segments = [tail] + segments.filter { $0.sharedStorage != nil }
        guard !positions.isEmpty else { return }
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                for t in positions.indices {
                    let (key, value, position) = (k.baseAddress! + t * d, v.baseAddress! + t * d, Int(positions[t]))
                    // A token an insert placed out of order: KIVI starts a new quantized run after it; other
                    // storage takes it at its place (positions ascend within a segment).
                    if t > 0, positions[t] <= positions[t - 1] {
                        guard case .kivi = newStorage else {
                            tail.insert(key: Array(UnsafeBufferPointer(start: key, count: d)),
                                        value: Array(UnsafeBufferPointer(start: value, count: d)), position: position)
                            continue
                        }
                        ageResidualWindow(keepingNone: true)
                    }
                    tail.append(key: key, value: value, position: position)
                }
            }
        }
        ageResidualWindow()
    }

    /// Stores this head's own tokens at two precisions: the pressable tokens at `important` (press indices) as
    /// `high`, the others as `low` (quantized as `codes` says). New tokens then go to an f16 tail. Returns the old
    /// press index of each token in the new press order (the low ones, then the important ones, each by position),
    /// so statistics can follow.
    public func storeMixed(important: Set<Int>, high: TokenPrecision, low: TokenPrecision,
                           codes: CodeSettings) -> [Int] {
        let all = 0 ..< count
        let tiers = [(low, all.filter { !important.contains($0) }), (high, all.filter { important.contains($0) })]
        return storeTiers(tiers.map { (precision: $0.0, indices: $0.1) }, codes: codes)
    }

    /// Stores this head's own tokens in one segment per tier, at the tier's precision (quantized tiers as KIVI
    /// segments coded as `codes` says), each tier's tokens by position; tokens in no tier are dropped. New tokens
    /// then go to an f16 tail. Returns the old press index of each kept token in the new press order (tier by
    /// tier), so statistics can follow.
    public func storeTiers(_ tiers: [(precision: TokenPrecision, indices: [Int])], codes: CodeSettings) -> [Int] {
        let d = headDimension
        let (keys, values, positions) = ownTokens()
        func segment(_ indices: [Int], _ precision: TokenPrecision) -> any KVSegment {
            let rowsK = indices.flatMap { keys[$0] }
            let rowsV = indices.flatMap { values[$0] }
            let at = indices.map { positions[$0] }
            switch precision {
            case .f16:
                let f16 = F16Segment(headDimension: d)
                for (r, position) in at.enumerated() {
                    rowsK.withUnsafeBufferPointer { k in
                        rowsV.withUnsafeBufferPointer { v in
                            f16.append(key: k.baseAddress! + r * d, value: v.baseAddress! + r * d, position: Int(position))
                        }
                    }
                }
                return f16
            case .bits(let bits):
                let kivi = KIVISegment(headDimension: d, settings: codes.kivi(bits: bits))
                rowsK.withUnsafeBufferPointer { k in
                    rowsV.withUnsafeBufferPointer { v in
                        kivi.append(keys: k.baseAddress!, values: v.baseAddress!, tokens: indices.count, positions: at)
                    }
                }
                return kivi
            }
        }
        let ordered = tiers.filter { !$0.indices.isEmpty }.map { tier in
            (tier.precision, tier.indices.sorted { (positions[$0], $0) < (positions[$1], $1) })
        }
        let shared = segments.filter { $0.sharedStorage != nil }
        storage = .f16
        tail = F16Segment(headDimension: d)
        segments = ordered.map { segment($0.1, $0.0) } + [tail] + shared
        return ordered.flatMap { $0.1 }
    }

    /// Stores this head's own tokens in one segment `make` builds from their rows and positions (by position);
    /// new tokens then go to an f16 tail. Returns the old press index of each token in the new order.
    public func storeOwnTokens(_ make: (_ keys: [[Float]], _ values: [[Float]], _ positions: [Int32]) -> any KVSegment)
        -> [Int] {
        let (keys, values, positions) = ownTokens()
        let order = positions.indices.sorted { positions[$0] < positions[$1] }
        let stored = make(order.map { keys[$0] }, order.map { values[$0] }, order.map { positions[$0] })
        storage = .f16
        tail = F16Segment(headDimension: headDimension)
        segments = [stored, tail] + segments.filter { $0.sharedStorage != nil }
        return order
    }

    /// This head's own tokens (not those it shares), decoded, in press index order.
    private func ownTokens() -> (keys: [[Float]], values: [[Float]], positions: [Int32]) {
        var keys: [[Float]] = []
        var values: [[Float]] = []
        var positions: [Int32] = []
        for segment in segments where segment.sharedStorage == nil {
            for i in 0 ..< segment.count {
                keys.append(segment.key(i))
                values.append(segment.value(i))
            }
            positions += segment.positions
        }
        return (keys, values, positions)
    }

    /// The segments presses may score and drop.
    public var pressableSegments: [any KVSegment] { segments.filter(\.isPressable) }

    /// Tokens presses index (shared tokens are not among them).
    public var count: Int { segments.reduce(0) { $0 + ($1.isPressable ? $1.count : 0) } }
    /// Tokens attention reads: every segment's.
    public var attendedCount: Int { segments.reduce(0) { $0 + $1.count } }
    /// Whether this head reads tokens whose storage another head reads too.
    public var isSharing: Bool { segments.contains { $0.sharedStorage != nil } }

    /// Positions of the pressable tokens, in press index order.
    public var positions: [Int32] {
        pressableSegments.flatMap(\.positions)
    }

    /// Number of leading pressable tokens whose position is ≤ `position` (positions ascend over the pressable
    /// segments, so this is each segment's own count, summed; no array is built).
    public func visibleCount(upTo position: Int) -> Int {
        pressableSegments.reduce(0) { $0 + $1.visibleCount(upTo: position) }
    }

    /// Exact bytes held: every segment's (shared storage is charged to one of the heads that read it).
    public var byteCount: Int { segments.reduce(0) { $0 + $1.byteCount } }
    /// The part of `byteCount` positions take (runs of consecutive positions: `PositionRuns`).
    public var positionBytes: Int { segments.reduce(0) { $0 + $1.positionBytes } }

    /// Makes this head read `segment` too, after the segments it has (e.g. tokens shared with another layer).
    public func attach(_ segment: any KVSegment) {
        precondition(segment.headDimension == headDimension, "a segment of another head dimension")
        segments.append(segment)
    }

    public func reserveCapacity(_ tokens: Int) { tail.reserveCapacity(tokens) }

    /// Appends one token (`key` and `value` hold `headDimension` floats).
    public func append(key: UnsafePointer<Float>, value: UnsafePointer<Float>, position: Int) {
        tail.append(key: key, value: value, position: position)
        ageResidualWindow()
    }

    /// Appends a batch of tokens at consecutive positions (see `AppendableSegment`).
    public func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int, tokens: Int,
                       firstPosition: Int) {
        tail.append(keys: keys, values: values, stride: stride, tokens: tokens, firstPosition: firstPosition)
        ageResidualWindow()
    }

    /// With KIVI storage, moves the oldest f16 tokens beyond the residual window into quantized storage, whole
    /// groups at a time (all of them, partial group included, when `keepingNone`), so the f16 window stays
    /// between `residual` and `residual + group − 1` tokens.
    /// KIVI's `sinks`: until the head quantizes its first tokens, those that age out of the residual window (up to
    /// `sinks` of them) go to an f16 segment before the quantized runs instead, and stay there. Once a quantized run
    /// exists no token becomes a sink, so positions still ascend from segment to segment. Returns how many sinks
    /// the head holds while it has no quantized run yet (0 once it has one).
    @discardableResult
    private func keepSinks(_ settings: KIVISettings, keepingNone: Bool) -> Int {
        guard settings.sinks > 0, !segments.contains(where: { $0 is KIVISegment }) else { return 0 }
        let tailIndex = segments.firstIndex { $0 === tail }!
        let sinkSegment = tailIndex > 0 ? segments[tailIndex - 1] as? F16Segment : nil
        let held = sinkSegment?.count ?? 0
        let moved = min(settings.sinks - held, tail.count - (keepingNone ? 0 : settings.residual))
        guard moved > 0 else { return held }
        let sinks = sinkSegment ?? F16Segment(headDimension: headDimension)
        for i in 0 ..< moved {
            let key = tail.key(i)
            let value = tail.value(i)
            key.withUnsafeBufferPointer { k in
                value.withUnsafeBufferPointer { v in
                    sinks.append(key: k.baseAddress!, value: v.baseAddress!, position: Int(tail.positions[i]))
                }
            }
        }
        tail.retain(indices: Array(moved ..< tail.count))
        if sinkSegment == nil { segments.insert(sinks, at: tailIndex) }
        return held + moved
    }

    private func ageResidualWindow(keepingNone: Bool = false) {
        guard case .kivi(let settings) = storage else { return }
        let sinks = keepSinks(settings, keepingNone: keepingNone)
        let excess = tail.count - (keepingNone ? 0 : settings.residual)
        // The sinks take the first slots of the first group, so groups stay aligned to multiples of `group` tokens
        // and the f16 window holds as many tokens as without sinks.
        let group = settings.group
        let moved = keepingNone ? excess : (excess + sinks) / group * group - sinks
        guard moved > 0, moved >= (keepingNone ? 1 : group - sinks) else { return }
        let d = headDimension
        var keys: [Float] = []
        var values: [Float] = []
        keys.reserveCapacity(moved * d)
        values.reserveCapacity(moved * d)
        for i in 0 ..< moved {
            keys += tail.key(i)
            values += tail.value(i)
        }
        let positions = Array(tail.positions.prefix(moved))
        tail.retain(indices: Array(moved ..< tail.count))
        let tailIndex = segments.firstIndex { $0 === tail }!
        // The quantized run just before the tail takes them when they follow it; otherwise a new run starts.
        var target = tailIndex > 0 ? segments[tailIndex - 1] as? KIVISegment : nil
        if let last = target?.positions.last, last >= positions[0] { target = nil }
        if target == nil {
            let run = KIVISegment(headDimension: d, settings: settings)
            segments.insert(run, at: tailIndex)
            target = run
        }
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                target!.append(keys: k.baseAddress!, values: v.baseAddress!, tokens: moved, positions: positions)
            }
        }
    }

    /// Keeps only the pressable tokens at `indices` (ascending), releasing the rest.
    public func retain(indices: [Int]) {
        var offset = 0
        var next = 0
        for segment in pressableSegments {
            let end = offset + segment.count
            var local: [Int] = []
            while next < indices.count, indices[next] < end {
                local.append(indices[next] - offset)
                next += 1
            }
            segment.retain(indices: local)
            offset = end
        }
    }

    /// Inserts one token (e.g. a merged one standing for several evicted tokens) where its position keeps the
    /// positions in order; returns its press index. Its bytes count like any other token's.
    @discardableResult
    public func insert(key: [Float], value: [Float], position: Int) -> Int {
        let local = tail.insert(key: key, value: value, position: position)
        return offset(of: tail) + local
    }

    /// Overwrites the key and value of pressable token `index` (e.g. with a merge of several tokens).
    public func replace(_ index: Int, key: [Float], value: [Float]) {
        let (segment, local) = locate(index)
        guard let rewritable = segment as? any RewritableSegment else {
            preconditionFailure("token \(index) is in a segment that cannot be overwritten")
        }
        rewritable.replace(local, key: key, value: value)
    }

    /// Key and value of pressable token `index`, as floats.
    public func token(_ index: Int) -> (key: [Float], value: [Float]) {
        let (segment, local) = locate(index)
        return (segment.key(local), segment.value(local))
    }

    /// Every pressable key as floats, [count, headDimension].
    public func keyRows() -> [Float] { pressableSegments.flatMap { s in (0 ..< s.count).flatMap { s.key($0) } } }
    /// Every pressable value as floats, [count, headDimension].
    public func valueRows() -> [Float] { pressableSegments.flatMap { s in (0 ..< s.count).flatMap { s.value($0) } } }

    /// logits[j] = query · key_j over the first `visible` pressable tokens (tiled order), for
    /// presses and statistics. `scratch` holds `headDimension` floats.
    public func pressableLogits(query: UnsafePointer<Float>, visible: Int, kernel: AttentionKernel,
                                scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>) {
        var done = 0
        for segment in pressableSegments where done < visible {
            let n = min(segment.count, visible - done)
            segment.logits(query: query, tokens: 0 ..< n, order: .tiled, kernel: kernel, scratch: scratch,
                           into: logits + done)
            done += n
        }
    }

    /// An independent deep copy; storage shared with other heads is copied once per `copies`.
    public func copy(sharing copies: SharedStorageCopies) -> HeadCache {
        var copiedTail: (any AppendableSegment)?
        let copied = segments.map { segment -> any KVSegment in
            let c = segment.copy(sharing: copies)
            if segment === tail { copiedTail = c as? any AppendableSegment }
            return c
        }
        return HeadCache(headDimension: headDimension, storage: storage, segments: copied, tail: copiedTail!)
    }

    public func removeAll() {
        let own = Self.makeTail(storage, headDimension: headDimension)
        segments = [own]
        tail = own
    }

    /// The pressable segment holding press index `index`, and the index within it.
    private func locate(_ index: Int) -> (any KVSegment, Int) {
        var offset = 0
        for segment in pressableSegments {
            if index < offset + segment.count { return (segment, index - offset) }
            offset += segment.count
        }
        preconditionFailure("token \(index) is past the \(offset) pressable tokens")
    }

    /// The press index of `segment`'s first token.
    private func offset(of segment: any KVSegment) -> Int {
        var offset = 0
        for s in pressableSegments {
            if s === segment { return offset }
            offset += s.count
        }
        return offset
    }
}
