// Decode attention of the query heads that share one KV head over KIVI's packed codes and over f16 rows: each packed
// row is read and decoded once for all the queries instead of once per query (f16 rows need no decoding; their
// kernels take the queries one by one). Every logit and sum takes the operations of
// the one-query kernel in the same order (tp_packed_logits, tp_packed_weighted_sum, and tp_scores_f16 /
// tp_weighted_sum_f16 in ggml_vec_dot_f16's order), so the results have its bits; only the decoding is shared.
#include "CKernels.h"

#include <math.h>
#include <string.h>

#include "BlockDecoding.h"
#include "PackedAttention512.h"

#if TP_X86

// ---- KIVI: keys per channel over a group of tokens, values per token over groups of channels ----

// Scratch: each query times the group's scales [count, dim], the queries' zero-point biases [count], eight rows'
// codes as floats [8, dim].
TP_AVX2 static inline __attribute__((always_inline)) void packed_group_logits(
    const float *queries, int count, const uint16_t *scales, const uint16_t *zeros, const uint8_t *codes, int rows,
    int dim, int bits, float *scratch, float *out, long stride) {
    const long row_bytes = (long)dim * bits / 8;
    float *qs = scratch;
    float *bias = qs + (long)count * dim;
    float *decoded = bias + count;
    for (int g = 0; g < count; g++) {
        const float *q = queries + (long)g * dim;
        __m256 bias_lanes = _mm256_setzero_ps();
        for (int c = 0; c < dim; c += 8) {
            const __m256 qc = _mm256_loadu_ps(q + c);
            const __m256 scale = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + c)));
            _mm256_storeu_ps(qs + (long)g * dim + c, _mm256_mul_ps(qc, scale));
            const __m256 zero = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(zeros + c)));
            bias_lanes = _mm256_fmadd_ps(qc, zero, bias_lanes);
        }
        bias[g] = hsum8(bias_lanes);
    }
    int j = tp_take_avx512() ? tp_packed_group_logits512(qs, bias, count, codes, rows, dim, bits, out, stride) : 0;
    for (; j + 8 <= rows; j += 8) {
        for (int k = 0; k < 8; k++) {
            const uint8_t *row = codes + (j + k) * row_bytes;
            for (int c = 0; c < dim; c += 8) _mm256_storeu_ps(decoded + k * dim + c, unpack8(row + c / 8 * bits, bits));
        }
        for (int g = 0; g < count; g++) {
            const float *qsg = qs + (long)g * dim;
            __m256 acc[8];
            for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
            for (int c = 0; c < dim; c += 8) {
                const __m256 qc = _mm256_loadu_ps(qsg + c);
                for (int k = 0; k < 8; k++) acc[k] = _mm256_fmadd_ps(qc, _mm256_loadu_ps(decoded + k * dim + c), acc[k]);
            }
            _mm256_storeu_ps(out + g * stride + j, _mm256_add_ps(hsum8x8(acc), _mm256_set1_ps(bias[g])));
        }
    }
    for (; j < rows; j++) {
        const uint8_t *row = codes + j * row_bytes;
        for (int c = 0; c < dim; c += 8) _mm256_storeu_ps(decoded + c, unpack8(row + c / 8 * bits, bits));
        for (int g = 0; g < count; g++) {
            const float *qsg = qs + (long)g * dim;
            __m256 acc = _mm256_setzero_ps();
            for (int c = 0; c < dim; c += 8) {
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(qsg + c), _mm256_loadu_ps(decoded + c), acc);
            }
            out[g * stride + j] = hsum8(acc) + bias[g];
        }
    }
}

TP_AVX2 void tp_packed_group_logits(const float *queries, int count, const uint16_t *scales, const uint16_t *zeros,
                                    const uint8_t *codes, int rows, int dim, int bits, float *scratch, float *out,
                                    long stride) {
    switch (bits) {
    case 2: packed_group_logits(queries, count, scales, zeros, codes, rows, dim, 2, scratch, out, stride); break;
    case 3: packed_group_logits(queries, count, scales, zeros, codes, rows, dim, 3, scratch, out, stride); break;
    case 4: packed_group_logits(queries, count, scales, zeros, codes, rows, dim, 4, scratch, out, stride); break;
    default: packed_group_logits(queries, count, scales, zeros, codes, rows, dim, 8, scratch, out, stride); break;
    }
}

