// Based on: LLaMA: Open and Efficient Foundation Language Models (llama.cpp's `llama` graph, f16 KV cache);
// The Llama 3 Herd of Models (RoPE frequency factors). Qwen2.swift and Qwen3.swift declare the variants it also runs.
import Foundation
import GGUF
import Kernels
import KVCache

// MARK: Configuration

extension ModelConfiguration {
    /// Reads the llama-family hyperparameters from GGUF metadata, validating each.
    init(llama file: GGUFFile, architecture arch: String) throws {
        func positive(_ key: String) throws -> Int {
            let v = try file.int(key)
            guard v > 0, v < 1 << 24 else { throw ModelError.invalidHyperparameter(key: key, reason: "\(v) is not a positive size") }
            return v
        }
        let width = try positive(GGUFKey.embeddingLength(arch))
        let heads = try positive(GGUFKey.headCount(arch))
        let kvHeads = try file.optionalInt(GGUFKey.headCountKV(arch)) ?? heads
        guard kvHeads > 0, heads % kvHeads == 0 else {
            let reason = "\(kvHeads) does not divide the \(heads) query heads"
            throw ModelError.invalidHyperparameter(key: GGUFKey.headCountKV(arch), reason: reason)
        }
        let headDimension = try file.optionalInt(GGUFKey.keyLength(arch)) ?? width / heads
        guard headDimension > 0, headDimension % 2 == 0 else {
            let reason = "head dimension \(headDimension) must be positive and even"
            throw ModelError.invalidHyperparameter(key: GGUFKey.keyLength(arch), reason: reason)
        }
        let ropeDimension = try file.optionalInt(GGUFKey.ropeDimensionCount(arch)) ?? headDimension
        guard ropeDimension > 0, ropeDimension <= headDimension, ropeDimension % 2 == 0 else {
            let reason = "\(ropeDimension) must be even and at most the head dimension \(headDimension)"
            throw ModelError.invalidHyperparameter(key: GGUFKey.ropeDimensionCount(arch), reason: reason)
        }
        guard let embedding = file.tensorInfo(GGUFTensorName.tokenEmbedding), embedding.dimensions.count == 2 else {
            throw GGUFError.missingTensor(GGUFTensorName.tokenEmbedding)
        }
        self.init(
            architecture: arch,
            vocabularySize: embedding.dimensions[1],
            embeddingLength: width,
            layerCount: try positive(GGUFKey.blockCount(arch)),
            headCount: heads,
            kvHeadCount: kvHeads,
            headDimension: headDimension,
            feedForwardLength: try positive(GGUFKey.feedForwardLength(arch)),
            contextLength: try positive(GGUFKey.contextLength(arch)),
            rmsEpsilon: try Self.rmsEpsilon(file, architecture: arch),
            ropeBase: try Self.ropeBase(file, architecture: arch),
            ropeDimension: ropeDimension)
    }

    /// RMSNorm's epsilon: NaN, negative or large values turn every activation into garbage without an error.
    static func rmsEpsilon(_ file: GGUFFile, architecture arch: String) throws -> Float {
        let key = GGUFKey.rmsEpsilon(arch)
        guard let epsilon = try file.optionalFloat(key) else { return 1e-5 }
        guard epsilon >= 0, epsilon <= 1e-2 else {
            throw ModelError.invalidHyperparameter(key: key, reason: "\(epsilon) is not in [0, 0.01]")
        }
        return epsilon
    }

    /// RoPE's base frequency: must be a finite number above 1 for the rotation angles to mean anything.
    static func ropeBase(_ file: GGUFFile, architecture arch: String) throws -> Float {
        let key = GGUFKey.ropeFreqBase(arch)
        guard let base = try file.optionalFloat(key) else { return 10_000 }
        guard base.isFinite, base > 1 else {
            throw ModelError.invalidHyperparameter(key: key, reason: "\(base) is not a finite number above 1")
        }
        return base
    }
}

// MARK: Weights

/// One transformer block's weights: attention (norm, q, k, v, output) then MLP (norm, gate, up, down), with the
/// biases and Q/K norms its variant reads.
struct LlamaBlock {
    let attentionNorm: [Float]          // [width]
    let query: WeightMatrix             // [heads·headDim, width]
    let key: WeightMatrix               // [kvHeads·headDim, width]
    let value: WeightMatrix             // [kvHeads·headDim, width]
    let queryBias: [Float]?             // [heads·headDim]
    let keyBias: [Float]?               // [kvHeads·headDim]
    let valueBias: [Float]?             // [kvHeads·headDim]
    let queryNorm: [Float]?             // [headDim], shared by every query head
    let keyNorm: [Float]?               // [headDim]
    let attentionOutput: WeightMatrix   // [width, heads·headDim]
    let outputBias: [Float]?            // [width]
    let feedForwardNorm: [Float]        // [width]
    let gate: WeightMatrix              // [ff, width]
    let up: WeightMatrix                // [ff, width]
    let down: WeightMatrix              // [width, ff]

