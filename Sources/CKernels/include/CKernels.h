// Innermost kernels in C, compiled for AVX2+FMA+F16C and chosen at run time (tp_has_avx2 tells whether
// this CPU can run them); the Swift SIMD code in Kernels is the portable fallback and the reference.
// Arithmetic follows llama.cpp's x86 kernels operation for operation, so results are bit-identical.
#ifndef TOKENPRESS_CKERNELS_H
#define TOKENPRESS_CKERNELS_H

#include <stdint.h>

#include "ThreadPool.h"

/// 1 when the CPU supports AVX2, FMA and F16C (the kernels below may then be called), else 0.
int tp_has_avx2(void);
/// Whether this CPU has AVX-512 F/BW/VL/VNNI: tp_matmul_q8 then multiplies batches of 16 tokens or more in 512-bit
/// tiles, with the AVX2 kernel's bits.
int tp_has_avx512(void);
/// Allows (1) or forbids (0) those tiles; tests forbid them to compare with the AVX2 tiles.
void tp_use_avx512(int enabled);

/// out[t * out_stride + r] = dot(weight row r, activation row t) for r in [row_begin, row_end), t in [0, tokens).
/// Weights: `type_id` is GGML's (2 Q4_0, 3 Q4_1, 6 Q5_0, 7 Q5_1, 8 Q8_0), rows of `blocks` blocks, `row_bytes` apart.
/// Activations: int8 quants [tokens, blocks * 32], f16-rounded scales and sums [tokens, blocks].
void tp_matmul_q8(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int blocks,
                  const int8_t *quants, const float *scales, const float *sums, int tokens,
                  float *out, long out_stride);

/// Q4_K (type 12) or Q6_K (14) rows row_begin..<row_end times `tokens` tokens of Q8_K activations (`blocks` blocks
/// of 256 a row: scales ad[t·blocks + b], quants aq[(t·blocks + b)·256 ...], sums of 16 asums[(t·blocks + b)·16 ...]),
/// with the float steps of llama.cpp's AVX2 build. Returns 0 (nothing written) for other types.
int tp_matmul_q8k(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int blocks,
                  const float *ad, const int8_t *aq, const int16_t *asums, int tokens, float *out, long out_stride);

/// K-quant weights (12 Q4_K, 13 Q5_K, 14 Q6_K) times f32 activations: each weight row is decoded to f32 once
/// (into `scratch`, `columns` floats) and dotted with every token's activations [tokens, columns].
/// Returns 0 (and does nothing) for other types.
int tp_matmul_kquant(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int columns,
                     const float *input, int tokens, float *out, long out_stride, float *scratch);

/// Σ q[i]·k[i] over `dim` values (a multiple of 32): q as f16-exact floats, k as f16.
/// `order` 0: one accumulator of 8 lanes (llamafile tinyBLAS); 1: four of 8 lanes (ggml_vec_dot_f16).
float tp_dot_f16(const float *q, const uint16_t *k, int dim, int order);

/// scores[j] = tp_dot_f16(q, keys + j·dim, dim, order) for j < count.
void tp_scores_f16(const float *q, const uint16_t *keys, int count, int dim, int order, float *scores);

/// out[i] = Σ_j f16(w[j]) · v[j][i] for j < count, i < dim (dim a multiple of 8), summed per lane as in
/// `tp_dot_f16` over j. `scratch` holds 32 · dim floats.
void tp_weighted_sum_f16(const float *w, const uint16_t *v, int count, int dim, int order, float *scratch, float *out);

/// In-place softmax of x · scale over `count` values, as ggml's soft_max on AVX2 (exp approximation,
/// chunk sums of 8 into a double).
void tp_softmax(float *x, int count, float scale);

/// gate[i] = silu(gate[i]) · up[i], with the same exp approximation.
void tp_swiglu(float *gate, const float *up, int count);

/// out[i] = Σ_j w[j]·v_j[i] over `count` rows of a block format (2 Q4_0, 3 Q4_1, 6 Q5_0, 7 Q5_1, 8 Q8_0; `dim`
/// values each, `row_bytes` apart), on the codes: out = fma(w·scale, code, out) row after row, and for formats with
/// a minimum Σ_j w[j]·minimum per block (fused multiply-adds into `minimum_sums`, dim / 32 floats) added last.
void tp_weighted_sum_q(int type_id, const void *rows, long row_bytes, int count, int dim, const float *w,
                       float *minimum_sums, float *out);

/// Logits of `queries` query heads sharing one KV head, over `count` rows of a block format (types as
/// tp_matmul_q8, `blocks` blocks a row): out[g·stride + j] = dot(row j, query g), with query g's int8 quants at
/// quants + g·blocks·32 and its scales and sums at g·blocks. Each block is decoded once for all queries; every
/// logit has the bits tp_matmul_q8 gives that query alone.
void tp_group_logits_q(int type_id, const void *rows, long row_bytes, int count, int blocks, int queries,
                       const int8_t *quants, const float *scales, const float *sums, float *out, long stride);

