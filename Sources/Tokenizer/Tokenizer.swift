import GGUF

/// Text ↔ token ids for a GGUF model, faithful to llama.cpp: special tokens found in text first,
/// then pre-tokenization and BPE (byte-level) or SentencePiece-style BPE on the text between them.
public final class Tokenizer: Sendable {
    public enum Kind: Sendable, Equatable {
        case byteLevelBPE(PreTokenizer)
        case sentencePiece(addSpacePrefix: Bool)
    }

    public let vocabulary: Vocabulary
    public let kind: Kind
    private let bpe: BytePairEncoder?
    private let specialTokensParsed: [Int]
    private let specialTokensLiteral: [Int]
    public let endOfGeneration: Set<Int>

    public init(vocabulary: Vocabulary, kind: Kind, merges: [String] = [], ignoreMerges: Bool = false) {
        self.vocabulary = vocabulary
        self.kind = kind
        if case .byteLevelBPE = kind {
            bpe = BytePairEncoder(vocabulary: vocabulary, merges: merges, ignoreMerges: ignoreMerges)
        } else {
            bpe = nil
        }
        specialTokensParsed = vocabulary.specialTokens(parseSpecial: true)
        specialTokensLiteral = vocabulary.specialTokens(parseSpecial: false)
        endOfGeneration = vocabulary.endOfGeneration
    }

    /// Reads `tokenizer.ggml.*` metadata.
    public convenience init(file: GGUFFile) throws {
        let model = try file.string(GGUFKey.Tokenizer.model)
        switch model {
        case "gpt2":
            let preName = try file.optionalString(GGUFKey.Tokenizer.pre) ?? "default"
            let pre = try PreTokenizer(name: preName)
            let merges = try file.stringArray(GGUFKey.Tokenizer.merges)
            let vocabulary = try Vocabulary(file: file, defaultAddBOS: false)
            self.init(vocabulary: vocabulary, kind: .byteLevelBPE(pre), merges: merges,
                      ignoreMerges: pre == .llama3(maxDigits: 3))
        case "llama":
            let vocabulary = try Vocabulary(file: file, defaultAddBOS: true)
            let prefix = try file.optionalBool(GGUFKey.Tokenizer.addSpacePrefix) ?? true
            self.init(vocabulary: vocabulary, kind: .sentencePiece(addSpacePrefix: prefix))
        default:
            throw TokenizerError.unsupportedModel(model)
        }
    }

    // MARK: Encoding

    /// Token ids for `text`.
    /// - Parameters:
    ///   - addSpecial: add BOS/EOS where the model's `add_bos_token`/`add_eos_token` say so.
    ///   - parseSpecial: text such as `<|im_start|>` becomes its control token (user-defined tokens always do).
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int] {
        var output: [Int] = []
        if addSpecial, vocabulary.addBOS, let bos = vocabulary.bos { output.append(bos) }
        var previousWasSpecial = true
        for fragment in partition(text, specials: parseSpecial ? specialTokensParsed : specialTokensLiteral) {
            switch fragment {
            case .token(let id):
                output.append(id)
                previousWasSpecial = true
            case .text(let raw):
                switch kind {
                case .byteLevelBPE(let pre):
                    for word in pre.split(raw) { bpe?.encode(word: word, into: &output) }
                case .sentencePiece(let addSpacePrefix):
                    let prefixed = addSpacePrefix && previousWasSpecial ? " " + raw : raw
                    SentencePieceEncoder(vocabulary: vocabulary).encode(prefixed, into: &output)
                }
                previousWasSpecial = false
            }
        }
        if addSpecial, vocabulary.addEOS, let eos = vocabulary.eos { output.append(eos) }
        return output
    }

    enum Fragment: Equatable { case text(String), token(Int) }

    /// Splits text at every occurrence of a special token's text, longest tokens first (as llama.cpp).
    func partition(_ text: String, specials: [Int]) -> [Fragment] {
        enum Piece { case text([UInt8]), token(Int) }
        var pieces: [Piece] = [.text(Array(text.utf8))]
        for id in specials {
            let needle = Array(vocabulary.tokens[id].utf8)
            var next: [Piece] = []
            for piece in pieces {
                guard case .text(let bytes) = piece, bytes.count >= needle.count else { next.append(piece); continue }
                var start = 0, i = 0
                while i + needle.count <= bytes.count {
                    if bytes[i] == needle[0] && bytes[i ..< i + needle.count].elementsEqual(needle) {
                        if i > start { next.append(.text(Array(bytes[start ..< i]))) }
                        next.append(.token(id))
                        i += needle.count
                        start = i
                    } else {
                        i += 1
                    }
                }
                if start < bytes.count { next.append(.text(Array(bytes[start...]))) }
            }
            pieces = next
        }
        return pieces.map {
            switch $0 {
            case .text(let b): return .text(String(decoding: b, as: UTF8.self))
            case .token(let id): return .token(id)
            }
        }
    }

    // MARK: Decoding

    /// The bytes a token stands for in output text; control tokens render as nothing unless `renderSpecial`.
    public func piece(_ id: Int, renderSpecial: Bool = false) -> [UInt8] {
        guard id >= 0, id < vocabulary.count else { return [] }
        let text = vocabulary.tokens[id]
        switch vocabulary.types[id] {
        case .control, .unknown, .unused: return renderSpecial ? Array(text.utf8) : []
        case .userDefined: return Array(text.utf8)
        case .byte:
            if text.hasPrefix("<0x"), text.count == 6, let b = UInt8(text.dropFirst(3).prefix(2), radix: 16) { return [b] }
            return Array(text.utf8)
        case .normal, .undefined:
            switch kind {
            case .byteLevelBPE: return ByteLevelEncoding.bytes(of: text)
            case .sentencePiece: return Array(text.replacingOccurrences(of: SentencePieceEncoder.space, with: " ").utf8)
            }
        }
    }

    /// Text of a whole token sequence (invalid UTF-8 becomes U+FFFD).
    public func decode(_ ids: [Int], renderSpecial: Bool = false) -> String {
        var decoder = StreamingDecoder()
        var text = ids.map { decoder.append(piece($0, renderSpecial: renderSpecial)) }.joined()
        text += decoder.flush()
        if case .sentencePiece(true) = kind, text.hasPrefix(" ") { text.removeFirst() }
        return text
    }
}
