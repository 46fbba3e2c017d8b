import Engine
import Foundation
import XCTest

/// The default model, loaded once for the whole suite (fetched with pip on first use, as the CLI does).
enum ReferenceModel {
    nonisolated(unsafe) private static var cached: InferenceEngine?
    private static let lock = NSLock()

    static func engine() throws -> InferenceEngine {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let path = try ProcessInfo.processInfo.environment["TOKENPRESS_MODEL"] ?? DefaultModel.path { print($0) }
        let engine = try InferenceEngine(modelPath: path)
        cached = engine
        return engine
    }

    static func fixture(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            throw NSError(domain: "fixture", code: 1, userInfo: [NSLocalizedDescriptionKey: "missing fixture \(name)"])
        }
        return try Data(contentsOf: url)
    }

    static func fixtureText(_ name: String) throws -> String {
        String(decoding: try fixture(name), as: UTF8.self)
    }
}
