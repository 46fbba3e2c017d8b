// libFuzzer target: arbitrary bytes as text for the default model's tokenizer (byte-level BPE with the SmolLM
// pre-tokenizer) and a SentencePiece-style tokenizer. Checks that encoding never crashes and that decoding gives
// the text back (valid UTF-8 without special-token text must round-trip exactly).
import Foundation
import GGUF
import Tokenizer

nonisolated(unsafe) var tokenizers: [Tokenizer] = []
/// Bytes the byte-level vocabulary has no token for: llama.cpp drops them, and so does TokenPress.
nonisolated(unsafe) var unspellable: Set<UInt8> = []

func initialize() {
    let environment = ProcessInfo.processInfo.environment
    let cache = environment["TOKENPRESS_CACHE"] ?? NSHomeDirectory() + "/.cache/tokenpress"
    let path = environment["TOKENPRESS_MODEL"] ?? cache + "/SmolLM2-135M-Instruct.Q4_1.gguf"
    guard let file = try? GGUFFile(path: path), let tokenizer = try? Tokenizer(file: file) else {
        FileHandle.standardError.write(Data("FuzzTokenizer: cannot load \(path) (set TOKENPRESS_MODEL)\n".utf8))
        exit(2)
    }
    tokenizers.append(tokenizer)
    // GPT-2's byte map: printable Latin-1 bytes spell themselves, the others U+0100 onwards in byte order.
    var shifted: UInt32 = 256
    for byte in 0 ... 255 {
        let printable = (0x21 ... 0x7E).contains(byte) || (0xA1 ... 0xAC).contains(byte) || (0xAE ... 0xFF).contains(byte)
        let scalar = printable ? UInt32(byte) : shifted
        if !printable { shifted += 1 }
        if let s = UnicodeScalar(scalar), tokenizer.vocabulary.id(of: String(s)) == nil { unspellable.insert(UInt8(byte)) }
    }
    // SentencePiece: the same vocabulary's texts with ▁ for spaces, scored by length, with byte tokens.
    let pieces = tokenizer.vocabulary.tokens.prefix(4000).map { $0.replacingOccurrences(of: "Ġ", with: "\u{2581}") }
    let bytes = (0 ..< 256).map { String(format: "<0x%02X>", $0) }
    let words = Array(pieces) + bytes
    let vocabulary = Vocabulary(tokens: words, types: pieces.map { _ in .normal } + bytes.map { _ in .byte },
                                scores: words.map { Float($0.utf8.count) }, bos: nil, eos: nil, unknown: nil,
                                addBOS: false, addEOS: false)
    tokenizers.append(Tokenizer(vocabulary: vocabulary, kind: .sentencePiece(addSpacePrefix: false)))
}

func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let buffer = UnsafeBufferPointer(start: data, count: size)
    guard let text = String(validating: buffer, as: UTF8.self) else {
        // Invalid UTF-8 is repaired (U+FFFD) as the CLI does when it reads a file; still must not crash.
        _ = tokenizers[0].encode(String(decoding: buffer, as: UTF8.self))
        return 0
    }
    for (index, tokenizer) in tokenizers.enumerated() {
        let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
        let decoded = ids.flatMap { tokenizer.piece($0, renderSpecial: true) }
        let expected = index == 0 ? text.utf8.filter { !unspellable.contains($0) } : Array(text.utf8)
        if decoded != expected && !text.contains("<") && !text.contains("\u{2581}") {
            FileHandle.standardError.write(Data("round trip failed: \(Array(text.utf8)) → \(ids) → \(decoded)\n".utf8))
            abort()
        }
    }
    return 0
}

/// libFuzzer's entry point when the program has its own main.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

initialize()
var argumentCount = CommandLine.argc
var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argumentCount, &arguments) { testOneInput($0, $1) })
