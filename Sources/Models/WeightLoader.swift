import GGUF
import Kernels

/// Reads tensors from a GGUF file as kernel-ready views, checking names, shapes and types.
struct WeightLoader {
    let file: GGUFFile

    /// A matrix stored as GGML dims [columns, rows].
    func matrix(_ name: String, columns: Int, rows: Int) throws -> WeightMatrix {
        let info = try tensor(name)
        guard info.dimensions == [columns, rows] else {
            throw ModelError.badTensorShape(tensor: name, expected: [columns, rows], found: info.dimensions)
        }
        guard let format = QuantFormats.format(typeID: info.type.rawValue) else {
            throw ModelError.unsupportedWeightType(tensor: name, type: info.type.name)
        }
        guard let base = file.tensorData(info).baseAddress else {
            throw ModelError.badTensorShape(tensor: name, expected: [columns, rows], found: info.dimensions)
        }
        return WeightMatrix(format: format, rows: rows, columns: columns, data: base)
    }

    /// A vector of `count` floats (any format), decoded once.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let info = try tensor(name)
        guard info.dimensions == [count] else {
            throw ModelError.badTensorShape(tensor: name, expected: [count], found: info.dimensions)
        }
        let m = try matrix(name, columns: count, rows: 1, dims: info.dimensions)
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { m.dequantizeRow(0, into: $0.baseAddress!) }
        return out
    }

    private func matrix(_ name: String, columns: Int, rows: Int, dims: [Int]) throws -> WeightMatrix {
        let info = try tensor(name)
        guard let format = QuantFormats.format(typeID: info.type.rawValue), let base = file.tensorData(info).baseAddress else {
            throw ModelError.unsupportedWeightType(tensor: name, type: info.type.name)
        }
        return WeightMatrix(format: format, rows: rows, columns: columns, data: base)
    }

    func has(_ name: String) -> Bool { file.tensorInfo(name) != nil }

    private func tensor(_ name: String) throws -> GGUFTensorInfo {
        guard let info = file.tensorInfo(name) else { throw GGUFError.missingTensor(name) }
        return info
    }
}
