import GGUF
import Kernels

/// Reads tensors from a GGUF file as kernel-ready views, checking names, shapes and types.
struct WeightLoader {
    let file: GGUFFile

    /// A matrix stored as GGML dims [columns, rows].
    func matrix(_ name: String, columns: Int, rows: Int) throws -> WeightMatrix {
        try view(name, expecting: [columns, rows], columns: columns, rows: rows)
    }

    /// A vector of `count` floats (any format), decoded once.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let m = try view(name, expecting: [count], columns: count, rows: 1)
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { m.dequantizeRow(0, into: $0.baseAddress!) }
        return out
    }

    private func view(_ name: String, expecting dimensions: [Int], columns: Int, rows: Int) throws -> WeightMatrix {
        guard let info = file.tensorInfo(name) else { throw GGUFError.missingTensor(name) }
        guard info.dimensions == dimensions else {
            throw ModelError.badTensorShape(tensor: name, expected: dimensions, found: info.dimensions)
        }
        guard let format = QuantFormats.format(typeID: info.type.rawValue), let base = file.tensorData(info).baseAddress else {
            throw ModelError.unsupportedWeightType(tensor: name, type: info.type.name)
        }
        return WeightMatrix(format: format, rows: rows, columns: columns, data: base)
    }

    func has(_ name: String) -> Bool { file.tensorInfo(name) != nil }
}
