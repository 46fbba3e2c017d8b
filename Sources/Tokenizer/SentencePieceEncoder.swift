import Foundation

/// SentencePiece-style BPE (`tokenizer.ggml.model` = `llama`): spaces become ▁, characters merge into the
/// highest-scoring vocabulary token first (leftmost on ties); characters with no token fall back to <0xXX> bytes.
/// A priority queue over adjacent pairs makes a text of n characters cost O(n log n), as llama.cpp's SPM session.
struct SentencePieceEncoder: Sendable {
    let vocabulary: Vocabulary
    static let space = "\u{2581}"

    func encode(_ text: String, into output: inout [Int]) {
        let escaped = text.replacingOccurrences(of: " ", with: Self.space)
        let bytes = Array(escaped.utf8)
        let pieceLengths = escaped.unicodeScalars.map { UTF8.width($0) }
        var symbols = SymbolList(bytes: bytes, pieceLengths: pieceLengths)
        var queue = MergeQueue(capacity: symbols.count)
        for left in 0 ..< max(0, symbols.count - 1) { enqueue(left, left + 1, symbols: symbols, into: &queue) }
        while let candidate = queue.pop() {
            guard symbols.isCurrent(candidate) else { continue }
            symbols.merge(candidate.left, candidate.right)
            let before = symbols.previous[candidate.left]
            let after = symbols.next[candidate.left]
            if before >= 0 { enqueue(before, candidate.left, symbols: symbols, into: &queue) }
            if after >= 0 { enqueue(candidate.left, after, symbols: symbols, into: &queue) }
        }
        for i in symbols.live {
            let symbol = Array(symbols.symbol(i))
            if let id = vocabulary.idByBytes[symbol] {
                output.append(id)
                continue
            }
            for byte in symbol {
                if let id = vocabulary.id(of: Self.byteTokenName(byte)) {
                    output.append(id)
                } else if let unknown = vocabulary.unknown {
                    output.append(unknown)
                }
            }
        }
    }

    /// Queues the merge of two neighbours when their joined text is a token; higher scores run first.
    private func enqueue(_ left: Int, _ right: Int, symbols: SymbolList, into queue: inout MergeQueue) {
        guard let id = vocabulary.idByBytes[Array(symbols.joined(left, right))] else { return }
        let length = symbols.length[left] + symbols.length[right]
        queue.push(.init(priority: -Double(vocabulary.scores[id]), left: left, right: right, length: length))
    }

    static func byteTokenName(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }
}