    init(_ w: WeightLoader, layer i: Int, _ c: ModelConfiguration, variant: LlamaVariant) throws {
        let qDim = c.headCount * c.headDimension, kvDim = c.kvHeadCount * c.headDimension
        let biases = variant.queryKeyValueBiases
        let norms = variant.queryKeyNorms
        attentionNorm = try w.vector(GGUFTensorName.attentionNorm(i), count: c.embeddingLength)
        query = try w.matrix(GGUFTensorName.attentionQuery(i), columns: c.embeddingLength, rows: qDim)
        key = try w.matrix(GGUFTensorName.attentionKey(i), columns: c.embeddingLength, rows: kvDim)
        value = try w.matrix(GGUFTensorName.attentionValue(i), columns: c.embeddingLength, rows: kvDim)
        queryBias = try w.vector(GGUFTensorName.attentionQueryBias(i), count: qDim, biases)
        keyBias = try w.vector(GGUFTensorName.attentionKeyBias(i), count: kvDim, biases)
        valueBias = try w.vector(GGUFTensorName.attentionValueBias(i), count: kvDim, biases)
        queryNorm = try w.vector(GGUFTensorName.attentionQueryNorm(i), count: c.headDimension, norms)
        keyNorm = try w.vector(GGUFTensorName.attentionKeyNorm(i), count: c.headDimension, norms)
        attentionOutput = try w.matrix(GGUFTensorName.attentionOutput(i), columns: qDim, rows: c.embeddingLength)
        outputBias = try w.vector(GGUFTensorName.attentionOutputBias(i), count: c.embeddingLength, variant.outputBias)
        feedForwardNorm = try w.vector(GGUFTensorName.feedForwardNorm(i), count: c.embeddingLength)
        gate = try w.matrix(GGUFTensorName.feedForwardGate(i), columns: c.embeddingLength, rows: c.feedForwardLength)
        up = try w.matrix(GGUFTensorName.feedForwardUp(i), columns: c.embeddingLength, rows: c.feedForwardLength)
        down = try w.matrix(GGUFTensorName.feedForwardDown(i), columns: c.feedForwardLength, rows: c.embeddingLength)
    }
}

// MARK: Model

/// The llama architecture: RMSNorm, RoPE, grouped-query attention, SwiGLU; tied embeddings when `output.weight` is absent.
/// Also runs the architectures that differ from it only in the tensors a `LlamaVariant` names (qwen2, qwen3).
/// One instance runs one stream at a time (it owns scratch buffers).
public final class Llama: LanguageModel {
    public let configuration: ModelConfiguration
    let file: GGUFFile  // keeps the memory map alive
    let tokenEmbedding: WeightMatrix   // [vocab, width]
    let blocks: [LlamaBlock]
    let outputNorm: [Float]            // [width]
    let output: WeightMatrix           // [vocab, width]
    /// How every layer attends: llama's scaled dot-product attention with adjacent-pair RoPE.
    let spec: AttentionSpec
    private let matmul = MatMul()
    private let attention = AttentionStep()
    private let lock = NSLock()
    /// Activations, reused across calls so steady-state decoding allocates nothing.
    private let activations = ScratchBuffer()

    public convenience init(file: GGUFFile) throws {
        try self.init(file: file, variant: .llama)
    }

    public init(file: GGUFFile, variant: LlamaVariant) throws {
        let arch = try file.string(GGUFKey.architecture)
        let c = try ModelConfiguration(llama: file, architecture: arch)
        let w = WeightLoader(file: file)
        self.file = file
        configuration = c
        tokenEmbedding = try w.matrix(GGUFTensorName.tokenEmbedding, columns: c.embeddingLength, rows: c.vocabularySize)
        blocks = try (0 ..< c.layerCount).map { try LlamaBlock(w, layer: $0, c, variant: variant) }
        outputNorm = try w.vector(GGUFTensorName.outputNorm, count: c.embeddingLength)
        output = w.has(GGUFTensorName.output)
            ? try w.matrix(GGUFTensorName.output, columns: c.embeddingLength, rows: c.vocabularySize)
            : tokenEmbedding
        let scaling = try RoPEScaling(file: file, architecture: arch, ropeDimension: c.ropeDimension)
        let rope = scaling.rope(dimensions: c.ropeDimension, base: c.ropeBase, layout: variant.ropeLayout)
        spec = .scaledDotProduct(headDimension: c.headDimension, queryHeads: c.headCount, kvHeads: c.kvHeadCount, rope: rope)
    }

