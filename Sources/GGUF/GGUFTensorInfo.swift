/// One entry of the tensor directory. `dimensions[0]` is the innermost (row length), as in GGML.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset of the data from the start of the file (not of the data section).
    public let fileOffset: Int
    public let byteCount: Int

    public var elementCount: Int { dimensions.reduce(1, *) }
}
