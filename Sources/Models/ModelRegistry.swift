import GGUF

/// Architectures TokenPress can run, keyed by `general.architecture`. Adding one is a file and a line here.
public enum ModelRegistry {
    public typealias Loader = @Sendable (GGUFFile) throws -> any LanguageModel

    public static let loaders: [String: Loader] = [
        "llama": { try Llama(file: $0, variant: .llama) },
        "qwen2": { try Llama(file: $0, variant: .qwen2) },
        "qwen3": { try Llama(file: $0, variant: .qwen3) },
        "gemma3": { try Gemma3(file: $0) },
    ]

    public static var supportedArchitectures: [String] { loaders.keys.sorted() }

    public static func load(_ file: GGUFFile) throws -> any LanguageModel {
        let architecture = try file.string(GGUFKey.architecture)
        guard let loader = loaders[architecture] else {
            throw ModelError.unsupportedArchitecture(architecture, supported: supportedArchitectures)
        }
        return try loader(file)
    }
}