/// tp_weighted_sum_q for `queries` query heads at once (weights of query g at w + g·w_stride, its output at
/// out + g·out_stride), over blocks [block_begin, block_end) of the rows only (channels 32·block_begin up to
/// 32·block_end): each block is decoded once for all queries, with tp_weighted_sum_q's bits.
void tp_group_weighted_sum_q(int type_id, const void *rows, long row_bytes, int count, int block_begin,
                             int block_end, int queries, const float *w, long w_stride, float *out, long out_stride);

/// Attention logits over rows of packed codes (`bits` 2, 3, 4 or 8; eight codes in `bits` bytes, little-endian;
/// `dim` a multiple of 8) of one group of per-channel quantized keys (f16 `scales` and `zeros`, one per channel):
/// qs = q·scale (into `qs`, dim floats) and bias = Σ_c q[c]·zero[c] (eight lanes of fused multiply-adds, hsum8),
/// then out[j] = Σ_c qs[c]·code[j][c] + bias for j < rows (eight lanes, fused multiply-adds, hsum8).
void tp_packed_logits(const float *q, const uint16_t *scales, const uint16_t *zeros, const uint8_t *codes,
                      int rows, int dim, int bits, float *qs, float *out);

/// out[c] = Σ_j w[j]·(scale[j][g]·code[j][c] + zero[j][g]) over rows of packed codes quantized per token in
/// groups of `group` channels (g = c / group; scales and zeros f16, [rows, dim / group]). `zero_sums` holds
/// dim / group floats. Codes are added row by row with fused multiply-adds, the zeros' sum last.
void tp_packed_weighted_sum(const float *w, const uint8_t *codes, const uint16_t *scales, const uint16_t *zeros,
                            int rows, int dim, int bits, int group, float *zero_sums, float *out);

/// tp_packed_logits for `count` queries (query g at queries + g·dim) over one key group's rows, each row's codes
/// decoded once for all of them: out[g·stride + j] has the bits tp_packed_logits gives query g alone. `scratch`
/// holds (count + 8)·dim + count floats.
void tp_packed_group_logits(const float *queries, int count, const uint16_t *scales, const uint16_t *zeros,
                            const uint8_t *codes, int rows, int dim, int bits, float *scratch, float *out,
                            long stride);

/// tp_packed_weighted_sum for `count` queries (weights of query g at w + g·w_stride, its output at
/// out + g·out_stride), channels [c_begin, c_end) only (whole groups of `group`): each row decoded once for all
/// queries, with tp_packed_weighted_sum's bits. `scratch` holds 32·64 + count·(64 + dim / group) floats.
void tp_packed_group_weighted_sum(const float *w, long w_stride, int count, const uint8_t *codes,
                                  const uint16_t *scales, const uint16_t *zeros, int rows, int dim, int bits,
                                  int group, int c_begin, int c_end, float *scratch, float *out, long out_stride);

/// tp_scores_f16 in ggml_vec_dot_f16's order (order 1) for `count` queries at once (dim a multiple of 32):
/// out[g·stride + j] has the one-query kernel's bits.
void tp_f16_group_scores(const float *queries, int count, const uint16_t *keys, int rows, int dim, float *out,
                         long stride);

/// tp_weighted_sum_f16 in order 1 for `count` queries, channels [c_begin, c_end) only (a multiple of 8 wide), with
/// the one-query kernel's bits. `lanes` holds 32·(c_end − c_begin)·count floats.
void tp_f16_group_weighted_sum(const float *w, long w_stride, int count, const uint16_t *values, int rows, int dim,
                               int c_begin, int c_end, float *lanes, float *out, long out_stride);

/// Logits over pruned key rows (a bitmap of `words` 64-bit words per row, the kept values in f16, `kept` per row, in
/// channel order): out[j] = Σ q[channel]·value over row j's kept channels, ascending, product then sum.
void tp_sparse_logits(const float *q, const uint64_t *masks, const uint16_t *values, int rows, int words,
                      int kept, float *out);

/// out[c] = Σ_j w[j]·value_j[c] over pruned value rows (layout as `tp_sparse_logits`), rows in order.
void tp_sparse_weighted_sum(const float *w, const uint64_t *masks, const uint16_t *values, int rows,
                            int words, int kept, int dim, float *out);

/// For each of `count` vectors (`dim` floats each, one after another), the first row r < `rows` with the largest
/// dot(row r, vector), into best[v] and its value into best_values[v], rows stored by columns (element i of row r at
/// columns[i·stride + r]; stride a multiple of 16, rows past `rows` zero-padded). Every dot has the bits of
/// VectorMath.argmaxDotsByColumnsPortable (products then adds, in its order), so the same row wins. `block` holds
/// 16·dim floats (a block of 16 rows, copied next to each other).
void tp_argmax_dots_by_columns(const float *vectors, int count, const float *columns, long stride, int rows,
                               int dim, float *block, float *best_values, int64_t *best);

#endif
