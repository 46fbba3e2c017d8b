/// Byte-level BPE (`tokenizer.ggml.model` = `gpt2`): each word's bytes, spelled with GPT-2's byte map,
/// are merged pair by pair, lowest merge rank first (leftmost on ties), as llama.cpp's BPE session.
/// Symbols are UTF-8 byte arrays so lookups are exact.
struct BytePairEncoder: Sendable {
    let vocabulary: Vocabulary
    let mergeRanks: [[UInt8]: Int]  // "left right" → rank
    let ignoreMerges: Bool          // a word that is itself a token is emitted whole (llama 3)
    /// UTF-8 of each byte's byte-level spelling.
    private let spelling: [[UInt8]] = ByteLevelEncoding.byteStrings.map { Array($0.utf8) }

    init(vocabulary: Vocabulary, merges: [String], ignoreMerges: Bool) {
        self.vocabulary = vocabulary
        var ranks: [[UInt8]: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() where ranks[Array(merge.utf8)] == nil { ranks[Array(merge.utf8)] = rank }
        mergeRanks = ranks
        self.ignoreMerges = ignoreMerges
    }

    /// Tokens for one pre-tokenized word.
    func encode(word: String, into output: inout [Int]) {
        var symbols = word.utf8.map { spelling[Int($0)] }
        if ignoreMerges, let id = vocabulary.idByBytes[symbols.flatMap { $0 }] {
            output.append(id)
            return
        }
        while symbols.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0 ..< symbols.count - 1 {
                if let rank = mergeRanks[symbols[i] + [0x20] + symbols[i + 1]], rank < (best?.rank ?? .max) {
                    best = (rank, i)
                }
            }
            guard let (_, i) = best else { break }
            symbols[i] += symbols[i + 1]
            symbols.remove(at: i + 1)
        }
        for symbol in symbols {
            if let id = vocabulary.idByBytes[symbol] {
                output.append(id)
            } else {
                // No token for the merged text: fall back to one token per byte, as llama.cpp.
                for scalar in String(decoding: symbol, as: UTF8.self).unicodeScalars {
                    if let id = vocabulary.id(of: String(scalar)) { output.append(id) }
                }
            }
        }
    }
}
