/// A GGML tensor element format: a block of `blockElements` values stored in `blockBytes` bytes.
public protocol QuantFormat {
    /// GGML's type id (`enum ggml_type`).
    static var typeID: UInt32 { get }
    static var name: String { get }
    static var blockElements: Int { get }
    static var blockBytes: Int { get }
    /// Decodes one block into `blockElements` floats (the scalar reference).
    /// - Parameters:
    ///   - block: the block's first byte.
    ///   - output: room for `blockElements` floats.
    static func dequantize(block: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>)
}

/// A format whose rows are multiplied against 8-bit quantized activations with integer dot products,
/// as llama.cpp does (`vec_dot_type` Q8_0 or Q8_1), which keeps results faithful to it.
public protocol Q8DotFormat: QuantFormat {
    /// Whether the dot product needs the activation block sums (Q8_1) or not (Q8_0).
    static var needsActivationSums: Bool { get }
    /// Dot product of `blocks` weight blocks with quantized activations (vectorized).
    static func dot(row: UnsafeRawPointer, activations: Q8Row, blocks: Int) -> Float
    /// The same dot product, one element at a time: the twin tests compare `dot` with.
    static func dotScalar(row: UnsafeRawPointer, activations: Q8Row, blocks: Int) -> Float
}

extension QuantFormat {
    /// Decodes `count` consecutive values (a whole number of blocks) starting at `source`.
    public static func dequantize(row source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        for b in 0 ..< count / blockElements {
            dequantize(block: source + b * blockBytes, into: output + b * blockElements)
        }
    }
}

/// The table from GGML type id to format.
public enum QuantFormats {
    nonisolated(unsafe) public static let all: [any QuantFormat.Type] = [
        FormatF32.self, FormatF16.self, FormatBF16.self,
        BlockQ4_0.self, BlockQ4_1.self, BlockQ5_0.self, BlockQ5_1.self, BlockQ8_0.self,
        BlockQ2_K.self, BlockQ3_K.self, BlockQ4_K.self, BlockQ5_K.self, BlockQ6_K.self,
    ]

    public static func format(typeID: UInt32) -> (any QuantFormat.Type)? {
        all.first { $0.typeID == typeID }
    }
}

@inline(__always) func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    HalfConversion.float(fromBits: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}
