import Foundation
import KVCache

/// Caches of prompts already read, kept so a request that starts the same way does not read (and compress) them
/// again: "compress a document once, ask it many questions", and the turns of a chat. Least recently used entries
/// go first once the entries' bytes pass `capacity`. Used on the engine thread only.
final class PrefixCache {
    struct Entry {
        /// How `/slots` names the entry.
        var id = 0
        /// How the cache was compressed and stored (`CompressionChoice.key`): only requests asking the same reuse it.
        let compression: String
        /// The tokens the cache was read from, in order (compressed ones included).
        let tokens: [Int]
        /// Whether the cache holds every token at its own position uncompressed, so any start of `tokens` is a valid
        /// cache (cut back to it); a compressed cache is only valid for exactly `tokens`.
        let extendable: Bool
        let cache: KVCache
        /// The logits after the last token, so a prompt equal to `tokens` needs no forward pass at all.
        let logits: [Float]
        /// Tokens a memory target's plan kept room for after `tokens` (0 without a target).
        var reserve = 0
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
    private(set) var entries: [Entry] = []
    private var clock: UInt64 = 0
    private var nextID = 0
    private(set) var hits = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    var byteCount: Int { entries.reduce(0) { $0 + $1.bytes } }
    var count: Int { entries.count }

    /// The entry that serves most of `prompt` stored as `compression`: a compressed entry must equal the prompt's
    /// first `compressedPrefix` tokens; an uncompressed one serves the tokens it shares with the prompt's start (its
    /// copy cut back to them, as llama-server reuses a slot's common prefix).
    /// - Parameter reserve: tokens the request adds after the compressed part; a memory target's entry serves it only
    ///   if its plan kept room for that many.
    func lookup(prompt: [Int], compressedPrefix: Int, compression: String, reserve: Int = 0) -> Hit? {
        var best: (index: Int, tokens: Int)?
        for (index, entry) in entries.enumerated() where entry.compression == compression {
            if entry.reserve > 0, entry.reserve < reserve { continue }
            let usable: Int
            if entry.extendable {
                usable = Self.commonPrefix(entry.tokens, prompt)
            } else {
                let matches = entry.tokens.count == compressedPrefix && prompt.starts(with: entry.tokens)
                usable = matches ? entry.tokens.count : 0
            }
            if usable > (best?.tokens ?? 0) { best = (index, usable) }
        }
        guard let (index, shared) = best else { return nil }
        clock += 1
        entries[index].lastUse = clock
        let entry = entries[index]
        let whole = entry.tokens.count == prompt.count && shared == prompt.count
        // A prompt that is all cached but for the logits of its last token reads that token again.
        let tokens = whole ? shared : min(shared, prompt.count - 1)
        let cache = entry.cache.copy()
        guard tokens > 0, tokens == entry.tokens.count || cache.truncate(toPositions: tokens) else { return nil }
        hits += 1
        return Hit(cache: cache, tokens: tokens, logits: whole ? entry.logits : nil)
    }

    private static func commonPrefix(_ a: [Int], _ b: [Int]) -> Int {
        var count = 0
        while count < a.count, count < b.count, a[count] == b[count] { count += 1 }
        return count
    }

    /// Keeps a copy of `cache` (read from `tokens`); entries it makes redundant and the least recently used ones
    /// beyond the capacity are dropped.
    func store(cache: KVCache, tokens: [Int], logits: [Float], compression: String, extendable: Bool, reserve: Int = 0) {
        guard capacity > 0, !tokens.isEmpty else { return }
        let entry = Entry(compression: compression, tokens: tokens, extendable: extendable, cache: cache.copy(),
                          logits: logits, reserve: reserve, lastUse: clock)
        insert(entry)
    }

    /// Adds `entry` (read from a saved file, or just made) under a new id, which it returns; nil when it does not fit.
    @discardableResult
    func insert(_ new: Entry) -> Int? {
        var entry = new
        clock += 1
        entry.lastUse = clock
        nextID += 1
        entry.id = nextID
        let (compression, tokens, extendable) = (entry.compression, entry.tokens, entry.extendable)
        guard entry.bytes <= capacity else { return nil }
        // An uncompressed entry that is a prefix of the new one serves nothing the new one does not.
        entries.removeAll { old in
            old.compression == compression && old.extendable == extendable && old.reserve == entry.reserve
                && (extendable ? tokens.starts(with: old.tokens) : old.tokens == tokens)
        }
        entries.append(entry)
        while byteCount > capacity, let oldest = entries.indices.min(by: { entries[$0].lastUse < entries[$1].lastUse }) {
            entries.remove(at: oldest)
        }
        return entries.contains { $0.id == entry.id } ? entry.id : nil
    }

    func entry(_ id: Int) -> Entry? { entries.first { $0.id == id } }

    /// Drops entry `id`; false when there is none.
    func remove(_ id: Int) -> Bool {
        guard let index = entries.firstIndex(where: { $0.id == id }) else { return false }
        entries.remove(at: index)
        return true
    }
}
