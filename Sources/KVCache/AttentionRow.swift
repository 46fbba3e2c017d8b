import CKernels
import Kernels

/// One query's attention logits over a head's retained keys, for statistics and scorers (not the model's
/// attention, which must match llama.cpp bit for bit: this only needs to be fast and close).
public enum AttentionRow {
    /// logits[j] = q · key_j for j < `visible`. `scratch` holds `headDimension` floats (portable path).
    public static func logits(query: UnsafePointer<Float>, head: HeadCache, visible: Int,
                              into logits: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let d = head.headDimension
        head.withStorage { keys, _ in
            if KernelDispatch.useAVX2 && d % 32 == 0 {
                tp_scores_f16(query, UnsafeRawPointer(keys).assumingMemoryBound(to: UInt16.self), Int32(visible), Int32(d), 0, logits)
            } else {
                logitsPortable(query: query, keys: keys, dimension: d, visible: visible, into: logits, scratch: scratch)
            }
        }
    }

    /// The portable twin of `logits`.
    public static func logitsPortable(query: UnsafePointer<Float>, keys: UnsafePointer<Float16>, dimension d: Int, visible: Int,
                                      into logits: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        for j in 0 ..< visible {
            HalfConversion.toFloat(keys + j * d, scratch, count: d)
            logits[j] = VectorMath.dot(query, scratch, count: d)
        }
    }

    /// Number of leading retained tokens whose position is ≤ `position` (keys a query at `position` sees).
    public static func visibleCount(_ head: HeadCache, upTo position: Int) -> Int {
        CachedAttention.visibleCount(head.positions, upTo: position)
    }
}
