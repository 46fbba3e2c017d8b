/// Splits text into words before BPE, as llama.cpp does for each `tokenizer.ggml.pre` value.
/// The regular expressions are implemented by hand over Unicode categories (as llama.cpp's custom splitters),
/// so results do not depend on a regex engine.
public enum PreTokenizer: Sendable, Equatable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Every digit alone first (`\p{N}`), then GPT-2 (StarCoder, SmolLM).
    case digitsThenGPT2
    /// Llama 3 (`llama-bpe`): case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, digit runs of at most
    /// `maxDigits`, punctuation with trailing newlines, newline runs, whitespace. Qwen2 is the same with 1 digit.
    case llama3(maxDigits: Int)
    /// llama.cpp's default (`default`, or no `tokenizer.ggml.pre`): runs of punctuation and `$+<=>^~|` apart
    /// first, then GPT-2 within each piece, then digit runs apart, then ASCII digits in threes from the left.
    case llamaDefault

    public static let supportedNames = ["default", "gpt2", "smollm", "starcoder", "refact", "llama-bpe", "llama3", "qwen2"]

    public init(name: String) throws {
        switch name {
        case "default": self = .llamaDefault
        case "gpt2", "gpt-2": self = .gpt2
        case "smollm", "starcoder", "refact": self = .digitsThenGPT2
        case "llama-bpe", "llama3", "llama-v3": self = .llama3(maxDigits: 3)
        case "qwen2": self = .llama3(maxDigits: 1)
        default: throw TokenizerError.unsupportedPreTokenizer(name)
        }
    }

    /// Splits `text` into words (each a non-empty string).
    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var ranges: [Range<Int>] = []
        switch self {
        case .gpt2:
            Self.splitGPT2(scalars, 0 ..< scalars.count, into: &ranges)
        case .digitsThenGPT2:
            for piece in Self.isolateDigits(scalars) { Self.splitGPT2(scalars, piece, into: &ranges) }
        case .llama3(let maxDigits):
            Self.splitLlama3(scalars, 0 ..< scalars.count, maxDigits: maxDigits, into: &ranges)
        case .llamaDefault:
            Self.splitLlamaDefault(scalars, into: &ranges)
        }
        return ranges.map { r in
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[r])
            return String(s)
        }
    }

    // MARK: Character classes

    struct Flags {
        var inRange = false, isLetter = false, isNumber = false, isWhitespace = false
    }

    static func flags(_ s: Unicode.Scalar) -> Flags {
        var f = Flags(inRange: true)
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: f.isLetter = true
        case .decimalNumber, .letterNumber, .otherNumber: f.isNumber = true
        default: break
        }
        f.isWhitespace = s.properties.isWhitespace
        return f
    }

    /// `\p{N}` as its own pass: each number scalar is a piece, and so is each run between them.
    static func isolateDigits(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = 0
        for i in s.indices where flags(s[i]).isNumber {
            if start < i { pieces.append(start ..< i) }
            pieces.append(i ..< i + 1)
            start = i + 1
        }
        if start < s.count { pieces.append(start ..< s.count) }
        return pieces
    }

    /// Length of an English contraction after an apostrophe ('s 't 'm 'd → 2, 're 've 'll → 3), given the next two code points.
    static func contraction(_ first: UInt32?, _ second: UInt32?) -> Int? {
        guard let first else { return nil }
        if first == 0x73 || first == 0x74 || first == 0x6D || first == 0x64 { return 2 }
        // 're, 've, 'll
        if let second, (first == 0x72 && second == 0x65) || (first == 0x76 && second == 0x65)
            || (first == 0x6C && second == 0x6C) {
            return 3
        }
        return nil
    }

    // MARK: GPT-2

    static func splitGPT2(_ s: [Unicode.Scalar], _ range: Range<Int>, into out: inout [Range<Int>]) {
        let end = range.upperBound
        func cp(_ i: Int) -> UInt32? { i >= range.lowerBound && i < end ? s[i].value : nil }
        func fl(_ i: Int) -> Flags { i >= range.lowerBound && i < end ? flags(s[i]) : Flags() }
        var pos = range.lowerBound
        var previous = pos
        func emit(_ e: Int) { if e > previous { out.append(previous ..< e) }; previous = e; pos = e }

        while pos < end {
            let c = s[pos].value
            let f = fl(pos)
            if c == 0x27, let length = contraction(cp(pos + 1), cp(pos + 2)) { emit(pos + length); continue }  // 's 't 'm 'd 're 've 'll
            var f2 = c == 0x20 ? fl(pos + 1) : f
            if f2.isLetter {  // ' ?\p{L}+'
                var p = pos + (c == 0x20 ? 1 : 0)
                while f2.isLetter { p += 1; f2 = fl(p) }
                emit(p); continue
            }
            if f2.isNumber {  // ' ?\p{N}+'
                var p = pos + (c == 0x20 ? 1 : 0)
                while f2.isNumber { p += 1; f2 = fl(p) }
                emit(p); continue
            }
            if !(f2.isWhitespace || f2.isLetter || f2.isNumber) && f2.inRange {  // ' ?[^\s\p{L}\p{N}]+'
                var p = pos + (c == 0x20 ? 1 : 0)
                while !(f2.isWhitespace || f2.isLetter || f2.isNumber) && f2.inRange { p += 1; f2 = fl(p) }
                emit(p); continue
            }
            var spaces = 0
            while fl(pos + spaces).isWhitespace { spaces += 1 }
            if spaces > 1 && cp(pos + spaces) != nil { emit(pos + spaces - 1); continue }  // '\s+(?!\S)'
            if spaces > 0 { emit(pos + spaces); continue }  // '\s+'
            emit(pos + 1)
        }
    }

    // MARK: Llama 3 / Qwen2

    static func splitLlama3(_ s: [Unicode.Scalar], _ range: Range<Int>, maxDigits: Int, into out: inout [Range<Int>]) {
        let end = range.upperBound
        func cp(_ i: Int) -> UInt32? { i >= range.lowerBound && i < end ? s[i].value : nil }
        func fl(_ i: Int) -> Flags { i >= range.lowerBound && i < end ? flags(s[i]) : Flags() }
        func lower(_ v: UInt32?) -> UInt32? { v.map { (0x41 ... 0x5A).contains($0) ? $0 + 0x20 : $0 } }
        func isNewline(_ v: UInt32?) -> Bool { v == 0x0D || v == 0x0A }
        var pos = range.lowerBound
        var previous = pos
        func emit(_ e: Int) { if e > previous { out.append(previous ..< e) }; previous = e; pos = e }

        while pos < end {
            let c = s[pos].value
            let f = fl(pos)
            if c == 0x27, let length = contraction(lower(cp(pos + 1)), lower(cp(pos + 2))) { emit(pos + length); continue }  // (?i:…)
            if !(isNewline(c) || f.isNumber), f.isLetter || fl(pos + 1).isLetter {  // [^\r\n\p{L}\p{N}]?\p{L}+
                var p = pos + 1
                while fl(p).isLetter { p += 1 }
                emit(p); continue
            }
            if f.isNumber {  // \p{N}{1,maxDigits}
                var p = pos, runStart = pos
                while fl(p).isNumber {
                    p += 1
                    if p - runStart >= maxDigits { emit(p); runStart = p }
                }
                emit(p); continue
            }
            var f2 = c == 0x20 ? fl(pos + 1) : f
            if !(f2.isWhitespace || f2.isLetter || f2.isNumber) && f.inRange {  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
                var p = pos + (c == 0x20 ? 1 : 0)
                while !(f2.isWhitespace || f2.isLetter || f2.isNumber) && f2.inRange { p += 1; f2 = fl(p) }
                while isNewline(cp(p)) { p += 1 }
                emit(p); continue
            }
            var spaces = 0, lastNewlineEnd = 0
            while fl(pos + spaces).isWhitespace {
                if isNewline(cp(pos + spaces)) { lastNewlineEnd = pos + spaces + 1 }
                spaces += 1
            }
            if lastNewlineEnd > 0 { emit(lastNewlineEnd); continue }  // \s*[\r\n]+
            if spaces > 1 && cp(pos + spaces) != nil { emit(pos + spaces - 1); continue }  // \s+(?!\S)
            if spaces > 0 { emit(pos + spaces); continue }  // \s+
            emit(pos + 1)
        }
    }

    // MARK: llama.cpp's default

    /// Each of llama.cpp's four expressions splits every piece the one before left, keeping what it did not match.
    static func splitLlamaDefault(_ s: [Unicode.Scalar], into out: inout [Range<Int>]) {
        for piece in runs(s, 0 ..< s.count, where: isDefaultPunctuation) {
            var words: [Range<Int>] = []
            splitGPT2(s, piece, into: &words)
            for word in words {
                for part in runs(s, word, where: { flags($0).isNumber }) {
                    out.append(contentsOf: asciiDigitTriples(s, part))
                }
            }
        }
    }

    /// `[\p{P}\$\+<=>\^~\|]`: Unicode punctuation plus the ASCII symbols llama.cpp lists (not the backtick).
    static func isDefaultPunctuation(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation:
            return true
        default:
            return "$+<=>^~|".unicodeScalars.contains(c)
        }
    }

    /// `range` cut into maximal runs of scalars that satisfy `test` and the spans between them.
    static func runs(_ s: [Unicode.Scalar], _ range: Range<Int>, where test: (Unicode.Scalar) -> Bool) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            guard test(s[i]) else {
                i += 1
                continue
            }
            var end = i + 1
            while end < range.upperBound && test(s[end]) { end += 1 }
            if start < i { pieces.append(start ..< i) }
            pieces.append(i ..< end)
            start = end
            i = end
        }
        if start < range.upperBound { pieces.append(start ..< range.upperBound) }
        return pieces
    }

    /// `[0-9][0-9][0-9]` matched left to right: each three ASCII digits a piece, the rest between them.
    static func asciiDigitTriples(_ s: [Unicode.Scalar], _ range: Range<Int>) -> [Range<Int>] {
        func isDigit(_ i: Int) -> Bool { i < range.upperBound && (0x30 ... 0x39).contains(s[i].value) }
        var pieces: [Range<Int>] = []
        var start = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            if isDigit(i) && isDigit(i + 1) && isDigit(i + 2) {
                if start < i { pieces.append(start ..< i) }
                pieces.append(i ..< i + 3)
                i += 3
                start = i
            } else {
                i += 1
            }
        }
        if start < range.upperBound { pieces.append(start ..< range.upperBound) }
        return pieces
    }
}
