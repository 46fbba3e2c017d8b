import Kernels

/// The kernels attention runs with, chosen once per call: llama.cpp's AVX2 code paths or their portable twins.
/// Both give the same bits; a segment implements both for its storage format.
public enum AttentionKernel: Sendable {
    case avx2
    case portable

    /// The AVX2 kernels when this CPU has them (and they are not forced off) and rows are a multiple of 32 floats.
    public static func forRows(of headDimension: Int) -> AttentionKernel {
        KernelDispatch.useAVX2 && headDimension % 32 == 0 ? .avx2 : .portable
    }
}

/// A run of tokens of one KV head in one storage format: f16 rows today (`F16Segment`), tokens shared between
/// two layers (`SharedTokenView`), quantized or sparse ones next. A head's cache is a list of segments
/// (`HeadCache`); attention reads every segment through this protocol and never sees how a segment stores its
/// tokens, and presses see keys and values only as rows of floats.
///
/// Positions ascend within a segment. Indices are the segment's own (0 ..< count).
public protocol KVSegment: AnyObject {
    var headDimension: Int { get }
    var count: Int { get }
    /// The original position of every token, ascending.
    var positions: PositionRuns { get }
    /// Exact bytes this segment charges the head that holds it (storage shared by two heads is charged once).
    var byteCount: Int { get }
    /// Whether presses may score and drop these tokens (tokens shared with another layer are not).
    var isPressable: Bool { get }
    /// The storage this segment reads when other heads read it too (nil when the segment owns its tokens):
    /// copies and re-indexing handle such storage once.
    var sharedStorage: AnyObject? { get }

    /// logits[j − tokens.lowerBound] = query · key_j for j in `tokens`, summed in `order`.
    /// `query` holds f16-exact floats; `scratch` holds `headDimension` floats.
    func logits(query: UnsafePointer<Float>, tokens: Range<Int>, order: SummationOrder, kernel: AttentionKernel,
                scratch: UnsafeMutablePointer<Float>, into logits: UnsafeMutablePointer<Float>)

    /// output[i] = Σ_j f16(weights[j − tokens.lowerBound]) · value_j[i] for j in `tokens`, summed in `order`.
    /// The segment may overwrite `weights`. `lanes` holds 32 · headDimension floats, `scratch` headDimension.
    func weightedSum(weights: UnsafeMutablePointer<Float>, tokens: Range<Int>, order: SummationOrder,
                     kernel: AttentionKernel, lanes: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                     into output: UnsafeMutablePointer<Float>)

    /// Key of token `index` as floats (dequantized), as attention reads it.
    func key(_ index: Int) -> [Float]
    /// Value of token `index` as floats (dequantized), as attention reads it.
    func value(_ index: Int) -> [Float]

    /// Keeps only the tokens at `indices` (ascending), releasing the rest.
    func retain(indices: [Int])
    /// Gives token i position `newPositions[i]` (ascending), rotating its key by the change: keys are stored after
    /// RoPE, and rotations add up.
    func reposition(_ newPositions: [Int32], rope: RoPE)
    /// An independent deep copy; storage shared with other segments is copied once per `copies`.
    func copy(sharing copies: SharedStorageCopies) -> any KVSegment
}

/// A segment whose tokens can be overwritten in place (a merging press replaces kept tokens by merges).
public protocol RewritableSegment: KVSegment {
    /// Overwrites the key and value of token `index`; its position stays.
    func replace(_ index: Int, key: [Float], value: [Float])
}

/// A segment that takes new tokens: where a head's appended, inserted and merged tokens go.
public protocol AppendableSegment: RewritableSegment {
    func reserveCapacity(_ tokens: Int)
    /// Appends one token after the last (`key` and `value` hold `headDimension` floats).
    func append(key: UnsafePointer<Float>, value: UnsafePointer<Float>, position: Int)
    /// Appends `tokens` tokens at consecutive positions from `firstPosition`, token t's key and value read at
    /// `keys + t·stride` and `values + t·stride` (one head's rows of a batch laid out [tokens, heads, d]).
    func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int, tokens: Int, firstPosition: Int)
    /// Inserts one token where its position keeps positions ascending; returns its index.
    func insert(key: [Float], value: [Float], position: Int) -> Int
}

/// Copies of shared storage made during one deep copy of a cache, so that two heads reading one storage read one
/// copy of it afterwards.
public final class SharedStorageCopies {
    private var copies: [ObjectIdentifier: AnyObject] = [:]

    public init() {}

    /// The copy of `storage`, made by `make` the first time it is asked for.
    public func copy<Storage: AnyObject>(of storage: Storage, _ make: (Storage) -> Storage) -> Storage {
        if let done = copies[ObjectIdentifier(storage)] as? Storage { return done }
        let made = make(storage)
        copies[ObjectIdentifier(storage)] = made
        return made
    }
}

extension KVSegment {
    /// Number of leading tokens whose position is ≤ `position` (what a query at `position` may see).
    public func visibleCount(upTo position: Int) -> Int {
        positions.count(upTo: position)
    }

    /// The part of `byteCount` its positions take (0 where another head is charged for the storage).
    public var positionBytes: Int { byteCount == 0 ? 0 : positions.byteCount }
}
