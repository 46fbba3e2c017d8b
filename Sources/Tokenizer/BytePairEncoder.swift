/// Byte-level BPE (`tokenizer.ggml.model` = `gpt2`): each word's bytes, spelled with GPT-2's byte map,
/// are merged pair by pair, lowest merge rank first (leftmost on ties), as llama.cpp's BPE session.
/// A priority queue over adjacent pairs makes a word of n bytes cost O(n log n), not O(n²).
/// Symbols are UTF-8 byte ranges so lookups are exact.
struct BytePairEncoder: Sendable {
    /// A merge of two vocabulary tokens: its rank and the token it makes (nil when the file lacks it).
    struct PairMerge: Sendable {
        let rank: Int
        let result: Int?
    }

    let vocabulary: Vocabulary
    let mergeRanks: [[UInt8]: Int]  // "left right" → rank
    /// The same merges keyed by token ids (left << 32 | right), for symbols that are tokens (almost all).
    let pairMerges: [UInt64: PairMerge]
    let ignoreMerges: Bool          // a word that is itself a token is emitted whole (llama 3)
    /// UTF-8 of each byte's byte-level spelling, and its token id.
    private let spelling: [[UInt8]] = ByteLevelEncoding.byteStrings.map { Array($0.utf8) }
    private let spellingID: [Int?]

    init(vocabulary: Vocabulary, merges: [String], ignoreMerges: Bool) {
        self.vocabulary = vocabulary
        var ranks: [[UInt8]: Int] = [:]
        ranks.reserveCapacity(merges.count)
        var pairs: [UInt64: PairMerge] = [:]
        pairs.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            let bytes = Array(merge.utf8)
            guard ranks[bytes] == nil else { continue }
            ranks[bytes] = rank
            let parts = bytes.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count == 2,
                  let left = vocabulary.idByBytes[Array(parts[0])],
                  let right = vocabulary.idByBytes[Array(parts[1])] else { continue }
            let key = Self.pairKey(left, right)
            if pairs[key] == nil {
                pairs[key] = PairMerge(rank: rank, result: vocabulary.idByBytes[Array(parts[0] + parts[1])])
            }
        }
        mergeRanks = ranks
        pairMerges = pairs
        self.ignoreMerges = ignoreMerges
        spellingID = ByteLevelEncoding.byteStrings.map { vocabulary.idByBytes[Array($0.utf8)] }
    }

    static func pairKey(_ left: Int, _ right: Int) -> UInt64 { UInt64(left) << 32 | UInt64(UInt32(truncatingIfNeeded: right)) }

    /// Tokens for one pre-tokenized word.
    func encode(word: String, into output: inout [Int]) {
        var spelled: [UInt8] = []
        var pieceLengths: [Int] = []
        var ids: [Int?] = []
        spelled.reserveCapacity(word.utf8.count * 2)
        pieceLengths.reserveCapacity(word.utf8.count)
        ids.reserveCapacity(word.utf8.count)
        for byte in word.utf8 {
            spelled += spelling[Int(byte)]
            pieceLengths.append(spelling[Int(byte)].count)
            ids.append(spellingID[Int(byte)])
        }
        if ignoreMerges, let id = vocabulary.idByBytes[spelled] {
            output.append(id)
            return
        }
        var symbols = SymbolList(bytes: spelled, pieceLengths: pieceLengths)
        var queue = MergeQueue(capacity: symbols.count)
        for left in 0 ..< max(0, symbols.count - 1) {
            enqueue(left, left + 1, symbols: symbols, ids: ids, into: &queue)
        }
        while let candidate = queue.pop() {
            guard symbols.isCurrent(candidate) else { continue }
            ids[candidate.left] = mergedID(candidate.left, candidate.right, symbols: symbols, ids: ids)
            symbols.merge(candidate.left, candidate.right)
            let before = symbols.previous[candidate.left]
            let after = symbols.next[candidate.left]
            if before >= 0 { enqueue(before, candidate.left, symbols: symbols, ids: ids, into: &queue) }
            if after >= 0 { enqueue(candidate.left, after, symbols: symbols, ids: ids, into: &queue) }
        }
        for i in symbols.live {
            if let id = ids[i] {
                output.append(id)
                continue
            }
            // No token for the merged text: fall back to one token per character, as llama.cpp.
            for scalar in String(decoding: symbols.symbol(i), as: UTF8.self).unicodeScalars {
                if let id = vocabulary.id(of: String(scalar)) { output.append(id) }
            }
        }
    }

    /// The merge rank of two adjacent symbols, by token ids when both are tokens, else by their bytes.
    private func rank(_ left: Int, _ right: Int, symbols: SymbolList, ids: [Int?]) -> Int? {
        if let leftID = ids[left], let rightID = ids[right] {
            return pairMerges[Self.pairKey(leftID, rightID)]?.rank
        }
        return mergeRanks[Array(symbols.symbol(left)) + [0x20] + Array(symbols.symbol(right))]
    }

    private func mergedID(_ left: Int, _ right: Int, symbols: SymbolList, ids: [Int?]) -> Int? {
        if let leftID = ids[left], let rightID = ids[right], let merge = pairMerges[Self.pairKey(leftID, rightID)] {
            return merge.result
        }
        return vocabulary.idByBytes[Array(symbols.joined(left, right))]
    }

    private func enqueue(_ left: Int, _ right: Int, symbols: SymbolList, ids: [Int?], into queue: inout MergeQueue) {
        guard let rank = rank(left, right, symbols: symbols, ids: ids) else { return }
        let length = symbols.length[left] + symbols.length[right]
        queue.push(.init(priority: Double(rank), left: left, right: right, length: length))
    }
}
