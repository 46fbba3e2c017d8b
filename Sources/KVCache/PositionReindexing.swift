import Kernels

// Based on: Efficient Streaming Language Models with Attention Sinks (StreamingLLM), positions assigned within the
// cache; kvpress's KeyRerotationPress does the same re-rotation of cached keys.
extension KVCache {
    /// Moves every head's tokens to consecutive positions ending just before the longest head's length, so the
    /// next token's position is that length instead of the number of tokens ever seen: a cache kept small while
    /// decoding can go on past the model's context length. Keys are stored after RoPE, so each is rotated by its
    /// position change with its layer's RoPE (rotations add up); the last queries kept for presses move with the
    /// newest tokens. Sinks at the start stay where they are in a head as long as the longest one. Relative
    /// positions among a head's newest tokens are unchanged.
    ///
    /// Heads that read one storage (MiniCache's shared tokens) move together: their tokens are ranked in the union
    /// of their positions, so a shared token gets one new position in both layers.
    /// - Returns: how far the next position moved back (0 when nothing moved, or when two heads of layers with
    ///   different RoPE share tokens, which cannot be rotated for both).
    @discardableResult
    public func reindex() -> Int {
        let groups = headsReadingOneStorage()
        let rotatable = groups.allSatisfy { group in
            group.allSatisfy { layers[$0.layer].spec.rope == layers[group[0].layer].spec.rope }
        }
        guard rotatable else { return 0 }
        let unions = groups.map { group -> [Int32] in
            let all = group.flatMap { layers[$0.layer].heads[$0.head].segments.flatMap(\.positions) }
            return Array(Set(all)).sorted()
        }
        let longest = unions.reduce(0) { max($0, $1.count) }
        let shift = nextPosition - longest
        guard shift > 0 else { return 0 }
        var moved = Set<ObjectIdentifier>()
        for (group, union) in zip(groups, unions) {
            var newPosition: [Int32: Int32] = [:]
            for (rank, position) in union.enumerated() { newPosition[position] = Int32(longest - union.count + rank) }
            for member in group {
                let rope = layers[member.layer].spec.rope
                for segment in layers[member.layer].heads[member.head].segments {
                    if let storage = segment.sharedStorage {
                        guard moved.insert(ObjectIdentifier(storage)).inserted else { continue }
                    }
                    segment.reposition(segment.positions.map { newPosition[$0]! }, rope: rope)
                }
            }
        }
        statistics?.shiftWindows(by: -shift, specs: layers.map(\.spec))
        nextPosition = longest
        return shift
    }

    /// The heads of the cache grouped so that heads reading one shared storage are in one group (most heads are a
    /// group of their own).
    private func headsReadingOneStorage() -> [[(layer: Int, head: Int)]] {
        let heads = layers.indices.flatMap { l in layers[l].heads.indices.map { (layer: l, head: $0) } }
        var parent = Array(heads.indices)
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { i = parent[i] }
            return i
        }
        var reader: [ObjectIdentifier: Int] = [:]
        for (i, member) in heads.enumerated() {
            for segment in layers[member.layer].heads[member.head].segments {
                guard let storage = segment.sharedStorage else { continue }
                if let other = reader[ObjectIdentifier(storage)] {
                    parent[root(i)] = root(other)
                } else {
                    reader[ObjectIdentifier(storage)] = i
                }
            }
        }
        var groups: [Int: [(layer: Int, head: Int)]] = [:]
        for i in heads.indices { groups[root(i), default: []].append(heads[i]) }
        return groups.keys.sorted().map { groups[$0]! }
    }
}
