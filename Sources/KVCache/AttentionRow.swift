import Kernels

/// One query's attention logits over a head's pressable tokens, for statistics and scorers (not the model's
/// attention, which must match llama.cpp bit for bit: this only needs to be fast and close).
public enum AttentionRow {
    /// logits[j] = q · key_j for j < `visible`. `scratch` holds `headDimension` floats.
    public static func logits(query: UnsafePointer<Float>, head: HeadCache, visible: Int,
                              into logits: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let d = head.headDimension
        head.pressableLogits(query: query, visible: visible, kernel: AttentionKernel.forRows(of: d),
                             scratch: scratch, into: logits)
    }

    /// Number of leading pressable tokens whose position is ≤ `position` (keys a query at `position` sees).
    public static func visibleCount(_ head: HeadCache, upTo position: Int) -> Int {
        head.visibleCount(upTo: position)
    }
}
