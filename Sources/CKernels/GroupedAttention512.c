// Decode attention over llama.cpp's block cache types with AVX-512: the grouped logits and value sums of
// CKernels.c (tp_group_logits_q, tp_group_weighted_sum_q) in 512-bit registers, with their bits. Called only when
// tp_has_avx512() and the tiles are allowed (GroupedAttention512.h).
#include "GroupedAttention512.h"

#include <math.h>

#include "BlockDecoding.h"

#if TP_X86

// ---- Logits: two key rows per register ----
// A register holds two rows' codes of one block as [row 0 elements 0–15, row 1 0–15, row 0 16–31, row 1 16–31]
// (how the 4-bit formats store them), the query's block laid out alike. A lane of vpdpbusd over (code + offset, y),
// started at −offset·Σ its four y, is the exact sum of four code·y products: the integer lane that maddubs + madd
// give the AVX2 kernel. Each lane then takes the AVX2 kernel's float steps for its row (one FMA per block with
// row scale × query scale, in block order); the lanes are put back in row order once per tile and eight rows are
// reduced by hsum8x8, so every logit has the bits of the one-query kernel.

// A query block as the tiles read it: y in the pair layout, each lane's starting sum, and the query's scale.
typedef struct {
    __m512i y;
    __m512i start;
    __m512 scale;
} QueryBlock;

enum { MAX_QUERIES = 4, MAX_BLOCKS = 8 };

// [a, b, c, d] 128-bit lanes → [a, c, b, d]: one block of two rows (or of a query, twice) into the pair layout,
// and an accumulator in the pair layout back into [row 0 lanes 0–7, row 1 lanes 0–7].
#define TP_PAIR_LANES _MM_SHUFFLE(3, 1, 2, 0)

TP_AVX512 static void pack_queries(int queries, int blocks, int offset, const int8_t *quants, const float *scales,
                                   QueryBlock pack[MAX_QUERIES][MAX_BLOCKS]) {
    const __m512i offsets = _mm512_set1_epi8((char)offset);
    for (int g = 0; g < queries; g++) {
        for (int b = 0; b < blocks; b++) {
            const __m256i y = _mm256_loadu_si256((const __m256i *)(quants + (long)g * blocks * 32 + 32 * b));
            const __m512i doubled = twice(y);
            pack[g][b].y = _mm512_shuffle_i64x2(doubled, doubled, TP_PAIR_LANES);
            const __m512i shifted = _mm512_dpbusd_epi32(_mm512_setzero_si512(), offsets, pack[g][b].y);
            pack[g][b].start = _mm512_sub_epi32(_mm512_setzero_si512(), shifted);
            pack[g][b].scale = _mm512_set1_ps(scales[g * blocks + b]);
        }
    }
}

// Block b of two rows as unsigned codes (block_codes) in the pair layout, with their scales and minimums.
TP_AVX512 static inline __attribute__((always_inline)) __m512i pair_codes(int type_id, const uint8_t *row0,
                                                                           const uint8_t *row1, int b, float s[2],
                                                                           float m[2]) {
    if (type_id == 2 || type_id == 3) {
        const int bytes = type_id == 2 ? 18 : 20;
        const uint8_t *p0 = row0 + bytes * b;
        const uint8_t *p1 = row1 + bytes * b;
        s[0] = half_to_float(p0);
        s[1] = half_to_float(p1);
        if (type_id == 3) {
            m[0] = half_to_float(p0 + 2);
            m[1] = half_to_float(p1 + 2);
        }
        const __m256i packed = _mm256_loadu2_m128i((const __m128i *)(p1 + bytes - 16),
                                                   (const __m128i *)(p0 + bytes - 16));
        const __m256i mask = _mm256_set1_epi8(0x0F);
        const __m256i low = _mm256_and_si256(packed, mask);
        const __m256i high = _mm256_and_si256(_mm256_srli_epi16(packed, 4), mask);
        return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
    }
    const __m256i c0 = block_codes(type_id, row0, b, &s[0], &m[0]);
    const __m256i c1 = block_codes(type_id, row1, b, &s[1], &m[1]);
    const __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(c0), c1, 1);
    return _mm512_shuffle_i64x2(x, x, TP_PAIR_LANES);
}

