import Foundation
import KVCache

/// Caches of prompts already read, kept so a request that starts the same way does not read (and compress) them
/// again: "compress a document once, ask it many questions", and the turns of a chat. Least recently used entries
/// go first once the entries' bytes pass `capacity`. Used on the engine thread only.
final class PrefixCache {
    struct Entry {
        /// How the cache was compressed and stored (`CompressionChoice.key`): only requests asking the same reuse it.
        let compression: String
        /// The tokens the cache was read from, in order (compressed ones included).
        let tokens: [Int]
        /// Whether the cache holds every token at its own position uncompressed, so any prefix of `tokens` is a
        /// valid start; a compressed cache is only valid for exactly `tokens`.
        let extendable: Bool
        let cache: KVCache
        /// The logits after the last token, so a prompt equal to `tokens` needs no forward pass at all.
        let logits: [Float]
        var lastUse: UInt64

        var bytes: Int { cache.byteCount + logits.count * MemoryLayout<Float>.size }
    }

    /// What a lookup found: a copy of a cache to continue from.
    struct Hit {
        let cache: KVCache
        /// Prompt tokens the cache already holds.
        let tokens: Int
        /// Logits after those tokens, when they are the whole prompt.
        let logits: [Float]?
    }

    let capacity: Int
    private var entries: [Entry] = []
    private var clock: UInt64 = 0
    private(set) var hits = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    var byteCount: Int { entries.reduce(0) { $0 + $1.bytes } }
    var count: Int { entries.count }

    /// The longest usable entry for `prompt` stored as `compression`: a compressed entry must equal the prompt's first
    /// `compressedPrefix` tokens; an uncompressed one may be any prefix of the prompt.
    func lookup(prompt: [Int], compressedPrefix: Int, compression: String) -> Hit? {
        var best: Int?
        for (index, entry) in entries.enumerated() where entry.compression == compression {
            let usable = entry.extendable
                ? entry.tokens.count <= prompt.count && prompt.starts(with: entry.tokens)
                : entry.tokens.count == compressedPrefix && prompt.starts(with: entry.tokens)
            guard usable, entry.tokens.count > (best.map { entries[$0].tokens.count } ?? 0) else { continue }
            best = index
        }
        guard let index = best else { return nil }
        clock += 1
        entries[index].lastUse = clock
        hits += 1
        let entry = entries[index]
        let whole = entry.tokens.count == prompt.count
        return Hit(cache: entry.cache.copy(), tokens: entry.tokens.count, logits: whole ? entry.logits : nil)
    }

    /// Keeps a copy of `cache` (read from `tokens`); entries it makes redundant and the least recently used ones
    /// beyond the capacity are dropped.
    func store(cache: KVCache, tokens: [Int], logits: [Float], compression: String, extendable: Bool) {
        guard capacity > 0, !tokens.isEmpty else { return }
        clock += 1
        let entry = Entry(compression: compression, tokens: tokens, extendable: extendable, cache: cache.copy(),
                          logits: logits, lastUse: clock)
        guard entry.bytes <= capacity else { return }
        // An uncompressed entry that is a prefix of the new one serves nothing the new one does not.
        entries.removeAll { old in
            old.compression == compression && old.extendable == extendable
                && (extendable ? tokens.starts(with: old.tokens) : old.tokens == tokens)
        }
        entries.append(entry)
        while byteCount > capacity, let oldest = entries.indices.min(by: { entries[$0].lastUse < entries[$1].lastUse }) {
            entries.remove(at: oldest)
        }
    }
}
