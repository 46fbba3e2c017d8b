// Based on: Qwen2 Technical Report (Qwen Team, 2024), as llama.cpp's `qwen2` graph computes it.

extension LlamaVariant {
    /// qwen2 (Qwen 2 and 2.5): llama's block with biases on the Q, K and V projections and NEOX RoPE.
    static let qwen2 = LlamaVariant(ropeLayout: .neoxHalves, queryKeyValueBiases: .required, outputBias: .optional,
                                    queryKeyNorms: .absent)
}
