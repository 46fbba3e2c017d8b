import GGUF

/// Token texts, types and scores from GGUF metadata, with the special ids.
public struct Vocabulary: Sendable {
    /// GGUF token types (`tokenizer.ggml.token_type`).
    public enum TokenType: Int, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public let tokens: [String]
    public let types: [TokenType]
    public let scores: [Float]
    /// Token id by exact UTF-8 bytes (String keys would merge canonically equivalent spellings).
    let idByBytes: [[UInt8]: Int]
    public let bos: Int?
    public let eos: Int?
    public let eot: Int?
    public let unknown: Int?
    public let addBOS: Bool
    public let addEOS: Bool

    public var count: Int { tokens.count }

    /// The id of the token spelled exactly `text`.
    public func id(of text: String) -> Int? { idByBytes[Array(text.utf8)] }

    public init(tokens: [String], types: [TokenType], scores: [Float], bos: Int?, eos: Int?, eot: Int? = nil,
                unknown: Int?, addBOS: Bool, addEOS: Bool) {
        self.tokens = tokens
        self.types = types
        self.scores = scores
        var index: [[UInt8]: Int] = [:]
        index.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where index[Array(t.utf8)] == nil { index[Array(t.utf8)] = i }
        idByBytes = index
        func valid(_ id: Int?) -> Int? { id.flatMap { $0 >= 0 && $0 < tokens.count ? $0 : nil } }
        self.bos = valid(bos)
        self.eos = valid(eos)
        self.eot = valid(eot)
        self.unknown = valid(unknown)
        self.addBOS = addBOS
        self.addEOS = addEOS
    }

    init(file: GGUFFile, defaultAddBOS: Bool) throws {
        let tokens = try file.stringArray(GGUFKey.Tokenizer.tokens)
        let rawTypes = file.metadata[GGUFKey.Tokenizer.tokenTypes] == nil ? [] : try file.intArray(GGUFKey.Tokenizer.tokenTypes)
        let scores = file.metadata[GGUFKey.Tokenizer.scores] == nil ? [] : try file.floatArray(GGUFKey.Tokenizer.scores)
        guard rawTypes.isEmpty || rawTypes.count == tokens.count else {
            let what = "\(GGUFKey.Tokenizer.tokenTypes) has \(rawTypes.count) entries for \(tokens.count) tokens"
            throw TokenizerError.inconsistentVocabulary(what)
        }
        guard scores.isEmpty || scores.count == tokens.count else {
            let what = "\(GGUFKey.Tokenizer.scores) has \(scores.count) entries for \(tokens.count) tokens"
            throw TokenizerError.inconsistentVocabulary(what)
        }
        self.init(
            tokens: tokens,
            types: rawTypes.isEmpty ? Array(repeating: .normal, count: tokens.count) : rawTypes.map { TokenType(rawValue: $0) ?? .normal },
            scores: scores.isEmpty ? Array(repeating: 0, count: tokens.count) : scores,
            bos: try file.optionalInt(GGUFKey.Tokenizer.bosID),
            eos: try file.optionalInt(GGUFKey.Tokenizer.eosID),
            eot: try file.optionalInt(GGUFKey.Tokenizer.eotID),
            unknown: try file.optionalInt(GGUFKey.Tokenizer.unknownID),
            addBOS: try file.optionalBool(GGUFKey.Tokenizer.addBOS) ?? defaultAddBOS,
            addEOS: try file.optionalBool(GGUFKey.Tokenizer.addEOS) ?? false)
    }

    /// Tokens matched verbatim in text before BPE: control tokens (only when parsing specials) and user-defined ones.
    func specialTokens(parseSpecial: Bool) -> [Int] {
        (0 ..< count).filter {
            switch types[$0] {
            case .control, .unknown: return parseSpecial && !tokens[$0].isEmpty
            case .userDefined: return !tokens[$0].isEmpty
            default: return false
            }
        }.sorted { tokens[$0].utf8.count > tokens[$1].utf8.count }
    }

    /// End-of-generation ids: eos, eot, and control tokens with the usual end texts (as llama.cpp collects them).
    public var endOfGeneration: Set<Int> {
        var ids = Set([eos, eot].compactMap { $0 })
        let endTexts: Set<String> = [
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "</s>", "<|end_of_text|>",
        ]
        for (i, t) in tokens.enumerated() where types[i] == .control && endTexts.contains(t) { ids.insert(i) }
        return ids
    }
}
