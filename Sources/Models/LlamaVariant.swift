import Kernels

/// What sets apart the architectures that share llama's block (RMSNorm, grouped-query attention, SwiGLU MLP):
/// the RoPE layout and the optional tensors llama.cpp's graph for each reads. Each architecture's file declares
/// its variant; `Llama` runs them all.
public struct LlamaVariant: Sendable {
    /// Whether a block's tensors of one kind must be in the file, may be, or are never read.
    enum Presence: Sendable {
        case required
        case optional
        case absent
    }

    let ropeLayout: RoPELayout
    /// `attn_q.bias`, `attn_k.bias`, `attn_v.bias`, added to the projections.
    let queryKeyValueBiases: Presence
    /// `attn_output.bias`, added after the output projection.
    let outputBias: Presence
    /// `attn_q_norm`, `attn_k_norm`: RMSNorm of every query and key head before RoPE.
    let queryKeyNorms: Presence
}

extension LlamaVariant {
    /// llama (Llama 1–3, SmolLM, Mistral): adjacent-pair RoPE; llama.cpp reads biases when a file has them.
    static let llama = LlamaVariant(ropeLayout: .adjacentPairs, queryKeyValueBiases: .optional, outputBias: .optional,
                                    queryKeyNorms: .absent)
}

extension WeightLoader {
    /// A vector the variant may or must carry: nil when it is absent, or optional and not in the file.
    func vector(_ name: String, count: Int, _ presence: LlamaVariant.Presence) throws -> [Float]? {
        switch presence {
        case .absent: return nil
        case .optional where !has(name): return nil
        case .optional, .required: return try vector(name, count: count)
        }
    }
}
