// Based on: Qwen3 Technical Report (Qwen Team, 2025), as llama.cpp's `qwen3` graph computes it.

extension LlamaVariant {
    /// qwen3 (dense Qwen 3): llama's block with an RMSNorm over every query and key head before RoPE, no Q/K/V
    /// biases, NEOX RoPE; the head dimension comes from `attention.key_length` (128 with a width of 1,024 in 0.6B).
    static let qwen3 = LlamaVariant(ropeLayout: .neoxHalves, queryKeyValueBiases: .absent, outputBias: .optional,
                                    queryKeyNorms: .required)
}
