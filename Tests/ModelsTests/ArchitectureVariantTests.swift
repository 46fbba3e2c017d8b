import Engine
import Foundation
import GGUF
import Models
import TestSupport
import XCTest

/// Files of the llama family's variants that lack what their architecture needs, or stretch RoPE in ways TokenPress
/// does not compute: each refused with one line naming the tensor or key.
final class ArchitectureVariantTests: XCTestCase {
    /// The tiny llama model with its metadata and tensors changed: `architecture` renames every key's prefix,
    /// `metadata` adds or replaces keys, `tensors` adds tensors.
    private func write(architecture: String = "llama", metadata: [String: GGUFValue] = [:],
                       tensors: [(String, [Float])] = []) throws -> String {
        var tiny = TinyModel()
        tiny.architecture = architecture
        let original = tiny.writer()
        var w = GGUFWriter()
        for (key, value) in original.metadata where metadata[key] == nil { w.add(key, value) }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { w.add(key, value) }
        for t in original.tensors { w.addTensor(t.name, dimensions: t.dimensions, typeID: t.typeID, data: t.data) }
        for (name, values) in tensors { w.addTensor(name, dimensions: [values.count], floats: values) }
        let path = NSTemporaryDirectory() + "/variant-\(UUID().uuidString).gguf"
        try w.write(to: path)
        return path
    }

    private func assertRefused(_ path: String, naming expected: String, file: StaticString = #filePath,
                               line: UInt = #line) {
        XCTAssertThrowsError(try InferenceEngine(modelPath: path), file: file, line: line) {
            let message = "\($0)"
            XCTAssertTrue(message.contains(expected), message, file: file, line: line)
            XCTAssertFalse(message.contains("\n"), message, file: file, line: line)
        }
    }

    func testQwen2NeedsItsBiasesAndQwen3ItsNorms() throws {
        assertRefused(try write(architecture: "qwen2"), naming: "blk.0.attn_q.bias")
        assertRefused(try write(architecture: "qwen3"), naming: "blk.0.attn_q_norm.weight")
        // With them, both load; a bias of the wrong length is named.
        let kvDim = 2 * 16
        let biases = (0 ..< 2).flatMap { layer in
            [(GGUFTensorName.attentionQueryBias(layer), [Float](repeating: 0.1, count: 64)),
             (GGUFTensorName.attentionKeyBias(layer), [Float](repeating: 0.1, count: kvDim)),
             (GGUFTensorName.attentionValueBias(layer), [Float](repeating: 0.1, count: kvDim))]
        }
        XCTAssertEqual(try InferenceEngine(modelPath: try write(architecture: "qwen2", tensors: biases))
            .model.configuration.architecture, "qwen2")
        var short = biases
        short[1] = (GGUFTensorName.attentionKeyBias(0), [0.1, 0.2])
        assertRefused(try write(architecture: "qwen2", tensors: short), naming: "blk.0.attn_k.bias")
    }

    func testRoPEScalingItCannotComputeIsRefused() throws {
        let type = GGUFKey.ropeScalingType("llama")
        let factor = GGUFKey.ropeScalingFactor("llama")
        assertRefused(try write(metadata: [type: .string("yarn"), factor: .float32(4)]), naming: type)
        assertRefused(try write(metadata: [type: .string("longrope"), factor: .float32(4)]), naming: type)
        assertRefused(try write(metadata: [factor: .float32(-2)]), naming: factor)
        assertRefused(try write(metadata: [factor: .float32(.nan)]), naming: factor)
        // Linear scaling and a YaRN type without a factor load.
        let linear = try InferenceEngine(modelPath: try write(metadata: [type: .string("linear"), factor: .float32(4)]))
        XCTAssertEqual(linear.model.attentionSpec(layer: 0).rope.frequencyScale, 0.25)
        XCTAssertNoThrow(try InferenceEngine(modelPath: try write(metadata: [type: .string("yarn")])))
    }

    func testLlama3FrequencyFactorsAreCheckedAndUsed() throws {
        let name = GGUFTensorName.ropeFrequencies
        assertRefused(try write(tensors: [(name, [1, 2, 3])]), naming: name)  // 8 pairs in a 16-value head
        assertRefused(try write(tensors: [(name, [1, 1, 1, 1, 0, 8, 8, 8])]), naming: name)
        let factors: [Float] = [1, 1, 1.5, 2, 4, 8, 8, 8]
        let engine = try InferenceEngine(modelPath: try write(tensors: [(name, factors)]))
        XCTAssertEqual(engine.model.attentionSpec(layer: 1).rope.frequencyFactors, factors)
        // All-ones factors are no scaling at all: the same logits, bit for bit, as the file without them.
        let plain = try InferenceEngine(modelPath: try write())
        let ones = try InferenceEngine(modelPath: try write(tensors: [(name, [Float](repeating: 1, count: 8))]))
        let prompt = Array(0 ..< 40).map { ($0 * 37) % 200 }
        let a = try plain.model.forward(tokens: prompt, cache: plain.model.makeCache(), logits: .allTokens)
        let b = try ones.model.forward(tokens: prompt, cache: ones.model.makeCache(), logits: .allTokens)
        let c = try engine.model.forward(tokens: prompt, cache: engine.model.makeCache(), logits: .allTokens)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }
}
