// Based on: Gemma 3 Technical Report (Google DeepMind, 2025), as llama.cpp's `gemma3` graph computes it.
import Foundation
import GGUF
import Kernels
import KVCache

// MARK: Layer layout

/// Which Gemma 3 layers attend locally (a sliding window, RoPE base 10,000) and which globally (every token,
/// the file's RoPE base). Without a pattern in the file, five local layers precede each global one.
struct Gemma3LayerLayout: Equatable {
    let isLocal: [Bool]
    let window: Int?
    let localRopeBase: Float

    init(file: GGUFFile, architecture arch: String, layers: Int) throws {
        let windowKey = GGUFKey.slidingWindow(arch)
        let window = try file.optionalInt(windowKey)
        if let window, window <= 0 || window >= 1 << 24 {
            throw ModelError.invalidHyperparameter(key: windowKey, reason: "\(window) is not a positive token count")
        }
        self.window = window
        localRopeBase = try file.optionalFloat(GGUFKey.ropeFreqBaseSlidingWindow(arch)) ?? 10_000
        guard localRopeBase.isFinite, localRopeBase > 1 else {
            let reason = "\(localRopeBase) is not a finite number above 1"
            throw ModelError.invalidHyperparameter(key: GGUFKey.ropeFreqBaseSlidingWindow(arch), reason: reason)
        }
        guard window != nil else {
            isLocal = Array(repeating: false, count: layers)
            return
        }
        isLocal = try Self.pattern(file, key: GGUFKey.slidingWindowPattern(arch), layers: layers)
    }

    /// The pattern as llama.cpp reads it: an array of one flag per layer, or a period n (layer i is local unless
    /// i mod n = n − 1; 0 makes every layer local).
    private static func pattern(_ file: GGUFFile, key: String, layers: Int) throws -> [Bool] {
        if case .array(_, let flags)? = file.metadata[key] {
            let bools = flags.compactMap { value -> Bool? in
                if case .bool(let flag) = value { return flag }
                return nil
            }
            guard bools.count == flags.count, bools.count >= layers else {
                throw ModelError.invalidHyperparameter(key: key, reason: "expected \(layers) booleans, one per layer")
            }
            return Array(bools.prefix(layers))
        }
        let period = try file.optionalInt(key) ?? 6
        guard period >= 0, period < 1 << 16 else {
            throw ModelError.invalidHyperparameter(key: key, reason: "\(period) is not a layer period")
        }
        return (0 ..< layers).map { period == 0 || $0 % period < period - 1 }
    }
}

// MARK: Weights

/// One Gemma 3 block: attention with per-head Q/K norms and a norm after it; a GeGLU MLP with a norm after it.
struct Gemma3Block {
    let attentionNorm: [Float]          // [width]
    let query: WeightMatrix             // [heads·headDim, width]
    let key: WeightMatrix               // [kvHeads·headDim, width]
    let value: WeightMatrix             // [kvHeads·headDim, width]
    let queryNorm: [Float]              // [headDim], shared by every query head
    let keyNorm: [Float]                // [headDim]
    let attentionOutput: WeightMatrix   // [width, heads·headDim]
    let attentionPostNorm: [Float]      // [width]
    let feedForwardNorm: [Float]        // [width]
    let gate: WeightMatrix              // [ff, width]
    let up: WeightMatrix                // [ff, width]
    let down: WeightMatrix              // [width, ff]
    let feedForwardPostNorm: [Float]    // [width]

