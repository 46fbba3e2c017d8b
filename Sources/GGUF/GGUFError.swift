/// Everything that can be wrong with a GGUF file, each with a one-line message naming the fault.
public enum GGUFError: Error, Equatable, CustomStringConvertible, Sendable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case notGGUF(path: String)
    case unsupportedVersion(UInt32)
    case truncated(what: String, offset: Int, needed: Int, fileSize: Int)
    case duplicateKey(String)
    case duplicateTensor(String)
    case invalidValueType(key: String, typeID: UInt32)
    case invalidUTF8(what: String)
    case tooManyDimensions(tensor: String, count: Int)
    case unsupportedTensorType(tensor: String, typeID: UInt32)
    case misalignedTensor(tensor: String, offset: Int, alignment: Int)
    case badTensorShape(tensor: String, reason: String)
    case tensorOutOfBounds(tensor: String, end: Int, fileSize: Int)
    case invalidAlignment(Int)
    case missingKey(String)
    case wrongValueType(key: String, expected: String, found: String)
    case missingTensor(String)
    case overlappingTensors(String, String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "model file not found: \(path)"
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .notGGUF(let path): return "\(path) is not a GGUF file (bad magic number)"
        case .unsupportedVersion(let v): return "unsupported GGUF version \(v) (supported: 2, 3)"
        case .truncated(let what, let offset, let needed, let size):
            return "GGUF file is truncated: reading \(shown(what, limit: 160)) needs \(needed) bytes at offset \(offset), "
                + "but the file has \(size) bytes"
        case .duplicateKey(let key): return "GGUF metadata key '\(shown(key))' appears more than once"
        case .duplicateTensor(let name): return "GGUF tensor '\(shown(name))' appears more than once"
        case .invalidValueType(let key, let id): return "GGUF metadata key '\(shown(key))' has unknown value type \(id)"
        case .invalidUTF8(let what): return "GGUF \(shown(what, limit: 160)) is not valid UTF-8"
        case .tooManyDimensions(let t, let n): return "GGUF tensor '\(shown(t))' has \(n) dimensions (at most 4 allowed)"
        case .unsupportedTensorType(let t, let id):
            let name = GGMLType.knownName(id).map { "\($0) (id \(id))" } ?? "unknown type id \(id)"
            return "tensor '\(shown(t))' has type \(name), which TokenPress does not support"
        case .misalignedTensor(let t, let off, let a):
            return "GGUF tensor '\(shown(t))' data offset \(off) is not a multiple of the alignment \(a)"
        case .badTensorShape(let t, let reason): return "GGUF tensor '\(shown(t))' has a bad shape: \(reason)"
        case .tensorOutOfBounds(let t, let end, let size):
            return "GGUF tensor '\(shown(t))' data ends at byte \(end), past the end of the file (\(size) bytes): "
                + "the file is truncated or corrupt"
        case .invalidAlignment(let a): return "GGUF general.alignment \(a) is not a positive power of two"
        case .missingKey(let key): return "GGUF metadata key '\(shown(key))' is missing"
        case .wrongValueType(let key, let expected, let found):
            return "GGUF metadata key '\(shown(key))' should be \(expected) but is \(found)"
        case .missingTensor(let name): return "GGUF tensor '\(shown(name))' is missing"
        case .overlappingTensors(let first, let second):
            return "GGUF tensors '\(shown(first))' and '\(shown(second))' overlap in the file: it is corrupt"
        }
    }

    /// Names come from the file: escaped and cut so a corrupt file cannot flood or drive the terminal.
    private func shown(_ name: String, limit: Int = PrintableName.defaultLimit) -> String {
        PrintableName.of(name, limit: limit)
    }
}
