import GGUF

/// Failures building a model from a GGUF file, each naming the key, tensor or parameter at fault.
public enum ModelError: Error, Equatable, CustomStringConvertible, Sendable {
    case unsupportedArchitecture(String, supported: [String])
    case badTensorShape(tensor: String, expected: [Int], found: [Int])
    case unsupportedWeightType(tensor: String, type: String)
    case invalidHyperparameter(key: String, reason: String)
    case contextOverflow(tokens: Int, context: Int)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let arch, let supported):
            return "unsupported model architecture '\(PrintableName.of(arch))' (supported: \(supported.joined(separator: ", ")))"
        case .badTensorShape(let t, let expected, let found):
            return "tensor '\(PrintableName.of(t))' has shape \(found), expected \(expected)"
        case .unsupportedWeightType(let t, let type):
            return "tensor '\(PrintableName.of(t))' has type \(type), which cannot be used as a weight"
        case .invalidHyperparameter(let key, let reason):
            return "model parameter '\(PrintableName.of(key))' is invalid: \(reason)"
        case .contextOverflow(let tokens, let context):
            return "\(tokens) tokens do not fit the context of \(context) tokens"
        }
    }
}