enum { VALUE_BATCH = 32, VALUE_CHANNELS = 64 };

// Channels [c_begin, c_end) (whole value groups) 64 at a time. Rows are decoded a batch at a time; each query then
// runs over the batch with its 64 sums in registers (kept in scratch between batches), so every channel adds its
// rows' weight·scale·code in row order with one FMA each and each group's zero point once per row, as
// tp_packed_weighted_sum does. Scratch: decoded rows [32, 64], sums [count, 64], zero sums [count, dim / group].
TP_AVX2 static inline __attribute__((always_inline)) void packed_group_weighted_sum(
    const float *w, long w_stride, int count, const uint8_t *codes, const uint16_t *scales, const uint16_t *zeros,
    int rows, int dim, int bits, int group, int step, int c_begin, int c_end, float *scratch, float *out,
    long out_stride) {
    const long row_bytes = (long)dim * bits / 8;
    const int groups = dim / group;
    float *decoded = scratch;
    float *sums = decoded + VALUE_BATCH * VALUE_CHANNELS;
    float *zero_sums = sums + (long)count * VALUE_CHANNELS;
    memset(zero_sums, 0, sizeof(float) * (size_t)count * (size_t)groups);
    for (int c0 = c_begin; c0 < c_end; c0 += VALUE_CHANNELS) {
        const int lanes = (c_end - c0 < VALUE_CHANNELS ? c_end - c0 : VALUE_CHANNELS) / 8;
        memset(sums, 0, sizeof(float) * (size_t)count * VALUE_CHANNELS);
        // Each lane's value group, and whether the group starts there (its zero point is added then), known before
        // the rows: no division per row.
        int lane_group[8], lane_starts[8];
        for (int k = 0; k < 8; k++) {
            lane_group[k] = (c0 + 8 * k) / group;
            lane_starts[k] = (c0 + 8 * k) % group == 0;
        }
        for (int j0 = 0; j0 < rows; j0 += VALUE_BATCH) {
            const int n = rows - j0 < VALUE_BATCH ? rows - j0 : VALUE_BATCH;
            for (int r = 0; r < n; r++) {
                const uint8_t *row = codes + (long)(j0 + r) * row_bytes + c0 / 8 * bits;
                for (int k = 0; k < lanes; k++) {
                    _mm256_storeu_ps(decoded + r * VALUE_CHANNELS + 8 * k, unpack8(row + k * bits, bits));
                }
            }
            for (int g = 0; g < count; g++) {
                const float *wg = w + g * w_stride + j0;
                const uint16_t *row_scales = scales + j0 * groups;
                const uint16_t *row_zeros = zeros + j0 * groups;
                float *zg = zero_sums + (long)g * groups;
                float *kept = sums + g * VALUE_CHANNELS;
                // The lane count a constant where it can be, so the sums stay in registers: a whole block, or half
                // of one (value sums split by channels in runs of a 32-channel group, KIVI's default).
                if (lanes == 8) {
                    packed_block_sums(wg, n, NULL, 0, decoded, bits, row_scales, row_zeros, groups, lane_group,
                                      lane_starts, 8, step, kept, zg);
                } else if (lanes == 4) {
                    packed_block_sums(wg, n, NULL, 0, decoded, bits, row_scales, row_zeros, groups, lane_group,
                                      lane_starts, 4, step, kept, zg);
                } else {
                    packed_block_sums(wg, n, NULL, 0, decoded, bits, row_scales, row_zeros, groups, lane_group,
                                      lane_starts, lanes, step, kept, zg);
                }
            }
        }
        for (int g = 0; g < count; g++) {
            memcpy(out + g * out_stride + c0, sums + g * VALUE_CHANNELS, sizeof(float) * 8 * (size_t)lanes);
        }
    }
    for (int g = 0; g < count; g++) {
        for (int c = c_begin; c < c_end; c++) out[g * out_stride + c] += zero_sums[(long)g * groups + c / group];
    }
}