TP_AVX512 static inline __attribute__((always_inline)) void group_logits512(int type_id, int queries,
                                                                             const uint8_t *rows, long row_bytes,
                                                                             int count, int blocks,
                                                                             const int8_t *quants, const float *scales,
                                                                             const float *sums, float *out,
                                                                             long stride) {
    QueryBlock pack[MAX_QUERIES][MAX_BLOCKS];
    pack_queries(queries, blocks, code_offset(type_id), quants, scales, pack);
    for (int r0 = 0; r0 < count; r0 += 8) {
        __m256 stage[MAX_QUERIES][8];
        float minimums[MAX_QUERIES][8];
        for (int p = 0; p < 8; p += 2) {
            // Rows past the end repeat the last row; their results are not stored.
            const int i0 = r0 + p < count ? r0 + p : count - 1;
            const int i1 = r0 + p + 1 < count ? r0 + p + 1 : count - 1;
            const uint8_t *row0 = rows + i0 * row_bytes;
            const uint8_t *row1 = rows + i1 * row_bytes;
            __m512 acc[MAX_QUERIES];
            float minimum_sums[MAX_QUERIES][2];
            for (int g = 0; g < queries; g++) {
                acc[g] = _mm512_setzero_ps();
                minimum_sums[g][0] = minimum_sums[g][1] = 0;
            }
            for (int b = 0; b < blocks; b++) {
                float s[2], m[2] = {0, 0};
                const __m512i x = pair_codes(type_id, row0, row1, b, s, m);
                const __m512 row_scales = _mm512_mask_blend_ps(0xF0F0, _mm512_set1_ps(s[0]), _mm512_set1_ps(s[1]));
                for (int g = 0; g < queries; g++) {
                    const __m512i lanes = _mm512_dpbusd_epi32(pack[g][b].start, x, pack[g][b].y);
                    if (has_minimum(type_id)) {
                        minimum_sums[g][0] += m[0] * sums[g * blocks + b];
                        minimum_sums[g][1] += m[1] * sums[g * blocks + b];
                    }
                    const __m512 scale = _mm512_mul_ps(row_scales, pack[g][b].scale);
                    acc[g] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(lanes), acc[g]);
                }
            }
            for (int g = 0; g < queries; g++) {
                const __m512 rows_in_order = _mm512_shuffle_f32x4(acc[g], acc[g], TP_PAIR_LANES);
                stage[g][p] = _mm512_castps512_ps256(rows_in_order);
                stage[g][p + 1] = high_half(rows_in_order);
                minimums[g][p] = minimum_sums[g][0];
                minimums[g][p + 1] = minimum_sums[g][1];
            }
        }
        store_row_tile(type_id, queries, stage, minimums, count - r0 < 8 ? count - r0 : 8, out + r0, stride);
    }
}

// ---- Value sums: a block's 32 values as two registers of floats ----

// Block b of a row as floats, elements 0–15 in *low and 16–31 in *high, with its scale and minimum. The 4-bit
// formats look their codes up in a 16-entry table (vpermps reads the low four bits of each index).
TP_AVX512 static inline __attribute__((always_inline)) void block_floats(int type_id, const uint8_t *row, int b,
                                                                          float *scale, float *minimum,
                                                                          __m512 *low, __m512 *high) {
    if (type_id == 2 || type_id == 3) {
        const int bytes = type_id == 2 ? 18 : 20;
        const uint8_t *p = row + bytes * b;
        *scale = half_to_float(p);
        if (type_id == 3) *minimum = half_to_float(p + 2);
        const __m512 table = type_id == 2
            ? _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7)
            : _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512i packed = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + bytes - 16)));
        *low = _mm512_permutexvar_ps(packed, table);
        *high = _mm512_permutexvar_ps(_mm512_srli_epi32(packed, 4), table);
        return;
    }
    const __m256i x = block_bytes(type_id, row, b, scale, minimum);
    const __m128i halves[2] = {_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1)};
    if (is_signed(type_id)) {
        *low = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(halves[0]));
        *high = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(halves[1]));
    } else {
        *low = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(halves[0]));
        *high = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(halves[1]));
    }
}

// group_weighted_sum of CKernels.c for 1 to 4 queries: each element still takes one FMA per row, in row order,
// with weight·scale, and the minimums' sums (fmaf) are added last — the same bits, half the instructions.
TP_AVX512 static inline __attribute__((always_inline)) void group_weighted_sum512(int type_id, int queries,
                                                                                   const uint8_t *rows, long row_bytes,
                                                                                   int count, int block_begin,
                                                                                   int block_end, const float *w,
                                                                                   long w_stride, float *out,
                                                                                   long out_stride) {
    for (int b = block_begin; b < block_end; b++) {
        __m512 acc[MAX_QUERIES][2];
        float minimum_sums[MAX_QUERIES] = {0, 0, 0, 0};
        for (int g = 0; g < queries; g++) acc[g][0] = acc[g][1] = _mm512_setzero_ps();
        for (int j = 0; j < count; j++) {
            float scale, minimum = 0;
            __m512 low, high;
            block_floats(type_id, rows + j * row_bytes, b, &scale, &minimum, &low, &high);
            for (int g = 0; g < queries; g++) {
                const float wj = w[g * w_stride + j];
                const __m512 weight = _mm512_set1_ps(wj * scale);
                if (has_minimum(type_id)) minimum_sums[g] = fmaf(wj, minimum, minimum_sums[g]);
                acc[g][0] = _mm512_fmadd_ps(weight, low, acc[g][0]);
                acc[g][1] = _mm512_fmadd_ps(weight, high, acc[g][1]);
            }
        }
        for (int g = 0; g < queries; g++) {
            float *o = out + g * out_stride + 32 * b;
            _mm512_storeu_ps(o, acc[g][0]);
            _mm512_storeu_ps(o + 16, acc[g][1]);
            if (has_minimum(type_id))
                for (int i = 0; i < 32; i++) o[i] += minimum_sums[g];
        }
    }
}

