import Kernels

// Based on: Efficient Streaming Language Models with Attention Sinks (StreamingLLM), positions assigned within the
// cache; kvpress's KeyRerotationPress does the same re-rotation of cached keys.
extension KVCache {
    /// Moves every head's tokens to consecutive positions ending just before the longest head's length, so the
    /// next token's position is that length instead of the number of tokens ever seen: a cache kept small while
    /// decoding can go on past the model's context length. Keys are stored after RoPE, so each is rotated by its
    /// position change (rotations add up); the last queries kept for presses move with the newest tokens. Sinks at
    /// the start stay where they are in a head as long as the longest one. Relative positions among a head's
    /// newest tokens are unchanged.
    /// - Returns: how far the next position moved back (0 when nothing moved, or when heads share tokens across
    ///   layers, which are left as they are).
    @discardableResult
    public func reindex(rope: RoPE) -> Int {
        guard !layers.contains(where: { $0.heads.contains { $0.shared != nil } }) else { return 0 }
        let longest = layers.reduce(0) { max($0, $1.heads.reduce(0) { max($0, $1.count) }) }
        let shift = nextPosition - longest
        guard shift > 0 else { return 0 }
        for layer in layers {
            for head in layer.heads {
                let n = head.count
                head.reposition((0 ..< n).map { Int32(longest - n + $0) }, rope: rope)
            }
        }
        statistics?.shiftWindows(by: -shift, rope: rope)
        nextPosition = longest
        return shift
    }
}