    init(_ w: WeightLoader, layer i: Int, _ c: ModelConfiguration) throws {
        let width = c.embeddingLength
        let qDim = c.headCount * c.headDimension
        let kvDim = c.kvHeadCount * c.headDimension
        attentionNorm = try w.vector(GGUFTensorName.attentionNorm(i), count: width)
        query = try w.matrix(GGUFTensorName.attentionQuery(i), columns: width, rows: qDim)
        key = try w.matrix(GGUFTensorName.attentionKey(i), columns: width, rows: kvDim)
        value = try w.matrix(GGUFTensorName.attentionValue(i), columns: width, rows: kvDim)
        queryNorm = try w.vector(GGUFTensorName.attentionQueryNorm(i), count: c.headDimension)
        keyNorm = try w.vector(GGUFTensorName.attentionKeyNorm(i), count: c.headDimension)
        attentionOutput = try w.matrix(GGUFTensorName.attentionOutput(i), columns: qDim, rows: width)
        attentionPostNorm = try w.vector(GGUFTensorName.attentionPostNorm(i), count: width)
        feedForwardNorm = try w.vector(GGUFTensorName.feedForwardNorm(i), count: width)
        gate = try w.matrix(GGUFTensorName.feedForwardGate(i), columns: width, rows: c.feedForwardLength)
        up = try w.matrix(GGUFTensorName.feedForwardUp(i), columns: width, rows: c.feedForwardLength)
        down = try w.matrix(GGUFTensorName.feedForwardDown(i), columns: c.feedForwardLength, rows: width)
        feedForwardPostNorm = try w.vector(GGUFTensorName.feedForwardPostNorm(i), count: width)
    }
}

// MARK: Model

/// The gemma3 architecture: embeddings scaled by √width, four RMSNorms per block, per-head Q/K RMSNorm, NEOX RoPE,
/// GeGLU, interleaved sliding-window (local) and global layers, tied embeddings when `output.weight` is absent.
/// One instance runs one stream at a time (it owns scratch buffers).
public final class Gemma3: LanguageModel {
    public let configuration: ModelConfiguration
    let file: GGUFFile  // keeps the memory map alive
    let tokenEmbedding: WeightMatrix   // [vocab, width]
    let blocks: [Gemma3Block]
    let outputNorm: [Float]            // [width]
    let output: WeightMatrix           // [vocab, width]
    let layout: Gemma3LayerLayout
    let specs: [AttentionSpec]
    /// When set, logits z become cap · tanh(z / cap) (Gemma 2's final soft-cap; Gemma 3 files normally omit it).
    let finalLogitSoftCap: Float?
    private let matmul = MatMul()
    private let attention = AttentionStep()
    private let lock = NSLock()
    private let activations = ScratchBuffer()

    public init(file: GGUFFile) throws {
        let arch = try file.string(GGUFKey.architecture)
        let c = try ModelConfiguration(llama: file, architecture: arch)
        let scaling = try RoPEScaling(file: file, architecture: arch, ropeDimension: c.ropeDimension)
        let w = WeightLoader(file: file)
        self.file = file
        configuration = c
        tokenEmbedding = try w.matrix(GGUFTensorName.tokenEmbedding, columns: c.embeddingLength, rows: c.vocabularySize)
        blocks = try (0 ..< c.layerCount).map { try Gemma3Block(w, layer: $0, c) }
        outputNorm = try w.vector(GGUFTensorName.outputNorm, count: c.embeddingLength)
        output = w.has(GGUFTensorName.output)
            ? try w.matrix(GGUFTensorName.output, columns: c.embeddingLength, rows: c.vocabularySize)
            : tokenEmbedding
        layout = try Gemma3LayerLayout(file: file, architecture: arch, layers: c.layerCount)
        specs = Self.attentionSpecs(c, layout: layout, scaling: scaling)
        let cap = try file.optionalFloat(GGUFKey.finalLogitSoftcapping(arch)) ?? 0
        guard cap.isFinite, cap >= 0 else {
            let reason = "\(cap) is not a finite non-negative number"
            throw ModelError.invalidHyperparameter(key: GGUFKey.finalLogitSoftcapping(arch), reason: reason)
        }
        finalLogitSoftCap = cap > 0 ? cap : nil
    }

