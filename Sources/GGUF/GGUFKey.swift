/// GGUF metadata keys and tensor-name templates, in one place; model code never spells raw strings.
public enum GGUFKey {
    public static let architecture = "general.architecture"
    public static let name = "general.name"
    public static let alignment = "general.alignment"
    public static let fileType = "general.file_type"

    /// Keys prefixed by the architecture name, e.g. `llama.block_count`.
    public static func blockCount(_ arch: String) -> String { "\(arch).block_count" }
    public static func contextLength(_ arch: String) -> String { "\(arch).context_length" }
    public static func embeddingLength(_ arch: String) -> String { "\(arch).embedding_length" }
    public static func feedForwardLength(_ arch: String) -> String { "\(arch).feed_forward_length" }
    public static func headCount(_ arch: String) -> String { "\(arch).attention.head_count" }
    public static func headCountKV(_ arch: String) -> String { "\(arch).attention.head_count_kv" }
    public static func keyLength(_ arch: String) -> String { "\(arch).attention.key_length" }
    public static func valueLength(_ arch: String) -> String { "\(arch).attention.value_length" }
    public static func rmsEpsilon(_ arch: String) -> String { "\(arch).attention.layer_norm_rms_epsilon" }
    public static func ropeFreqBase(_ arch: String) -> String { "\(arch).rope.freq_base" }
    public static func ropeDimensionCount(_ arch: String) -> String { "\(arch).rope.dimension_count" }
    public static func vocabSize(_ arch: String) -> String { "\(arch).vocab_size" }
    public static func slidingWindow(_ arch: String) -> String { "\(arch).attention.sliding_window" }
    public static func slidingWindowPattern(_ arch: String) -> String { "\(arch).attention.sliding_window_pattern" }
    public static func ropeFreqBaseSlidingWindow(_ arch: String) -> String { "\(arch).rope.freq_base_swa" }
    public static func ropeScalingFactor(_ arch: String) -> String { "\(arch).rope.scaling.factor" }
    public static func ropeScalingType(_ arch: String) -> String { "\(arch).rope.scaling.type" }
    public static func finalLogitSoftcapping(_ arch: String) -> String { "\(arch).final_logit_softcapping" }

    public enum Tokenizer {
        public static let model = "tokenizer.ggml.model"
        public static let pre = "tokenizer.ggml.pre"
        public static let tokens = "tokenizer.ggml.tokens"
        public static let tokenTypes = "tokenizer.ggml.token_type"
        public static let scores = "tokenizer.ggml.scores"
        public static let merges = "tokenizer.ggml.merges"
        public static let bosID = "tokenizer.ggml.bos_token_id"
        public static let eosID = "tokenizer.ggml.eos_token_id"
        public static let eotID = "tokenizer.ggml.eot_token_id"
        public static let unknownID = "tokenizer.ggml.unknown_token_id"
        public static let paddingID = "tokenizer.ggml.padding_token_id"
        public static let addBOS = "tokenizer.ggml.add_bos_token"
        public static let addEOS = "tokenizer.ggml.add_eos_token"
        public static let addSpacePrefix = "tokenizer.ggml.add_space_prefix"
        public static let chatTemplate = "tokenizer.chat_template"
    }
}

/// Tensor-name templates (GGML naming, as llama.cpp's `llama-arch.cpp` table).
public enum GGUFTensorName {
    public static let tokenEmbedding = "token_embd.weight"
    public static let outputNorm = "output_norm.weight"
    public static let output = "output.weight"
    /// Llama 3's RoPE frequency factors (one per rotated pair), shared by every layer.
    public static let ropeFrequencies = "rope_freqs.weight"

    public static func attentionNorm(_ layer: Int) -> String { "blk.\(layer).attn_norm.weight" }
    public static func attentionQuery(_ layer: Int) -> String { "blk.\(layer).attn_q.weight" }
    public static func attentionKey(_ layer: Int) -> String { "blk.\(layer).attn_k.weight" }
    public static func attentionValue(_ layer: Int) -> String { "blk.\(layer).attn_v.weight" }
    public static func attentionOutput(_ layer: Int) -> String { "blk.\(layer).attn_output.weight" }
    public static func feedForwardNorm(_ layer: Int) -> String { "blk.\(layer).ffn_norm.weight" }
    public static func feedForwardGate(_ layer: Int) -> String { "blk.\(layer).ffn_gate.weight" }
    public static func feedForwardUp(_ layer: Int) -> String { "blk.\(layer).ffn_up.weight" }
    public static func feedForwardDown(_ layer: Int) -> String { "blk.\(layer).ffn_down.weight" }
    public static func attentionQueryBias(_ layer: Int) -> String { "blk.\(layer).attn_q.bias" }
    public static func attentionKeyBias(_ layer: Int) -> String { "blk.\(layer).attn_k.bias" }
    public static func attentionValueBias(_ layer: Int) -> String { "blk.\(layer).attn_v.bias" }
    public static func attentionOutputBias(_ layer: Int) -> String { "blk.\(layer).attn_output.bias" }
    public static func attentionQueryNorm(_ layer: Int) -> String { "blk.\(layer).attn_q_norm.weight" }
    public static func attentionKeyNorm(_ layer: Int) -> String { "blk.\(layer).attn_k_norm.weight" }
    public static func attentionPostNorm(_ layer: Int) -> String { "blk.\(layer).post_attention_norm.weight" }
    public static func feedForwardPostNorm(_ layer: Int) -> String { "blk.\(layer).post_ffw_norm.weight" }
}