// One copy per format and group size, so the switches fold away.
#define TP_GROUP512_FOR(TYPE)                                                                                        \
    TP_AVX512 static void group_logits512_##TYPE(int queries, const uint8_t *rows, long row_bytes, int count,        \
                                                 int blocks, const int8_t *quants, const float *scales,              \
                                                 const float *sums, float *out, long stride) {                       \
        switch (queries) {                                                                                           \
        case 1: group_logits512(TYPE, 1, rows, row_bytes, count, blocks, quants, scales, sums, out, stride); break;  \
        case 2: group_logits512(TYPE, 2, rows, row_bytes, count, blocks, quants, scales, sums, out, stride); break;  \
        case 3: group_logits512(TYPE, 3, rows, row_bytes, count, blocks, quants, scales, sums, out, stride); break;  \
        default: group_logits512(TYPE, 4, rows, row_bytes, count, blocks, quants, scales, sums, out, stride); break; \
        }                                                                                                            \
    }                                                                                                                \
    TP_AVX512 static void group_weighted_sum512_##TYPE(int queries, const uint8_t *rows, long row_bytes, int count,  \
                                                       int begin, int end, const float *w, long w_stride,            \
                                                       float *out, long out_stride) {                                \
        switch (queries) {                                                                                           \
        case 1: group_weighted_sum512(TYPE, 1, rows, row_bytes, count, begin, end, w, w_stride, out, out_stride);    \
            break;                                                                                                   \
        case 2: group_weighted_sum512(TYPE, 2, rows, row_bytes, count, begin, end, w, w_stride, out, out_stride);    \
            break;                                                                                                   \
        case 3: group_weighted_sum512(TYPE, 3, rows, row_bytes, count, begin, end, w, w_stride, out, out_stride);    \
            break;                                                                                                   \
        default: group_weighted_sum512(TYPE, 4, rows, row_bytes, count, begin, end, w, w_stride, out, out_stride);   \
            break;                                                                                                   \
        }                                                                                                            \
    }
TP_GROUP512_FOR(2)
TP_GROUP512_FOR(3)
TP_GROUP512_FOR(6)
TP_GROUP512_FOR(7)
TP_GROUP512_FOR(8)

int tp_group_logits_q512(int type_id, const void *rows, long row_bytes, int count, int blocks, int queries,
                         const int8_t *quants, const float *scales, const float *sums, float *out, long stride) {
    if (blocks > MAX_BLOCKS) return 0;
    for (int g0 = 0; g0 < queries; g0 += MAX_QUERIES) {
        const int n = queries - g0 < MAX_QUERIES ? queries - g0 : MAX_QUERIES;
        const int8_t *q = quants + (long)g0 * blocks * 32;
        const float *s = scales + g0 * blocks;
        const float *m = sums + g0 * blocks;
        float *o = out + g0 * stride;
        switch (type_id) {
        case 2: group_logits512_2(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        case 3: group_logits512_3(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        case 6: group_logits512_6(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        case 7: group_logits512_7(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        default: group_logits512_8(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        }
    }
    return 1;
}

void tp_group_weighted_sum_q512(int type_id, const void *rows, long row_bytes, int count, int block_begin,
                                int block_end, int queries, const float *w, long w_stride, float *out,
                                long out_stride) {
    for (int g0 = 0; g0 < queries; g0 += MAX_QUERIES) {
        const int n = queries - g0 < MAX_QUERIES ? queries - g0 : MAX_QUERIES;
        const float *wg = w + g0 * w_stride;
        float *o = out + g0 * out_stride;
        const int b0 = block_begin;
        const int b1 = block_end;
        switch (type_id) {
        case 2: group_weighted_sum512_2(n, rows, row_bytes, count, b0, b1, wg, w_stride, o, out_stride); break;
        case 3: group_weighted_sum512_3(n, rows, row_bytes, count, b0, b1, wg, w_stride, o, out_stride); break;
        case 6: group_weighted_sum512_6(n, rows, row_bytes, count, b0, b1, wg, w_stride, o, out_stride); break;
        case 7: group_weighted_sum512_7(n, rows, row_bytes, count, b0, b1, wg, w_stride, o, out_stride); break;
        default: group_weighted_sum512_8(n, rows, row_bytes, count, b0, b1, wg, w_stride, o, out_stride); break;
        }
    }
}

#else  // not x86: never called (tp_has_avx512() is 0).

int tp_group_logits_q512(int type_id, const void *rows, long row_bytes, int count, int blocks, int queries,
                         const int8_t *quants, const float *scales, const float *sums, float *out, long stride) {
    return 0;
}

void tp_group_weighted_sum_q512(int type_id, const void *rows, long row_bytes, int count, int block_begin,
                                int block_end, int queries, const float *w, long w_stride, float *out,
                                long out_stride) {}

#endif
