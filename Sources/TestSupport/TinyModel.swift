import Foundation
import GGUF
import Sampling

/// Builds tiny random llama-architecture GGUF files (with a byte-level BPE tokenizer) for tests:
/// small enough to run in milliseconds, real enough to exercise every code path of the engine.
public struct TinyModel {
    public var layers = 2
    public var width = 64
    public var heads = 4
    public var kvHeads = 2
    public var feedForward = 128
    public var context = 256
    public var weightType: GGMLType = .q8_0
    public var seed: UInt64 = 7
    public var tiedEmbeddings = true
    public var architecture = "llama"

    public init() {}

    /// Byte tokens (GPT-2 spellings of all 256 bytes), a few merges, then the specials.
    public static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    public static let merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d"]

    public static var tokens: [String] {
        var bytes = Array(0x21 ... 0x7E) + Array(0xA1 ... 0xAC) + Array(0xAE ... 0xFF)
        var next = 256
        var spelled: [String] = []
        for b in 0 ..< 256 {
            if bytes.contains(b) {
                spelled.append(String(Character(Unicode.Scalar(UInt32(b))!)))
            } else {
                spelled.append(String(Character(Unicode.Scalar(UInt32(next))!)))
                next += 1
            }
        }
        bytes.removeAll()
        return spelled + merges.map { $0.replacingOccurrences(of: " ", with: "") } + specials
    }

    public var vocabularySize: Int { Self.tokens.count }

    /// The GGUF writer holding metadata and random weights; tests may add or change entries before writing.
    public func writer() -> GGUFWriter {
        var w = GGUFWriter()
        let arch = architecture
        let tokens = Self.tokens
        w.add(GGUFKey.architecture, .string(arch))
        w.add(GGUFKey.name, .string("tiny-random"))
        w.add(GGUFKey.blockCount(arch), .uint32(UInt32(layers)))
        w.add(GGUFKey.contextLength(arch), .uint32(UInt32(context)))
        w.add(GGUFKey.embeddingLength(arch), .uint32(UInt32(width)))
        w.add(GGUFKey.feedForwardLength(arch), .uint32(UInt32(feedForward)))
        w.add(GGUFKey.headCount(arch), .uint32(UInt32(heads)))
        w.add(GGUFKey.headCountKV(arch), .uint32(UInt32(kvHeads)))
        w.add(GGUFKey.ropeFreqBase(arch), .float32(10_000))
        w.add(GGUFKey.rmsEpsilon(arch), .float32(1e-5))
        w.add(GGUFKey.Tokenizer.model, .string("gpt2"))
        w.add(GGUFKey.Tokenizer.pre, .string("smollm"))
        w.add(GGUFKey.Tokenizer.tokens, strings: tokens)
        w.add(GGUFKey.Tokenizer.tokenTypes, int32s: tokens.indices.map { $0 >= tokens.count - Self.specials.count ? 3 : 1 })
        w.add(GGUFKey.Tokenizer.merges, strings: Self.merges)
        w.add(GGUFKey.Tokenizer.eosID, .uint32(UInt32(tokens.count - 1)))
        w.add(GGUFKey.Tokenizer.bosID, .uint32(UInt32(tokens.count - 3)))
        w.add(GGUFKey.Tokenizer.addBOS, .bool(false))
        let template = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
            + " + '<|im_end|>' + '\\n'}}{% endfor %}"
        w.add(GGUFKey.Tokenizer.chatTemplate, .string(template))

        var random = TestRandom(seed: seed)
        let headDim = width / heads
        func matrix(_ name: String, columns: Int, rows: Int, scale: Float) {
            let values = (0 ..< columns * rows).map { _ in random.normal() * scale }
            w.addTensor(name, dimensions: [columns, rows], type: weightType, data: Quantizer.encode(values, as: weightType))
        }
        func norm(_ name: String) {
            w.addTensor(name, dimensions: [width], floats: (0 ..< width).map { _ in 1 + random.normal() * 0.1 })
        }
        matrix(GGUFTensorName.tokenEmbedding, columns: width, rows: tokens.count, scale: 0.5)
        for l in 0 ..< layers {
            norm(GGUFTensorName.attentionNorm(l))
            matrix(GGUFTensorName.attentionQuery(l), columns: width, rows: heads * headDim, scale: 0.2)
            matrix(GGUFTensorName.attentionKey(l), columns: width, rows: kvHeads * headDim, scale: 0.2)
            matrix(GGUFTensorName.attentionValue(l), columns: width, rows: kvHeads * headDim, scale: 0.2)
            matrix(GGUFTensorName.attentionOutput(l), columns: heads * headDim, rows: width, scale: 0.2)
            norm(GGUFTensorName.feedForwardNorm(l))
            matrix(GGUFTensorName.feedForwardGate(l), columns: width, rows: feedForward, scale: 0.2)
            matrix(GGUFTensorName.feedForwardUp(l), columns: width, rows: feedForward, scale: 0.2)
            matrix(GGUFTensorName.feedForwardDown(l), columns: feedForward, rows: width, scale: 0.2)
        }
        norm(GGUFTensorName.outputNorm)
        if !tiedEmbeddings { matrix(GGUFTensorName.output, columns: width, rows: tokens.count, scale: 0.5) }
        return w
    }

    /// Writes the model to a new temporary file and returns its path.
    public func write() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-\(UUID().uuidString).gguf").path
        try writer().write(to: path)
        return path
    }
}

/// Deterministic normal-ish random numbers (sum of uniforms) for weights.
public struct TestRandom {
    private var generator: SeededGenerator
    public init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    public mutating func next() -> UInt64 { generator.next() }

    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }

    public mutating func normal() -> Float { (0 ..< 4).reduce(0) { acc, _ in acc + uniform() } - 2 }
}
