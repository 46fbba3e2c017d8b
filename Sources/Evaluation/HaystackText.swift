import Engine
import Foundation

/// Filler text for needle-in-a-haystack prompts: the King James Version of Genesis and Exodus (public
/// domain), taken from Debian's `bible-kjv-text` package and decoded with its `bible` program — both
/// unpacked into the cache folder, nothing installed, nothing committed.
public enum HaystackText {
    public static let packages = ["bible-kjv", "bible-kjv-text"]
    public static let books = ["gen1:1-50:26", "ex1:1-40:38"]
    public static let fileName = "haystack-kjv-genesis-exodus.txt"

    public static var cachedPath: String { DefaultModel.cacheDirectory.appendingPathComponent(fileName).path }

    /// The local path of the haystack text, fetching it first if needed.
    public static func path(log: (String) -> Void) throws -> String {
        let target = cachedPath
        if FileManager.default.fileExists(atPath: target) { return target }
        let work = DefaultModel.cacheDirectory.appendingPathComponent("haystack-\(getpid())")
        defer { try? FileManager.default.removeItem(at: work) }
        do {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        } catch {
            throw EngineError.fetchFailed(what: "the haystack text", reason: "cannot create \(work.path): \(error.localizedDescription)")
        }
        log("Fetching the haystack text (Debian packages \(packages.joined(separator: ", ")), about 2.5 MB) ...")
        do {
            do {
                try ExternalCommand.run(["apt-get", "download", "-q"] + packages, what: "apt-get download", directory: work)
            } catch {
                log("Refreshing Debian's package lists (apt-get update) and retrying ...")
                try ExternalCommand.run(["apt-get", "update", "-q"], what: "apt-get update")
                try ExternalCommand.run(["apt-get", "download", "-q"] + packages, what: "apt-get download", directory: work)
            }
            let root = work.appendingPathComponent("root")
            for deb in try FileManager.default.contentsOfDirectory(atPath: work.path) where deb.hasSuffix(".deb") {
                try ExternalCommand.run(["dpkg-deb", "-x", work.appendingPathComponent(deb).path, root.path], what: "dpkg-deb -x \(deb)")
            }
            let output = try ExternalCommand.run([root.appendingPathComponent("usr/bin/bible").path, "-p", root.appendingPathComponent("usr/lib").path]
                                                 + books, what: "bible (decoding the text)", capture: true)
            let text = verses(String(decoding: output, as: UTF8.self))
            guard text.count > 100_000 else { throw EngineError.fetchFailed(what: "the haystack text", reason: "the decoded text is too short") }
            try text.write(toFile: target + ".partial", atomically: true, encoding: .utf8)
            try FileManager.default.moveItem(atPath: target + ".partial", toPath: target)
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError.fetchFailed(what: "the haystack text",
                                          reason: "\(error) (needs apt-get and dpkg-deb with access to Debian's archive; or give --haystack FILE)")
        }
        log("Haystack text ready: \(target)")
        return target
    }

    /// Verse lines ("Ge1:1 In the beginning …") to running prose: references dropped, one paragraph per chapter.
    static func verses(_ raw: String) -> String {
        var paragraphs: [String] = [], current: [String] = [], chapter = ""
        for line in raw.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let reference = line[..<space], verse = line[line.index(after: space)...].trimmingCharacters(in: .whitespaces)
            let thisChapter = String(reference.prefix { $0 != ":" })
            if thisChapter != chapter, !current.isEmpty {
                paragraphs.append(current.joined(separator: " "))
                current = []
            }
            chapter = thisChapter
            current.append(verse)
        }
        if !current.isEmpty { paragraphs.append(current.joined(separator: " ")) }
        return paragraphs.joined(separator: "\n\n") + "\n"
    }
}