    public func attentionSpec(layer: Int) -> AttentionSpec { spec }

    /// Use the scalar kernel twins instead of the vectorized ones (tests of the portable path).
    public var useScalarKernels: Bool {
        get { matmul.useScalarKernels }
        set { matmul.useScalarKernels = newValue }
    }

    public func forward(tokens: [Int], cache: KVCache, logits request: LogitsRequest) throws -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        guard !tokens.isEmpty else { return [] }
        try configuration.checkBatch(tokens, nextPosition: cache.nextPosition)
        return run(tokens: tokens, logits: request) { layer, attention, q, k, v, n, output in
            attention.attend(layer: layer, cache: cache, queries: q, keys: k, values: v, tokens: n, output: output)
        } advance: {
            cache.advance(by: tokens.count)
        }
    }

    public func forward(batch tokens: [Int], caches: [KVCache]) throws -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        guard !tokens.isEmpty else { return [] }
        precondition(tokens.count == caches.count, "one cache per token")
        precondition(Set(caches.map(ObjectIdentifier.init)).count == caches.count, "a cache appears twice in a batch")
        for (token, cache) in zip(tokens, caches) {
            try configuration.checkBatch([token], nextPosition: cache.nextPosition)
        }
        // Row i of every activation belongs to sequence i: it attends over its own cache only.
        return run(tokens: tokens, logits: .allTokens) { layer, attention, q, k, v, _, output in
            attention.attendRows(layer: layer, caches: caches, queries: q, keys: k, values: v, output: output)
        } advance: {
            for cache in caches { cache.advance(by: 1) }
        }
    }

    /// The layers over `tokens`, with attention left to `attend` (one sequence's causal block, or one row per
    /// sequence); `advance` moves the caches on once every layer has appended its rows.
    private func run(tokens: [Int], logits request: LogitsRequest,
                     attend: (Int, AttentionStep, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                              UnsafeMutablePointer<Float>, Int, UnsafeMutablePointer<Float>) -> Void,
                     advance: () -> Void) -> [Float] {
        let c = configuration
        let n = tokens.count
        let width = c.embeddingLength
        let ff = c.feedForwardLength
        let scratch = BlockScratch(activations, configuration: c, tokens: n)
        let (x, normed, projected, q, attended) = (scratch.x, scratch.normed, scratch.projected, scratch.q, scratch.attended)
        let (k, v, gate, up) = (scratch.k, scratch.v, scratch.gate, scratch.up)

        for (t, token) in tokens.enumerated() {
            tokenEmbedding.dequantizeRow(token, into: x.p + t * width)
        }

        for (layer, block) in blocks.enumerated() {
            // Attention
            normalize(x, into: normed, weight: block.attentionNorm, tokens: n)
            matmul.multiply([block.query, block.key, block.value], input: normed.p, tokens: n, outputs: [q.p, k.p, v.p])
            RowOperations.addBias(block.queryBias, to: q, rows: n)
            RowOperations.addBias(block.keyBias, to: k, rows: n)
            RowOperations.addBias(block.valueBias, to: v, rows: n)
            if let queryNorm = block.queryNorm, let keyNorm = block.keyNorm {
                let epsilon = c.rmsEpsilon
                let d = c.headDimension
                RowOperations.normalize(q, into: q, weight: queryNorm, rows: n * c.headCount, width: d, epsilon: epsilon)
                RowOperations.normalize(k, into: k, weight: keyNorm, rows: n * c.kvHeadCount, width: d, epsilon: epsilon)
            }
            attend(layer, attention, q.p, k.p, v.p, n, attended.p)
            matmul.multiply(block.attentionOutput, input: attended.p, tokens: n, output: projected.p)
            RowOperations.addBias(block.outputBias, to: projected, rows: n)
            add(projected, into: x, count: n * width)

            // MLP
            normalize(x, into: normed, weight: block.feedForwardNorm, tokens: n)
            matmul.multiply([block.gate, block.up], input: normed.p, tokens: n, outputs: [gate.p, up.p])
            SwiGLU.apply(gate: gate.p, up: up.p, count: n * ff)
            matmul.multiply(block.down, input: gate.p, tokens: n, output: projected.p)
            add(projected, into: x, count: n * width)
        }
        advance()

        return matmul.logits(hidden: x, tokens: n, request: request, outputNorm: outputNorm, output: output,
                             normed: normed, configuration: c)
    }

    private func normalize(_ x: Buffer, into y: Buffer, weight: [Float], tokens: Int) {
        let c = configuration
        RowOperations.normalize(x, into: y, weight: weight, rows: tokens, width: c.embeddingLength, epsilon: c.rmsEpsilon)
    }

    private func add(_ source: Buffer, into destination: Buffer, count: Int) {
        RowOperations.add(source, into: destination, count: count)
    }
}
