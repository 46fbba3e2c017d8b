// Based on: kvpress's ComposedPress (no paper): presses applied one after another.
import KVCache

/// Applies presses in sequence (e.g. streaming then snapkv); statistics are collected once for all of them.
public struct ComposedPress: KVPress {
    public let presses: [any KVPress]
    public var description: String { presses.map(\.description).joined(separator: "+") }
    public var needs: AttentionNeeds { presses.reduce(.none) { $0.union($1.needs) } }
    public var prefillChunk: Int? { presses.lazy.compactMap(\.prefillChunk).first }
    public var compressesDuringDecoding: Bool { presses.contains { $0.compressesDuringDecoding } }
    /// The last precision press's storage decides (eviction presses leave storage alone).
    public var storage: KVStorage? { presses.lazy.compactMap(\.storage).last }

    public init(_ presses: [any KVPress]) throws {
        guard !presses.isEmpty else { throw PressError.invalidParameter(name: "composed", reason: "needs at least one press") }
        self.presses = presses
    }

    public func compress(_ cache: KVCache) throws {
        for press in presses { try press.compress(cache) }
    }

    public func compressDuringPrefill(_ cache: KVCache, positions: Range<Int>) throws {
        for press in presses { try press.compressDuringPrefill(cache, positions: positions) }
    }

    public func compressDuringDecoding(_ cache: KVCache, step: Int) throws {
        for press in presses { try press.compressDuringDecoding(cache, step: step) }
    }
}