TP_AVX2 void tp_packed_group_weighted_sum(const float *w, long w_stride, int count, const uint8_t *codes,
                                          const uint16_t *scales, const uint16_t *zeros, int rows, int dim, int bits,
                                          int group, int c_begin, int c_end, float *scratch, float *out,
                                          long out_stride) {
    if (tp_take_avx512()
        && tp_packed_group_weighted_sum512(w, w_stride, count, codes, scales, zeros, rows, dim, bits, group, c_begin,
                                           c_end, out, out_stride)) {
        return;
    }
#define TP_PACKED_SUM(b, s) \
    packed_group_weighted_sum(w, w_stride, count, codes, scales, zeros, rows, dim, b, group, s, c_begin, c_end, \
                              scratch, out, out_stride)
    TP_WITH_CONSTANT_BITS_AND_STEP(TP_PACKED_SUM, bits, group);
#undef TP_PACKED_SUM
}

// ---- f16 rows, in ggml_vec_dot_f16's order (one token: 4 accumulators of 8 lanes; rows to 32 accumulators) ----

TP_AVX2 void tp_f16_group_scores(const float *queries, int count, const uint16_t *keys, int rows, int dim, float *out,
                                 long stride) {
    if (dim == 64) {
        // The common head size: each query alone through tp_scores_f16, whose eight-key reductions cost less than
        // converting a row once for all queries and reducing every logit by itself (3 queries, 4,096 rows: about
        // 27 µs against 33–43 µs in a by-hand harness); the same bits either way.
        for (int g = 0; g < count; g++) tp_scores_f16(queries + (long)g * 64, keys, rows, 64, 1, out + g * stride);
        return;
    }
    for (int j = 0; j < rows; j++) {
        for (int g = 0; g < count; g++) {
            out[g * stride + j] = tp_dot_f16(queries + (long)g * dim, keys + (long)j * dim, dim, 1);
        }
    }
}

// Channels [c_begin, c_end) (a multiple of 8 wide): row j goes to accumulator j mod 32 of each query (lanes:
// [count, 32, width]), then each channel's 32 accumulators are reduced as tp_weighted_sum_f16 reduces them.
TP_AVX2 void tp_f16_group_weighted_sum(const float *w, long w_stride, int count, const uint16_t *values, int rows,
                                       int dim, int c_begin, int c_end, float *lanes, float *out, long out_stride) {
    const int width = c_end - c_begin;
    memset(lanes, 0, sizeof(float) * 32 * (size_t)width * (size_t)count);
    f16_rows_to_32_accumulators(w, w_stride, count, values, rows, dim, c_begin, width, lanes);
    for (int g = 0; g < count; g++) {
        for (int i0 = 0; i0 < width; i0 += 8) {
            const float *base = lanes + (long)g * 32 * width + i0;
            _mm256_storeu_ps(out + g * out_stride + c_begin + i0, reduce32_accumulators(base, width));
        }
    }
}

#else  // not x86: never called (tp_has_avx2() is 0); defined so the symbols exist.

void tp_packed_group_logits(const float *queries, int count, const uint16_t *scales, const uint16_t *zeros,
                            const uint8_t *codes, int rows, int dim, int bits, float *scratch, float *out,
                            long stride) {}
void tp_packed_group_weighted_sum(const float *w, long w_stride, int count, const uint8_t *codes,
                                  const uint16_t *scales, const uint16_t *zeros, int rows, int dim, int bits,
                                  int group, int c_begin, int c_end, float *scratch, float *out, long out_stride) {}
void tp_f16_group_scores(const float *queries, int count, const uint16_t *keys, int rows, int dim, float *out,
                         long stride) {}
void tp_f16_group_weighted_sum(const float *w, long w_stride, int count, const uint16_t *values, int rows, int dim,
                               int c_begin, int c_end, float *lanes, float *out, long out_stride) {}

#endif
