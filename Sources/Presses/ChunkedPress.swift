// Based on: kvpress's ChunkPress (compress a long context chunk by chunk), made real: memory stays bounded
// during prefill because each chunk is compressed before the next one is read.
import KVCache

/// Prefills the prompt `chunk` tokens at a time and, after each chunk, removes the scorer's fraction of that
/// chunk's tokens (earlier chunks are left as they were). The cache never holds more than the kept tokens of
/// past chunks plus one whole chunk, so peak memory during prefill is bounded too.
public struct ChunkedPress: KVPress {
    public let scorer: any ScorerPress
    public let chunk: Int
    public var description: String { "chunked(\(scorer.description), \(chunk))" }
    public var needs: AttentionNeeds { scorer.needs }
    public var prefillChunk: Int? { chunk }

    public init(scorer: any ScorerPress, chunk: Int) throws {
        guard chunk > 0 else { throw PressError.invalidParameter(name: "chunk", reason: "must be positive, got \(chunk)") }
        self.scorer = scorer
        self.chunk = chunk
    }

    /// Every chunk was compressed as it arrived (`compressDuringPrefill`); nothing is left to do.
    public func compress(_ cache: KVCache) throws {}

    public func compressDuringPrefill(_ cache: KVCache, positions: Range<Int>) throws {
        let ratio = scorer.compressionRatio
        guard ratio > 0 else { return }
        try scorer.keep(in: cache, positions: positions) { Budget.kept($0, ratio: ratio) }
    }
}
