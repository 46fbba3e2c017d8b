import Foundation

/// SentencePiece-style BPE (`tokenizer.ggml.model` = `llama`): spaces become ▁, characters merge into the
/// highest-scoring vocabulary token first (leftmost on ties); characters with no token fall back to <0xXX> bytes.
struct SentencePieceEncoder: Sendable {
    let vocabulary: Vocabulary
    static let space = "\u{2581}"

    func encode(_ text: String, into output: inout [Int]) {
        let escaped = text.replacingOccurrences(of: " ", with: Self.space)
        var symbols = escaped.unicodeScalars.map { Array(String($0).utf8) }
        while symbols.count > 1 {
            var best: (score: Float, index: Int)?
            for i in 0 ..< symbols.count - 1 {
                if let id = vocabulary.idByBytes[symbols[i] + symbols[i + 1]] {
                    let score = vocabulary.scores[id]
                    if best == nil || score > best!.score { best = (score, i) }
                }
            }
            guard let (_, i) = best else { break }
            symbols[i] += symbols[i + 1]
            symbols.remove(at: i + 1)
        }
        for symbol in symbols {
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

    static func byteTokenName(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }
}
