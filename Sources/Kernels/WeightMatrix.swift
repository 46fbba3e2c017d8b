/// A weight matrix in its stored format: `rows` output features, each a row of `columns` input features.
/// The bytes belong to the memory-mapped model file; nothing is copied.
public struct WeightMatrix: @unchecked Sendable {
    public let format: any QuantFormat.Type
    public let rows: Int
    public let columns: Int
    public let data: UnsafeRawPointer  // [rows, rowBytes]

    public init(format: any QuantFormat.Type, rows: Int, columns: Int, data: UnsafeRawPointer) {
        precondition(columns % format.blockElements == 0, "row length must be a whole number of blocks")
        self.format = format
        self.rows = rows
        self.columns = columns
        self.data = data
    }

    public var rowBytes: Int { columns / format.blockElements * format.blockBytes }

    public func row(_ index: Int) -> UnsafeRawPointer { data + index * rowBytes }

    public func dequantizeRow(_ index: Int, into output: UnsafeMutablePointer<Float>) {
        format.dequantize(row: row(index), count: columns, into: output)
    }
}