    /// Per layer: local layers see their window with the local RoPE base, unscaled; global layers everything with
    /// the file's base and RoPE scaling (linear by 8 in the 4B–27B files), as llama.cpp's graph for gemma3.
    /// The logit scale is 1/√headDim (Gemma's query_pre_attn_scalar for every size but 27B, which scales by
    /// 1/√(width/heads)); llama.cpp multiplies the queries by it, which gives the same bits for the power-of-two
    /// head dimensions Gemma 3 uses.
    static func attentionSpecs(_ c: ModelConfiguration, layout: Gemma3LayerLayout,
                               scaling: RoPEScaling) -> [AttentionSpec] {
        let is27B = c.layerCount == 62
        let scaleDimension = is27B ? c.embeddingLength / c.headCount : c.headDimension
        let scale = 1 / Float(scaleDimension).squareRoot()
        return (0 ..< c.layerCount).map { layer in
            let local = layout.isLocal[layer]
            let rope = local
                ? RoPE(dimensions: c.ropeDimension, base: layout.localRopeBase, layout: .neoxHalves)
                : scaling.rope(dimensions: c.ropeDimension, base: c.ropeBase, layout: .neoxHalves)
            return AttentionSpec(headDimension: c.headDimension, queryHeads: c.headCount, kvHeads: c.kvHeadCount,
                                 scale: scale, rope: rope, slidingWindow: local ? layout.window : nil)
        }
    }

    public func attentionSpec(layer: Int) -> AttentionSpec { specs[layer] }

    /// Use the scalar kernel twins instead of the vectorized ones (tests of the portable path).
    public var useScalarKernels: Bool {
        get { matmul.useScalarKernels }
        set { matmul.useScalarKernels = newValue }
    }

    public func forward(tokens: [Int], cache: KVCache, logits request: LogitsRequest) throws -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        let c = configuration
        let n = tokens.count
        guard n > 0 else { return [] }
        try c.checkBatch(tokens, nextPosition: cache.nextPosition)
        let width = c.embeddingLength
        let ff = c.feedForwardLength
        let scratch = BlockScratch(activations, configuration: c, tokens: n)
        let (x, normed, projected, q, attended) = (scratch.x, scratch.normed, scratch.projected, scratch.q, scratch.attended)
        let (k, v, gate, up) = (scratch.k, scratch.v, scratch.gate, scratch.up)

        for (t, token) in tokens.enumerated() {
            tokenEmbedding.dequantizeRow(token, into: x.p + t * width)
        }
        RowOperations.scale(x, by: Float(width).squareRoot(), count: n * width)

        for (layer, block) in blocks.enumerated() {
            normalize(x, into: normed, weight: block.attentionNorm, rows: n, width: width)
            matmul.multiply([block.query, block.key, block.value], input: normed.p, tokens: n, outputs: [q.p, k.p, v.p])
            normalize(q, into: q, weight: block.queryNorm, rows: n * c.headCount, width: c.headDimension)
            normalize(k, into: k, weight: block.keyNorm, rows: n * c.kvHeadCount, width: c.headDimension)
            attention.attend(layer: layer, cache: cache, queries: q.p, keys: k.p, values: v.p, tokens: n,
                             output: attended.p)
            matmul.multiply(block.attentionOutput, input: attended.p, tokens: n, output: projected.p)
            normalize(projected, into: projected, weight: block.attentionPostNorm, rows: n, width: width)
            RowOperations.add(projected, into: x, count: n * width)

            normalize(x, into: normed, weight: block.feedForwardNorm, rows: n, width: width)
            matmul.multiply([block.gate, block.up], input: normed.p, tokens: n, outputs: [gate.p, up.p])
            GeGLU.apply(gate: gate.p, up: up.p, count: n * ff)
            matmul.multiply(block.down, input: gate.p, tokens: n, output: projected.p)
            normalize(projected, into: projected, weight: block.feedForwardPostNorm, rows: n, width: width)
            RowOperations.add(projected, into: x, count: n * width)
        }
        cache.advance(by: n)

        var logits = matmul.logits(hidden: x, tokens: n, request: request, outputNorm: outputNorm, output: output,
                                   normed: normed, configuration: c)
        if let cap = finalLogitSoftCap {
            let inverse = 1 / cap
            for i in logits.indices { logits[i] = tanhf(logits[i] * inverse) * cap }
        }
        return logits
    }

    private func normalize(_ x: Buffer, into y: Buffer, weight: [Float], rows: Int, width: Int) {
        RowOperations.normalize(x, into: y, weight: weight, rows: rows, width: width, epsilon: configuration.rmsEpsilon)
    }
}
