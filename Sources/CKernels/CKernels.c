// See include/CKernels.h. Every function with the avx2 target attribute is called only after tp_has_avx2().
#include "CKernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "BlockDecoding.h"
#include "GroupedAttention512.h"
#include "PackedAttention512.h"

int tp_has_avx2(void) {
#if TP_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

int tp_has_avx512(void) {
#if TP_X86
    __builtin_cpu_init();
    return tp_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

// Whether the batched Q8-dot matmul may use its AVX-512 VNNI tiles: -1 until read from TOKENPRESS_NO_AVX512;
// tests turn them off to compare with AVX2.
static int use_avx512 = -1;

void tp_use_avx512(int enabled) { use_avx512 = enabled; }

#if TP_X86

// Dot products of `count` (1 to 4) rows with one activation row. Each row keeps its own accumulator and
// sums blocks in order, exactly as a single-row kernel would; interleaving rows only hides FMA latency.
TP_AVX2 static inline __attribute__((always_inline)) void dot_rows(int type_id, const uint8_t *row, long row_bytes, int count,
                                                                    int blocks, const int8_t *q, const float *scales,
                                                                    const float *sums, float *out) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    float minimums[4] = {0, 0, 0, 0};
    for (int b = 0; b < blocks; b++) {
        const __m256i y = _mm256_loadu_si256((const __m256i *)(q + 32 * b));
        // The same block of the next four rows: four row streams at once outrun the hardware prefetcher (decode
        // of Gemma 3 270M, whose 168 MB output matrix is most of a token: 18 → 28 tokens/s). A prefetch past the
        // last row is only a hint and never faults.
        for (int k = 0; k < 4; k++) {
            _mm_prefetch((const char *)(row + (4 + k) * row_bytes + block_stride(type_id) * b), _MM_HINT_T0);
        }
        for (int k = 0; k < 4; k++) {
            if (k >= count) break;
            float scale, minimum = 0;
            const __m256i x = block_bytes(type_id, row + k * row_bytes, b, &scale, &minimum);
            const __m256 xy = is_signed(type_id) ? lanes_signed(x, y) : lanes_unsigned(x, y);
            if (has_minimum(type_id)) minimums[k] += minimum * sums[b];
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(scale * scales[b]), xy, acc[k]);
        }
    }
    for (int k = 0; k < count; k++) out[k] = hsum8(acc[k]) + minimums[k];
}

// dot_rows for eight rows: the same accumulators in the same block order, reduced eight at a time (hsum8x8), so
// results equal dot_rows'. Short rows (an attention head's 64 values are two blocks) spend most of a single-row
// kernel's time in its horizontal sum.
TP_AVX2 static inline __attribute__((always_inline)) void dot_rows8(int type_id, const uint8_t *row, long row_bytes,
                                                                     int blocks, const int8_t *q, const float *scales,
                                                                     const float *sums, float *out) {
    __m256 acc[8];
    float minimums[8];
    for (int k = 0; k < 8; k++) {
        acc[k] = _mm256_setzero_ps();
        minimums[k] = 0;
    }
    for (int b = 0; b < blocks; b++) {
        const __m256i y = _mm256_loadu_si256((const __m256i *)(q + 32 * b));
        for (int k = 0; k < 8; k++) {
            float scale, minimum = 0;
            const __m256i x = block_bytes(type_id, row + k * row_bytes, b, &scale, &minimum);
            const __m256 xy = is_signed(type_id) ? lanes_signed(x, y) : lanes_unsigned(x, y);
            if (has_minimum(type_id)) minimums[k] += minimum * sums[b];
            acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(scale * scales[b]), xy, acc[k]);
        }
    }
    _mm256_storeu_ps(out, _mm256_add_ps(hsum8x8(acc), _mm256_loadu_ps(minimums)));
}

// GEMM_R rows × GEMM_T tokens at once: each weight block is decoded once for GEMM_T tokens and each activation
// block loaded once for GEMM_R rows. Every (row, token) keeps its own accumulator in block order, so results equal
// dot_rows'. Measured pp512 on 2 cores (tokens/s): 1×4 239, 2×2 286, 4×2 253, 4×4 ~300 (noisy), 2×4 ~300-320.
#define GEMM_R 2
#define GEMM_T 4
TP_AVX2 static inline __attribute__((always_inline)) void gemm_block(int type_id, const uint8_t *row, long row_bytes, int blocks,
                                                                      const int8_t *q, const float *scales, const float *sums,
                                                                      float *out, long out_stride) {
    __m256 acc[GEMM_R][GEMM_T];
    float minimums[GEMM_R][GEMM_T];
    const int8_t *qt[GEMM_T];
    const float *st[GEMM_T], *mt[GEMM_T];
    for (int t = 0; t < GEMM_T; t++) {
        qt[t] = q + (long)t * blocks * 32;
        st[t] = scales + (long)t * blocks;
        mt[t] = sums + (long)t * blocks;
    }
    for (int r = 0; r < GEMM_R; r++)
        for (int t = 0; t < GEMM_T; t++) { acc[r][t] = _mm256_setzero_ps(); minimums[r][t] = 0; }
    for (int b = 0; b < blocks; b++) {
        __m256i x[GEMM_R], absx[GEMM_R];
        float scale[GEMM_R], minimum[GEMM_R];
        for (int r = 0; r < GEMM_R; r++) {
            minimum[r] = 0;
            x[r] = block_bytes(type_id, row + r * row_bytes, b, &scale[r], &minimum[r]);
            if (is_signed(type_id)) absx[r] = _mm256_sign_epi8(x[r], x[r]);
        }
        for (int t = 0; t < GEMM_T; t++) {
            const __m256i y = _mm256_loadu_si256((const __m256i *)(qt[t] + 32 * b));
            const float ys = st[t][b];
            for (int r = 0; r < GEMM_R; r++) {
                __m256 xy = is_signed(type_id) ? lanes_unsigned(absx[r], _mm256_sign_epi8(y, x[r])) : lanes_unsigned(x[r], y);
                if (has_minimum(type_id)) minimums[r][t] += minimum[r] * mt[t][b];
                acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(scale[r] * ys), xy, acc[r][t]);
            }
        }
    }
    for (int t = 0; t < GEMM_T; t++)
        for (int r = 0; r < GEMM_R; r++) out[t * out_stride + r] = hsum8(acc[r][t]) + minimums[r][t];
}

// One copy of the tile loop per format, so the format switch in dot_row folds away.
#define TP_MATMUL_FOR(TYPE)                                                                                     \
    TP_AVX2 static void matmul_##TYPE(const void *weights, long row_bytes, int row_begin, int row_end, int blocks, \
                                      const int8_t *quants, const float *scales, const float *sums, int tokens,   \
                                      float *out, long out_stride) {                                              \
        /* Rows one at a time when this share of the matrix is far larger than the caches (Gemma 3's 178 MB */    \
        /* output matrix): one sequential stream per thread is what the hardware prefetcher follows best, and */  \
        /* decoding then ran 30% faster; smaller shares interleave four rows to hide FMA latency. */              \
        const int pass = (long)(row_end - row_begin) * row_bytes >= (8L << 20) ? 1 : 4;                           \
        for (int t0 = 0; t0 < tokens; t0 += 16) {                                                                 \
            int t_end = t0 + 16 < tokens ? t0 + 16 : tokens;                                                      \
            /* Whole groups of GEMM_T tokens (a full tile, or a batch of sequences decoding together) go */       \
            /* through gemm_block, GEMM_R rows at a time; the rest token by token. Same bits either way. */       \
            int t_gemm = t0 + (t_end - t0) / GEMM_T * GEMM_T;                                                      \
            for (int tile = row_begin; tile < row_end; tile += 16) {                                              \
                int tile_end = tile + 16 < row_end ? tile + 16 : row_end;                                         \
                int r_gemm = tile + (tile_end - tile) / GEMM_R * GEMM_R;                                          \
                if (t_gemm > t0) {                                                                                \
                    for (int r = tile; r < r_gemm; r += GEMM_R)                                                   \
                        for (int tt = t0; tt < t_gemm; tt += GEMM_T)                                              \
                            gemm_block(TYPE, (const uint8_t *)weights + r * row_bytes, row_bytes, blocks,           \
                                     quants + (long)tt * blocks * 32, scales + (long)tt * blocks,                 \
                                     sums + (long)tt * blocks, out + tt * out_stride + r, out_stride);            \
                }                                                                                                 \
                for (int t = t0; t < t_end; t++) {                                                                \
                    const int8_t *q = quants + (long)t * blocks * 32;                                             \
                    const float *s = scales + (long)t * blocks, *m = sums + (long)t * blocks;                     \
                    int r = t < t_gemm ? r_gemm : tile;                                                           \
                    for (; blocks <= 4 && r + 8 <= tile_end; r += 8) {                                           \
                        float result[8];                                                                          \
                        dot_rows8(TYPE, (const uint8_t *)weights + r * row_bytes, row_bytes, blocks, q, s, m, result); \
                        for (int k = 0; k < 8; k++) out[t * out_stride + r + k] = result[k];                      \
                    }                                                                                             \
                    for (; r < tile_end; r += pass) {                                                             \
                        int n = tile_end - r < pass ? tile_end - r : pass;                                        \
                        float result[4];                                                                          \
                        if (n == 4) dot_rows(TYPE, (const uint8_t *)weights + r * row_bytes, row_bytes, 4, blocks, q, s, m, result); \
                        else dot_rows(TYPE, (const uint8_t *)weights + r * row_bytes, row_bytes, n, blocks, q, s, m, result); \
                        for (int k = 0; k < n; k++) out[t * out_stride + r + k] = result[k];                      \
                    }                                                                                             \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    }
TP_MATMUL_FOR(2)
TP_MATMUL_FOR(3)
TP_MATMUL_FOR(6)
TP_MATMUL_FOR(7)
TP_MATMUL_FOR(8)

// ---- The same tiles with AVX-512 VNNI: two tokens per 512-bit register ----
// Each half of a register holds one (row, token) pair's eight lanes. A lane of vpdpbusd is the exact sum of the
// four products that lane of maddubs + madd sums (no pair of Q8 products reaches the int16 bound), the float steps
// per lane are gemm_block's, and each half is reduced by hsum8: every result has the AVX2 kernel's bits.
#define GEMM512_R 4

// A pair of tokens' activation block as the 512-bit tiles read it: their int8 values side by side, where each lane's
// sum starts (−offset · the lane's four values, see block_codes) and their scales, each repeated over its half.
typedef struct {
    __m512i y;
    __m512i start;
    __m512 ys;
} TokenPairBlock;

// The token pairs of a tile of 2 × `pairs` tokens (8 pairs at most), block by block: pack[b * 8 + p].
TP_AVX512 static void pack_token_pairs(const int8_t *q, const float *scales, int blocks, int offset, int pairs,
                                       TokenPairBlock *pack) {
    for (int b = 0; b < blocks; b++) {
        for (int p = 0; p < pairs; p++) {
            const int8_t *q0 = q + (long)(2 * p) * blocks * 32 + 32 * b, *q1 = q0 + (long)blocks * 32;
            TokenPairBlock *pair = pack + (long)b * 8 + p;
            pair->y = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)q0)),
                                         _mm256_loadu_si256((const __m256i *)q1), 1);
            pair->ys = pair_ps(scales[(long)(2 * p) * blocks + b], scales[(long)(2 * p + 1) * blocks + b]);
            pair->start = _mm512_setzero_si512();
            if (offset) {
                const __m512i offsets = _mm512_set1_epi8((char)offset);
                const __m512i ysum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), offsets, pair->y);
                pair->start = _mm512_sub_epi32(pair->start, ysum);
            }
        }
    }
}

// GEMM512_R rows × 8 tokens (pairs pair0 ... pair0 + 3 of the packed tile).
TP_AVX512 static inline __attribute__((always_inline))
void gemm_block512(int type_id, const uint8_t *row, long row_bytes, int blocks, const TokenPairBlock *pack, int pair0,
                   const float *sums, float *out, long out_stride) {
    __m512 acc[GEMM512_R][4];
    float minimums[GEMM512_R][8];
    for (int r = 0; r < GEMM512_R; r++) {
        for (int p = 0; p < 4; p++) acc[r][p] = _mm512_setzero_ps();
        for (int t = 0; t < 8; t++) minimums[r][t] = 0;
    }
    for (int b = 0; b < blocks; b++) {
        const TokenPairBlock *pairs = pack + (long)b * 8 + pair0;
        for (int r = 0; r < GEMM512_R; r++) {
            float scale, minimum = 0;
            const __m512i x = twice(block_codes(type_id, row + r * row_bytes, b, &scale, &minimum));
            const __m512 d = _mm512_set1_ps(scale);
            for (int p = 0; p < 4; p++) {
                const __m512 xy = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(pairs[p].start, x, pairs[p].y));
                acc[r][p] = _mm512_fmadd_ps(_mm512_mul_ps(d, pairs[p].ys), xy, acc[r][p]);
            }
            if (has_minimum(type_id))
                for (int t = 0; t < 8; t++) minimums[r][t] += minimum * sums[(long)t * blocks + b];
        }
    }
    for (int r = 0; r < GEMM512_R; r++) {
        for (int p = 0; p < 4; p++) {
            out[(2 * p) * out_stride + r] = hsum8(_mm512_castps512_ps256(acc[r][p])) + minimums[r][2 * p];
            out[(2 * p + 1) * out_stride + r] = hsum8(high_half(acc[r][p])) + minimums[r][2 * p + 1];
        }
    }
}

// The packed pairs of this thread's current tile (grown as needed, kept for the thread's next call).
static __thread TokenPairBlock *pair_pack;
static __thread long pair_pack_blocks;

static TokenPairBlock *pair_pack_for(int blocks) {
    if (blocks > pair_pack_blocks) {
        free(pair_pack);
        pair_pack = aligned_alloc(64, (size_t)blocks * 8 * sizeof(TokenPairBlock));
        pair_pack_blocks = pair_pack ? blocks : 0;
    }
    return pair_pack;
}

// Tiles of 16 rows × 16 tokens as matmul_TYPE, or × 8 tokens (a batch of sequences decoding together); what the
// 4-row blocks and the groups of 8 tokens do not cover goes to the AVX2 tiles.
#define TP_MATMUL512_FOR(TYPE)                                                                                    \
    TP_AVX512 static void matmul512_##TYPE(const void *weights, long row_bytes, int row_begin, int row_end,      \
                                           int blocks, const int8_t *quants, const float *scales,                \
                                           const float *sums, int tokens, float *out, long out_stride) {         \
        TokenPairBlock *pack = pair_pack_for(blocks);                                                             \
        for (int t0 = 0; t0 < tokens; t0 += 16) {                                                                 \
            const int count = t0 + 16 < tokens ? 16 : tokens - t0;                                                \
            const int paired = pack ? count / 8 * 8 : 0;                                                          \
            const int8_t *q = quants + (long)t0 * blocks * 32;                                                    \
            const float *s = scales + (long)t0 * blocks, *m = sums + (long)t0 * blocks;                           \
            if (paired < count) {                                                                                 \
                matmul_##TYPE(weights, row_bytes, row_begin, row_end, blocks, q + (long)paired * blocks * 32,    \
                              s + (long)paired * blocks, m + (long)paired * blocks, count - paired,              \
                              out + (t0 + paired) * out_stride, out_stride);                                      \
            }                                                                                                     \
            if (paired == 0) continue;                                                                            \
            pack_token_pairs(q, s, blocks, code_offset(TYPE), paired / 2, pack);                                  \
            for (int tile = row_begin; tile < row_end; tile += 16) {                                              \
                const int tile_end = tile + 16 < row_end ? tile + 16 : row_end;                                   \
                int r = tile;                                                                                     \
                for (; r + GEMM512_R <= tile_end; r += GEMM512_R)                                                 \
                    for (int t = 0; t < paired; t += 8)                                                           \
                        gemm_block512(TYPE, (const uint8_t *)weights + r * row_bytes, row_bytes, blocks, pack,    \
                                      t / 2, m + (long)t * blocks, out + (t0 + t) * out_stride + r, out_stride);  \
                if (r < tile_end)                                                                                 \
                    matmul_##TYPE(weights, row_bytes, r, tile_end, blocks, q, s, m, paired, out + t0 * out_stride, \
                                  out_stride);                                                                    \
            }                                                                                                     \
        }                                                                                                         \
    }
TP_MATMUL512_FOR(2)
TP_MATMUL512_FOR(3)
TP_MATMUL512_FOR(6)
TP_MATMUL512_FOR(7)
TP_MATMUL512_FOR(8)

// Batches of 8 tokens or more take the AVX-512 tiles when the CPU has them (and tests have not turned them off);
// attention over the cache types asks with 8 (GroupedAttention512.c).
static int take_avx512(int tokens) {
    static int has = -1;
    if (has < 0) has = tp_has_avx512();
    if (use_avx512 < 0) {
        const char *off = getenv("TOKENPRESS_NO_AVX512");
        use_avx512 = !(off && strcmp(off, "1") == 0);
    }
    return has && use_avx512 && tokens >= 8;
}

int tp_take_avx512(void) { return take_avx512(8); }

TP_AVX2 void tp_matmul_q8(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int blocks,
                          const int8_t *quants, const float *scales, const float *sums, int tokens,
                          float *out, long out_stride) {
    if (take_avx512(tokens)) {
#define TP_MATMUL512_CALL(TYPE) \
        matmul512_##TYPE(weights, row_bytes, row_begin, row_end, blocks, quants, scales, sums, tokens, out, out_stride)
        switch (type_id) {
        case 2: TP_MATMUL512_CALL(2); break;
        case 3: TP_MATMUL512_CALL(3); break;
        case 6: TP_MATMUL512_CALL(6); break;
        case 7: TP_MATMUL512_CALL(7); break;
        default: TP_MATMUL512_CALL(8); break;
        }
#undef TP_MATMUL512_CALL
        return;
    }
    // Tiles of 16 rows × 16 tokens stay in L1.
    switch (type_id) {
    case 2: matmul_2(weights, row_bytes, row_begin, row_end, blocks, quants, scales, sums, tokens, out, out_stride); break;
    case 3: matmul_3(weights, row_bytes, row_begin, row_end, blocks, quants, scales, sums, tokens, out, out_stride); break;
    case 6: matmul_6(weights, row_bytes, row_begin, row_end, blocks, quants, scales, sums, tokens, out, out_stride); break;
    case 7: matmul_7(weights, row_bytes, row_begin, row_end, blocks, quants, scales, sums, tokens, out, out_stride); break;
    default: matmul_8(weights, row_bytes, row_begin, row_end, blocks, quants, scales, sums, tokens, out, out_stride); break;
    }
}

// ---- K-quants: rows decoded to f32, then f32 dot products ----

// 8 unsigned bytes → 8 floats.
TP_AVX2 static inline __m256 u8_to_ps(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)); }
TP_AVX2 static inline __m256 i8_to_ps(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)); }

// 32 quants (bytes, 0–63) → y[i] = dl·q − ml.
TP_AVX2 static inline void store32(float *y, __m256i q, float dl, float ml) {
    const __m256 d = _mm256_set1_ps(dl), m = _mm256_set1_ps(ml);
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(y, _mm256_fmsub_ps(d, u8_to_ps(lo), m));
    _mm256_storeu_ps(y + 8, _mm256_fmsub_ps(d, u8_to_ps(_mm_srli_si128(lo, 8)), m));
    _mm256_storeu_ps(y + 16, _mm256_fmsub_ps(d, u8_to_ps(hi), m));
    _mm256_storeu_ps(y + 24, _mm256_fmsub_ps(d, u8_to_ps(_mm_srli_si128(hi, 8)), m));
}

static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *scale, uint8_t *minimum) {
    if (j < 4) {
        *scale = q[j] & 63;
        *minimum = q[j + 4] & 63;
    } else {
        *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *minimum = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// The eight 6-bit scales of a Q4_K or Q5_K block, and its eight mins each written twice (one per sum of 16 activations).
static inline void k4_scales_mins(const uint8_t *sc, int scale[8], int16_t minimum_pairs[16]) {
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        scale_min_k4(j, sc, &s, &m);
        scale[j] = s;
        minimum_pairs[2 * j] = minimum_pairs[2 * j + 1] = m;
    }
}

// Q4_K (144 bytes: d, dmin, scales[12], qs[128]) and Q5_K (176: d, dmin, scales[12], qh[32], qs[128]).
TP_AVX2 static void decode_q45_k(const uint8_t *block, float *y, int five) {
    const float d = half_to_float(block), dmin = half_to_float(block + 2);
    const uint8_t *scales = block + 4, *qh = block + 16, *qs = block + (five ? 48 : 16);
    const __m256i mask = _mm256_set1_epi8(0x0F);
    for (int chunk = 0; chunk < 4; chunk++) {
        uint8_t s1, m1, s2, m2;
        scale_min_k4(2 * chunk, scales, &s1, &m1);
        scale_min_k4(2 * chunk + 1, scales, &s2, &m2);
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * chunk));
        __m256i low = _mm256_and_si256(q, mask), high = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
        if (five) {
            __m256i bits = _mm256_loadu_si256((const __m256i *)qh);
            __m256i b1 = _mm256_set1_epi8((char)(1 << (2 * chunk))), b2 = _mm256_set1_epi8((char)(2 << (2 * chunk)));
            low = _mm256_or_si256(low, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bits, b1), b1), _mm256_set1_epi8(16)));
            high = _mm256_or_si256(high, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bits, b2), b2), _mm256_set1_epi8(16)));
        }
        store32(y + 64 * chunk, low, d * s1, dmin * m1);
        store32(y + 64 * chunk + 32, high, d * s2, dmin * m2);
    }
}

// Q6_K (210 bytes: ql[128], qh[64], scales[16] int8, d): q = 4 low bits | 2 high bits << 4, minus 32.
TP_AVX2 static void decode_q6_k(const uint8_t *block, float *y) {
    const float d = half_to_float(block + 208);
    const int8_t *sc = (const int8_t *)(block + 192);
    const __m256i mask4 = _mm256_set1_epi8(0x0F), mask2 = _mm256_set1_epi8(3), offset = _mm256_set1_epi8(32);
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = block + 64 * half, *qh = block + 128 + 32 * half;
        const int8_t *s = sc + 8 * half;
        __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        __m256i h = _mm256_loadu_si256((const __m256i *)qh);
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l0, mask4), _mm256_slli_epi16(_mm256_and_si256(h, mask2), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(l1, mask4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), mask2), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), mask4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), mask2), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), mask4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), mask2), 4));
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_sub_epi8(q[k], offset);
            __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
            // Elements 0–15 of this group use scale 2k, elements 16–31 scale 2k + 1.
            const __m256 d0 = _mm256_set1_ps(d * s[2 * k]), d1 = _mm256_set1_ps(d * s[2 * k + 1]);
            float *out = y + 128 * half + 32 * k;
            _mm256_storeu_ps(out, _mm256_mul_ps(d0, i8_to_ps(lo)));
            _mm256_storeu_ps(out + 8, _mm256_mul_ps(d0, i8_to_ps(_mm_srli_si128(lo, 8))));
            _mm256_storeu_ps(out + 16, _mm256_mul_ps(d1, i8_to_ps(hi)));
            _mm256_storeu_ps(out + 24, _mm256_mul_ps(d1, i8_to_ps(_mm_srli_si128(hi, 8))));
        }
    }
}

TP_AVX2 static inline float dot_f32(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float sum = reduce4x8(s0, s1, s2, s3);
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

// ---- K-quant rows on 8-bit activations (Q8_K: per 256 values an f32 scale, int8 quants, int16 sums of 16) ----
// The integer sums are exact in any order; the float steps follow llama.cpp's AVX2 build: Q4_K as its repacked
// 8-row kernels (per block acc += isum·(dx·dy) and mins += imin·(dmin·dy), fused; the row is acc − mins), Q6_K as
// ggml_vec_dot_q6_K_q8_K (eight lane sums per block, fused into eight accumulators, then hsum).

TP_AVX2 static inline int32_t hsum_epi32(__m256i x) {
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    return _mm_cvtsi128_si32(t);
}

// One Q4_K row against one token's Q8_K activations.
TP_AVX2 static float dot_q4_k_q8_k(const uint8_t *row, int blocks, const float *ad, const int8_t *aq,
                                   const int16_t *asums) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    float acc = 0, mins = 0;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *x = row + b * 144;
        const uint8_t *sc = x + 4;
        const int8_t *q8 = aq + b * 256;
        const int16_t *bs = asums + b * 16;
        int32_t isum = 0, imin = 0;
        for (int pair = 0; pair < 4; pair++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x + 16 + 32 * pair));
            const __m256i q_lo = _mm256_and_si256(bits, low);
            const __m256i q_hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low);
            const __m256i a_lo = _mm256_loadu_si256((const __m256i *)(q8 + 64 * pair));
            const __m256i a_hi = _mm256_loadu_si256((const __m256i *)(q8 + 64 * pair + 32));
            const __m256i ones = _mm256_set1_epi16(1);
            const int32_t dot_lo = hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q_lo, a_lo), ones));
            const int32_t dot_hi = hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q_hi, a_hi), ones));
            for (int half = 0; half < 2; half++) {
                const int j = 2 * pair + half;
                int scale, minimum;
                if (j < 4) {
                    scale = sc[j] & 63;
                    minimum = sc[j + 4] & 63;
                } else {
                    scale = (sc[j + 4] & 0x0F) | ((sc[j - 4] >> 6) << 4);
                    minimum = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
                }
                isum += scale * (half == 0 ? dot_lo : dot_hi);
                imin += minimum * (bs[2 * j] + bs[2 * j + 1]);
            }
        }
        const float dy = ad[b];
        acc = fmaf((float)isum, half_to_float(x) * dy, acc);
        mins = fmaf((float)imin, half_to_float(x + 2) * dy, mins);
    }
    return acc - mins;
}

// One Q5_K row against one token's Q8_K activations, as ggml_vec_dot_q5_K_q8_K (AVX2): eight lane sums per block
// (lane L: elements 4L..4L+3 of every 32, each sub-block's products times its scale) fused into eight
// accumulators, and the minimums as one fused scalar sum added after the horizontal sum.
TP_AVX2 static float dot_q5_k_q8_k(const uint8_t *row, int blocks, const float *ad, const int8_t *aq,
                                   const int16_t *asums) {
    const __m256i low = _mm256_set1_epi8(0x0F), sixteen = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    float minimums = 0;
    for (int b = 0; b < blocks; b++) {
        const uint8_t *x = row + b * 176;
        const uint8_t *sc = x + 4;
        const int8_t *q8 = aq + b * 256;
        const int16_t *bs = asums + b * 16;
        const float d = ad[b] * half_to_float(x);
        const float dmin = -ad[b] * half_to_float(x + 2);
        int scale[8];
        int16_t minimum[16];
        k4_scales_mins(sc, scale, minimum);
        int32_t imin = 0;
        for (int k = 0; k < 16; k++) imin += minimum[k] * bs[k];
        minimums = fmaf(dmin, (float)imin, minimums);
        const __m256i high = _mm256_loadu_si256((const __m256i *)(x + 16));
        __m256i sumi = _mm256_setzero_si256();
        for (int pair = 0; pair < 4; pair++) {
            const __m256i bits = _mm256_loadu_si256((const __m256i *)(x + 48 + 32 * pair));
            const __m256i b0 = _mm256_set1_epi8((char)(1 << (2 * pair))), b1 = _mm256_set1_epi8((char)(2 << (2 * pair)));
            const __m256i h0 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(high, b0), b0), sixteen);
            const __m256i h1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(high, b1), b1), sixteen);
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(bits, low), h0);
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), low), h1);
            const __m256i a0 = _mm256_loadu_si256((const __m256i *)(q8 + 64 * pair));
            const __m256i a1 = _mm256_loadu_si256((const __m256i *)(q8 + 64 * pair + 32));
            const __m256i s0 = _mm256_set1_epi16((short)scale[2 * pair]);
            const __m256i s1 = _mm256_set1_epi16((short)scale[2 * pair + 1]);
            const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, a0), s0);
            const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, a1), s1);
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum8(acc) + minimums;
}

// One Q6_K row against one token's Q8_K activations.
TP_AVX2 static float dot_q6_k_q8_k(const uint8_t *row, int blocks, const float *ad, const int8_t *aq,
                                   const int16_t *asums) {
    const __m256i m3 = _mm256_set1_epi8(3), m15 = _mm256_set1_epi8(15);
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *x = row + b * 210;
        const uint8_t *ql = x;
        const uint8_t *qh = x + 128;
        const int8_t *sc = (const int8_t *)(x + 192);
        const int8_t *q8 = aq + b * 256;
        const float d = ad[b] * half_to_float(x + 208);
        const __m256i sums = _mm256_loadu_si256((const __m256i *)(asums + b * 16));
        const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(sums, scales16), 5);
        __m256i sumi = _mm256_setzero_si256();
        for (int half = 0; half < 2; half++) {
            const __m256i bits1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * half));
            const __m256i bits2 = _mm256_loadu_si256((const __m256i *)(ql + 64 * half + 32));
            const __m256i high = _mm256_loadu_si256((const __m256i *)(qh + 32 * half));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(bits1, m15), _mm256_slli_epi16(_mm256_and_si256(high, m3), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(bits2, m15),
                                   _mm256_slli_epi16(_mm256_and_si256(high, _mm256_set1_epi8(12)), 2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits1, 4), m15),
                                   _mm256_and_si256(high, _mm256_set1_epi8(48)));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits2, 4), m15),
                                   _mm256_srli_epi16(_mm256_and_si256(high, _mm256_set1_epi8((char)0xC0)), 2));
            for (int k = 0; k < 4; k++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(q8 + 128 * half + 32 * k));
                const int s0 = sc[8 * half + 2 * k], s1 = sc[8 * half + 2 * k + 1];
                const __m256i scale = _mm256_setr_epi16(s0, s0, s0, s0, s0, s0, s0, s0, s1, s1, s1, s1, s1, s1, s1, s1);
                const __m256i products = _mm256_maddubs_epi16(q[k], a);
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale, products));
            }
        }
        sumi = _mm256_sub_epi32(sumi, offset);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum8(acc);
}

// A Q4_K block's 256 4-bit values as eight vectors of 32 (sub-block j: low nibbles of bytes 32(j/2)…, high nibbles
// for odd j).
TP_AVX2 static inline void q4_k_values(const uint8_t *x, __m256i q[8]) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    for (int pair = 0; pair < 4; pair++) {
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(x + 16 + 32 * pair));
        q[2 * pair] = _mm256_and_si256(bits, low);
        q[2 * pair + 1] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low);
    }
}

// dot_q4_k_q8_k for four tokens at once: the row's nibbles, scales and mins are decoded once per block, and each
// 32-value chunk's products are scaled in the integer lanes (madd by the chunk's scale) so one horizontal sum per
// block and token remains. The integer sums are the same integers; the float steps are dot_q4_k_q8_k's, per token.
TP_AVX2 static void dot4_q4_k_q8_k(const uint8_t *row, int blocks, const float *ad, const int8_t *aq,
                                   const int16_t *asums, float out[4]) {
    float acc[4] = {0, 0, 0, 0}, mins[4] = {0, 0, 0, 0};
    for (int b = 0; b < blocks; b++) {
        const uint8_t *x = row + b * 144;
        const uint8_t *sc = x + 4;
        __m256i q[8], scale[8];
        int scales[8];
        int16_t minimum[16];
        k4_scales_mins(sc, scales, minimum);
        for (int j = 0; j < 8; j++) scale[j] = _mm256_set1_epi16((short)scales[j]);
        q4_k_values(x, q);
        const __m256i mins16 = _mm256_loadu_si256((const __m256i *)minimum);
        const float dx = half_to_float(x), dmin = half_to_float(x + 2);
        for (int t = 0; t < 4; t++) {
            const long block = (long)t * blocks + b;
            const int8_t *q8 = aq + block * 256;
            __m256i sumi = _mm256_setzero_si256();
            for (int j = 0; j < 8; j++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(q8 + 32 * j));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], a), scale[j]));
            }
            const __m256i bs = _mm256_loadu_si256((const __m256i *)(asums + block * 16));
            const int32_t isum = hsum_epi32(sumi);
            const int32_t imin = hsum_epi32(_mm256_madd_epi16(bs, mins16));
            const float dy = ad[block];
            acc[t] = fmaf((float)isum, dx * dy, acc[t]);
            mins[t] = fmaf((float)imin, dmin * dy, mins[t]);
        }
    }
    for (int t = 0; t < 4; t++) out[t] = acc[t] - mins[t];
}

// A Q6_K block's 256 values as eight vectors of 32 (stored +32), and for each the pair of int8 scales of its two
// 16-value halves as sixteen int16 lanes.
TP_AVX2 static inline void q6_k_values(const uint8_t *x, __m256i q[8], __m256i scale[8]) {
    const __m256i m3 = _mm256_set1_epi8(3), m15 = _mm256_set1_epi8(15);
    const uint8_t *ql = x, *qh = x + 128;
    const int8_t *sc = (const int8_t *)(x + 192);
    for (int half = 0; half < 2; half++) {
        const __m256i bits1 = _mm256_loadu_si256((const __m256i *)(ql + 64 * half));
        const __m256i bits2 = _mm256_loadu_si256((const __m256i *)(ql + 64 * half + 32));
        const __m256i high = _mm256_loadu_si256((const __m256i *)(qh + 32 * half));
        __m256i *h = q + 4 * half;
        h[0] = _mm256_or_si256(_mm256_and_si256(bits1, m15), _mm256_slli_epi16(_mm256_and_si256(high, m3), 4));
        h[1] = _mm256_or_si256(_mm256_and_si256(bits2, m15),
                               _mm256_slli_epi16(_mm256_and_si256(high, _mm256_set1_epi8(12)), 2));
        h[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits1, 4), m15),
                               _mm256_and_si256(high, _mm256_set1_epi8(48)));
        h[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits2, 4), m15),
                               _mm256_srli_epi16(_mm256_and_si256(high, _mm256_set1_epi8((char)0xC0)), 2));
        for (int k = 0; k < 4; k++) {
            const short s0 = sc[8 * half + 2 * k], s1 = sc[8 * half + 2 * k + 1];
            scale[4 * half + k] = _mm256_setr_epi16(s0, s0, s0, s0, s0, s0, s0, s0, s1, s1, s1, s1, s1, s1, s1, s1);
        }
    }
}

// dot_q6_k_q8_k for four tokens at once: the row's 6-bit values and scale vectors built once per block.
TP_AVX2 static void dot4_q6_k_q8_k(const uint8_t *row, int blocks, const float *ad, const int8_t *aq,
                                   const int16_t *asums, float out[4]) {
    __m256 acc[4];
    for (int t = 0; t < 4; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *x = row + b * 210;
        const float d6 = half_to_float(x + 208);
        const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + 192)));
        __m256i q[8], scale[8];
        q6_k_values(x, q, scale);
        for (int t = 0; t < 4; t++) {
            const long block = (long)t * blocks + b;
            const int8_t *q8 = aq + block * 256;
            const float d = ad[block] * d6;
            const __m256i sums = _mm256_loadu_si256((const __m256i *)(asums + block * 16));
            const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(sums, scales16), 5);
            __m256i sumi = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) {
                const __m256i a = _mm256_loadu_si256((const __m256i *)(q8 + 32 * k));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale[k], _mm256_maddubs_epi16(q[k], a)));
            }
            sumi = _mm256_sub_epi32(sumi, offset);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc[t]);
        }
    }
    for (int t = 0; t < 4; t++) out[t] = hsum8(acc[t]);
}

// ---- Q4_K and Q6_K with AVX-512: dot4_q4_k_q8_k / dot4_q6_k_q8_k for eight tokens, two per 512-bit register ----
// The integer sums are the same integers (each half of a register holds one token's lanes); the float steps per
// token are the AVX2 kernels', in their order.

TP_AVX512 static inline __m512i token_pair(const void *first, const void *second) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)first)),
                              _mm256_loadu_si256((const __m256i *)second), 1);
}

TP_AVX512 static inline __m256i high_half_epi32(__m512i x) { return _mm512_extracti64x4_epi64(x, 1); }

// Eight vectors' lane sums as one vector (lane k: the sum of v[k]'s lanes); exact integers, so any order.
TP_AVX512 static inline __m256i sums8_epi32(const __m256i v[8]) {
    const __m256i b0 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    const __m256i b1 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// The float steps of dot_q4_k_q8_k for eight tokens side by side: lane t is token t's fmaf(isum, dx·dy, acc).
TP_AVX512 static void dot8_q4_k_q8_k(const uint8_t *row, int blocks, const float *ad, const int8_t *aq,
                                     const int16_t *asums, float out[8]) {
    __m256 acc = _mm256_setzero_ps(), mins = _mm256_setzero_ps();
    const __m256i tokens = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i token_offsets = _mm256_mullo_epi32(tokens, _mm256_set1_epi32(blocks));
    for (int b = 0; b < blocks; b++) {
        const uint8_t *x = row + b * 144;
        const uint8_t *sc = x + 4;
        __m512i q[8], scale[8];
        int scales[8];
        int16_t minimum[16];
        k4_scales_mins(sc, scales, minimum);
        for (int j = 0; j < 8; j++) scale[j] = _mm512_set1_epi16((short)scales[j]);
        __m256i values[8];
        q4_k_values(x, values);
        for (int j = 0; j < 8; j++) q[j] = twice(values[j]);
        const __m512i mins16 = twice(_mm256_loadu_si256((const __m256i *)minimum));
        __m256i isums[8], imins[8];
        for (int p = 0; p < 4; p++) {
            const long first = (long)(2 * p) * blocks + b, second = first + blocks;
            __m512i sumi = _mm512_setzero_si512();
            for (int j = 0; j < 8; j++) {
                const __m512i a = token_pair(aq + first * 256 + 32 * j, aq + second * 256 + 32 * j);
                sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(q[j], a), scale[j]));
            }
            const __m512i imin = _mm512_madd_epi16(token_pair(asums + first * 16, asums + second * 16), mins16);
            isums[2 * p] = _mm512_castsi512_si256(sumi);
            isums[2 * p + 1] = high_half_epi32(sumi);
            imins[2 * p] = _mm512_castsi512_si256(imin);
            imins[2 * p + 1] = high_half_epi32(imin);
        }
        const __m256 dy = _mm256_i32gather_ps(ad + b, token_offsets, 4);
        const __m256 dxdy = _mm256_mul_ps(_mm256_set1_ps(half_to_float(x)), dy);
        const __m256 dmindy = _mm256_mul_ps(_mm256_set1_ps(half_to_float(x + 2)), dy);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums8_epi32(isums)), dxdy, acc);
        mins = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums8_epi32(imins)), dmindy, mins);
    }
    _mm256_storeu_ps(out, _mm256_sub_ps(acc, mins));
}

TP_AVX512 static void dot8_q6_k_q8_k(const uint8_t *row, int blocks, const float *ad, const int8_t *aq,
                                     const int16_t *asums, float out[8]) {
    __m512 acc[4];
    for (int p = 0; p < 4; p++) acc[p] = _mm512_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *x = row + b * 210;
        const float d6 = half_to_float(x + 208);
        const __m512i scales16 = twice(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + 192))));
        __m256i values[8], scales[8];
        q6_k_values(x, values, scales);
        __m512i q[8], scale[8];
        for (int k = 0; k < 8; k++) {
            q[k] = twice(values[k]);
            scale[k] = twice(scales[k]);
        }
        for (int p = 0; p < 4; p++) {
            const long first = (long)(2 * p) * blocks + b, second = first + blocks;
            const __m512 d = pair_ps(ad[first] * d6, ad[second] * d6);
            const __m512i sums = token_pair(asums + first * 16, asums + second * 16);
            const __m512i offset = _mm512_slli_epi32(_mm512_madd_epi16(sums, scales16), 5);
            __m512i sumi = _mm512_setzero_si512();
            for (int k = 0; k < 8; k++) {
                const __m512i a = token_pair(aq + first * 256 + 32 * k, aq + second * 256 + 32 * k);
                sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(scale[k], _mm512_maddubs_epi16(q[k], a)));
            }
            sumi = _mm512_sub_epi32(sumi, offset);
            acc[p] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), acc[p]);
        }
    }
    for (int p = 0; p < 4; p++) {
        out[2 * p] = hsum8(_mm512_castps512_ps256(acc[p]));
        out[2 * p + 1] = hsum8(high_half(acc[p]));
    }
}

// Rows × tokens in groups of eight tokens; returns the first token not done.
TP_AVX512 static int matmul512_q8k(int type_id, const uint8_t *row, int blocks, const float *ad, const int8_t *aq,
                                   const int16_t *asums, int tokens, float *out, long out_stride) {
    int t = 0;
    for (; t + 8 <= tokens; t += 8) {
        float result[8];
        const float *d = ad + (long)t * blocks;
        const int8_t *q = aq + (long)t * blocks * 256;
        const int16_t *sums = asums + (long)t * blocks * 16;
        if (type_id == 12) dot8_q4_k_q8_k(row, blocks, d, q, sums, result);
        else dot8_q6_k_q8_k(row, blocks, d, q, sums, result);
        for (int k = 0; k < 8; k++) out[(t + k) * out_stride] = result[k];
    }
    return t;
}

TP_AVX2 int tp_matmul_q8k(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int blocks,
                          const float *ad, const int8_t *aq, const int16_t *asums, int tokens, float *out,
                          long out_stride) {
    if (type_id < 12 || type_id > 14) return 0;
    // Tiles of 16 tokens: their activations stay in L1 while the rows stream past (each row once per tile).
    const int wide = take_avx512(tokens);
    for (int t0 = 0; t0 < tokens; t0 += 16) {
        const int t_end = t0 + 16 < tokens ? t0 + 16 : tokens;
        const float *ad0 = ad + (long)t0 * blocks;
        const int8_t *aq0 = aq + (long)t0 * blocks * 256;
        const int16_t *as0 = asums + (long)t0 * blocks * 16;
        float *out0 = out + t0 * out_stride;
        const int count = t_end - t0;
        for (int r = row_begin; r < row_end; r++) {
            const uint8_t *row = (const uint8_t *)weights + r * row_bytes;
            if (type_id == 13) {  // Q5_K: one token at a time
                for (int t = 0; t < count; t++) {
                    const long first = (long)t * blocks;
                    const float value = dot_q5_k_q8_k(row, blocks, ad0 + first, aq0 + first * 256, as0 + first * 16);
                    out0[t * out_stride + r] = value;
                }
                continue;
            }
            int t = wide ? matmul512_q8k(type_id, row, blocks, ad0, aq0, as0, count, out0 + r, out_stride) : 0;
            for (; t + 4 <= count; t += 4) {
                float result[4];
                const float *d = ad0 + (long)t * blocks;
                const int8_t *q = aq0 + (long)t * blocks * 256;
                const int16_t *sums = as0 + (long)t * blocks * 16;
                if (type_id == 12) dot4_q4_k_q8_k(row, blocks, d, q, sums, result);
                else dot4_q6_k_q8_k(row, blocks, d, q, sums, result);
                for (int k = 0; k < 4; k++) out0[(t + k) * out_stride + r] = result[k];
            }
            for (; t < count; t++) {
                const float *d = ad0 + (long)t * blocks;
                const int8_t *q = aq0 + (long)t * blocks * 256;
                const int16_t *sums = as0 + (long)t * blocks * 16;
                out0[t * out_stride + r] = type_id == 12 ? dot_q4_k_q8_k(row, blocks, d, q, sums)
                                                         : dot_q6_k_q8_k(row, blocks, d, q, sums);
            }
        }
    }
    return 1;
}

TP_AVX2 int tp_matmul_kquant(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int columns,
                             const float *input, int tokens, float *out, long out_stride, float *scratch) {
    if (type_id < 12 || type_id > 14) return 0;
    const int blocks = columns / 256;
    const int block_bytes = type_id == 12 ? 144 : type_id == 13 ? 176 : 210;
    for (int r = row_begin; r < row_end; r++) {
        const uint8_t *row = (const uint8_t *)weights + r * row_bytes;
        for (int b = 0; b < blocks; b++) {
            if (type_id == 14) decode_q6_k(row + b * block_bytes, scratch + 256 * b);
            else decode_q45_k(row + b * block_bytes, scratch + 256 * b, type_id == 13);
        }
        for (int t = 0; t < tokens; t++) out[t * out_stride + r] = dot_f32(scratch, input + (long)t * columns, columns);
    }
    return 1;
}

TP_AVX2 float tp_dot_f16(const float *q, const uint16_t *k, int dim, int order) {
    if (order == 0) {
        __m256 acc = _mm256_setzero_ps();
        for (int i = 0; i < dim; i += 8) {
            __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i)));
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), kv, acc);
        }
        return hsum8(acc);
    }
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int i = 0; i < dim; i += 32) {
        for (int j = 0; j < 4; j++) {
            __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 8 * j)));
            s[j] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8 * j), kv, s[j]);
        }
    }
    return reduce4x8(s[0], s[1], s[2], s[3]);
}

// Keys times a query held in registers, 64 values, into one accumulator per key in tinyBLAS's order (order 0) or
// into ggml_vec_dot_f16's four (order 1, already added pairwise as reduce4x8 adds them): the products of
// tp_dot_f16, in its order.
#define TP_F16_KEY64_TINYBLAS(k, acc)                                                                              \
    do {                                                                                                          \
        acc = _mm256_mul_ps(q0, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k))));                          \
        acc = _mm256_fmadd_ps(q1, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 8))), acc);             \
        acc = _mm256_fmadd_ps(q2, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 16))), acc);            \
        acc = _mm256_fmadd_ps(q3, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 24))), acc);            \
        acc = _mm256_fmadd_ps(q4, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 32))), acc);            \
        acc = _mm256_fmadd_ps(q5, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 40))), acc);            \
        acc = _mm256_fmadd_ps(q6, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 48))), acc);            \
        acc = _mm256_fmadd_ps(q7, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 56))), acc);            \
    } while (0)

#define TP_F16_KEY64_VECTOR_DOT(k, acc)                                                                           \
    do {                                                                                                          \
        const __m256 zero = _mm256_setzero_ps();                                                                  \
        __m256 s0 = _mm256_fmadd_ps(q0, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k))), zero);            \
        __m256 s1 = _mm256_fmadd_ps(q1, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 8))), zero);      \
        __m256 s2 = _mm256_fmadd_ps(q2, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 16))), zero);     \
        __m256 s3 = _mm256_fmadd_ps(q3, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 24))), zero);     \
        s0 = _mm256_fmadd_ps(q4, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 32))), s0);              \
        s1 = _mm256_fmadd_ps(q5, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 40))), s1);              \
        s2 = _mm256_fmadd_ps(q6, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 48))), s2);              \
        s3 = _mm256_fmadd_ps(q7, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((k) + 56))), s3);              \
        acc = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));                                        \
    } while (0)

TP_AVX2 void tp_scores_f16(const float *q, const uint16_t *keys, int count, int dim, int order, float *scores) {
    if (dim == 64) {  // the common head size, with the query held in registers
        const __m256 q0 = _mm256_loadu_ps(q), q1 = _mm256_loadu_ps(q + 8), q2 = _mm256_loadu_ps(q + 16), q3 = _mm256_loadu_ps(q + 24);
        const __m256 q4 = _mm256_loadu_ps(q + 32), q5 = _mm256_loadu_ps(q + 40), q6 = _mm256_loadu_ps(q + 48), q7 = _mm256_loadu_ps(q + 56);
        // Eight keys at a time, reduced together (hsum8x8, reduce4x8_end8: each lane has the one-key reduction's
        // additions): a key's own horizontal sum cost about as much as its products.
        int j = 0;
        if (order == 1) {
            for (; j + 8 <= count; j += 8) {
                __m256 acc[8];
                for (int n = 0; n < 8; n++) TP_F16_KEY64_VECTOR_DOT(keys + (long)(j + n) * 64, acc[n]);
                _mm256_storeu_ps(scores + j, reduce4x8_end8(acc));
            }
            for (; j < count; j++) scores[j] = tp_dot_f16(q, keys + (long)j * 64, 64, 1);
            return;
        }
        for (; j + 8 <= count; j += 8) {
            __m256 acc[8];
            for (int n = 0; n < 8; n++) TP_F16_KEY64_TINYBLAS(keys + (long)(j + n) * 64, acc[n]);
            _mm256_storeu_ps(scores + j, hsum8x8(acc));
        }
        for (; j < count; j++) {
            __m256 acc;
            TP_F16_KEY64_TINYBLAS(keys + (long)j * 64, acc);
            scores[j] = hsum8(acc);
        }
        return;
    }
    if (order == 0 && dim % 8 == 0) {
        // Four keys at a time: four independent FMA chains instead of one waiting on itself; each key's chain is
        // tp_dot_f16's, in its order.
        int j = 0;
        for (; j + 4 <= count; j += 4) {
            const uint16_t *k = keys + (long)j * dim;
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
            for (int i = 0; i < dim; i += 8) {
                const __m256 qi = _mm256_loadu_ps(q + i);
                for (int n = 0; n < 4; n++) {
                    const __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + (long)n * dim + i)));
                    acc[n] = _mm256_fmadd_ps(qi, kv, acc[n]);
                }
            }
            for (int n = 0; n < 4; n++) scores[j + n] = hsum8(acc[n]);
        }
        for (; j < count; j++) scores[j] = tp_dot_f16(q, keys + (long)j * dim, dim, order);
        return;
    }
    for (int j = 0; j < count; j++) scores[j] = tp_dot_f16(q, keys + (long)j * dim, dim, order);
}

TP_AVX2 void tp_weighted_sum_f16(const float *w, const uint16_t *v, int count, int dim, int order, float *scratch, float *out) {
    const int accumulators = order == 0 ? 8 : 32;
    // Accumulator a sums tokens a, a + accumulators, … in order. With 8 accumulators (batches), walking one
    // accumulator at a time keeps its dim values in registers; with 32 (one token, long caches) a whole walk would
    // read rows 4 KB apart (tg128@d4096: 36–38 t/s against 41–43 row by row), so the rows go in tiles of 128 that
    // stay in L1 (f16_tile_to_32_accumulators).
    if (accumulators == 32) {
        memset(scratch, 0, sizeof(float) * accumulators * dim);
        f16_rows_to_32_accumulators(w, 0, 1, v, count, dim, 0, dim, scratch);
    } else
    for (int a = 0; a < accumulators; a++) {
        float *acc = scratch + a * dim;
        if (dim % 64 == 0) {
          // 64 channels at a time in registers (each channel's sum over the tokens keeps its order).
          for (int c = 0; c < dim; c += 64, acc += 64) {
            __m256 r0 = _mm256_setzero_ps(), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0, r6 = r0, r7 = r0;
            for (int j = a; j < count; j += accumulators) {
                // The weight as llama.cpp converts it for the f16 product: rounded to f16.
                const __m256 wj = _mm256_set1_ps(_cvtsh_ss(_cvtss_sh(w[j], 0)));
                const __m128i *vj = (const __m128i *)(v + (long)j * dim + c);
                r0 = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(vj + 0)), r0);
                r1 = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(vj + 1)), r1);
                r2 = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(vj + 2)), r2);
                r3 = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(vj + 3)), r3);
                r4 = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(vj + 4)), r4);
                r5 = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(vj + 5)), r5);
                r6 = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(vj + 6)), r6);
                r7 = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(vj + 7)), r7);
            }
            _mm256_storeu_ps(acc, r0); _mm256_storeu_ps(acc + 8, r1); _mm256_storeu_ps(acc + 16, r2); _mm256_storeu_ps(acc + 24, r3);
            _mm256_storeu_ps(acc + 32, r4); _mm256_storeu_ps(acc + 40, r5); _mm256_storeu_ps(acc + 48, r6); _mm256_storeu_ps(acc + 56, r7);
          }
          continue;
        }
        memset(acc, 0, sizeof(float) * dim);
        for (int j = a; j < count; j += accumulators) {
            const __m256 wj = _mm256_set1_ps(_cvtsh_ss(_cvtss_sh(w[j], 0)));
            const uint16_t *vj = v + (long)j * dim;
            for (int i = 0; i < dim; i += 8) {
                __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vj + i)));
                _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wj, vv, _mm256_loadu_ps(acc + i)));
            }
        }
    }
    // The accumulators' reduction for eight channels at once, with hsum8's (order 0) or reduce4x8's (order 1)
    // additions per channel, in their pairing.
    int i0 = 0;
    for (; dim % 8 == 0 && i0 < dim; i0 += 8) {
        const float *base = scratch + i0;
        if (order == 0) {
            __m256 t[4];
            for (int k = 0; k < 4; k++)
                t[k] = _mm256_add_ps(_mm256_loadu_ps(base + (k + 4) * dim), _mm256_loadu_ps(base + k * dim));
            _mm256_storeu_ps(out + i0, _mm256_add_ps(_mm256_add_ps(t[0], t[2]), _mm256_add_ps(t[1], t[3])));
        } else {
            _mm256_storeu_ps(out + i0, reduce32_accumulators(base, dim));
        }
    }
    for (int i = i0; i < dim; i++) {
        if (order == 0) {
            __m256 lanes = _mm256_set_ps(scratch[7 * dim + i], scratch[6 * dim + i], scratch[5 * dim + i], scratch[4 * dim + i],
                                         scratch[3 * dim + i], scratch[2 * dim + i], scratch[1 * dim + i], scratch[0 * dim + i]);
            out[i] = hsum8(lanes);
        } else {
            __m256 x[4];
            for (int k = 0; k < 4; k++) {
                const float *base = scratch + 8 * k * dim + i;
                x[k] = _mm256_set_ps(base[7 * dim], base[6 * dim], base[5 * dim], base[4 * dim],
                                     base[3 * dim], base[2 * dim], base[1 * dim], base[0]);
            }
            out[i] = reduce4x8(x[0], x[1], x[2], x[3]);
        }
    }
}

// exp(x) by the polynomial llama.cpp uses on AVX2 (ARM optimized-routines; ~1.5 ulp).
TP_AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.f), n);
    const __m256i c = _mm256_castps_si256(_mm256_cmp_ps(absn, _mm256_set1_ps(126), _CMP_GT_OQ));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(c))) return _mm256_fmadd_ps(j, k, k);
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256i d = _mm256_castps_si256(_mm256_cmp_ps(absn, _mm256_set1_ps(192), _CMP_GT_OQ));
    const __m256 big = _mm256_mul_ps(s1, s1);
    const __m256 mid = _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1);
    const __m256 small = _mm256_fmadd_ps(k, j, k);
    __m256 result = _mm256_blendv_ps(small, mid, _mm256_castsi256_ps(c));
    return _mm256_blendv_ps(result, big, _mm256_castsi256_ps(d));
}

// The largest of the eight lanes (no lane is NaN).
TP_AVX2 static inline float hmax8(__m256 x) {
    const __m128 four = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    const __m128 two = _mm_max_ps(four, _mm_movehl_ps(four, four));
    return _mm_cvtss_f32(_mm_max_ss(two, _mm_movehdup_ps(two)));
}

TP_AVX2 void tp_softmax(float *x, int count, float scale) {
    // Scale and find the maximum eight at a time: a maximum is exact in any order, so this is the scalar loop's
    // value, found without its compare-and-select chain through every logit (about half of the softmax's time).
    // max(v, top) returns top when v is NaN, as the scalar `x > maximum` skips a NaN.
    __m256 top0 = _mm256_set1_ps(-INFINITY), top1 = top0;
    const __m256 scales = _mm256_set1_ps(scale);
    int i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m256 v0 = _mm256_mul_ps(_mm256_loadu_ps(x + i), scales);
        const __m256 v1 = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), scales);
        _mm256_storeu_ps(x + i, v0);
        _mm256_storeu_ps(x + i + 8, v1);
        top0 = _mm256_max_ps(v0, top0);
        top1 = _mm256_max_ps(v1, top1);
    }
    float maximum = hmax8(_mm256_max_ps(top0, top1));
    for (; i < count; i++) {
        x[i] *= scale;
        if (x[i] > maximum) maximum = x[i];
    }
    double sum = 0;
    i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(maximum)));
        _mm256_storeu_ps(x + i, v);
        sum += (double)hsum8(v);
    }
    if (i < count) {  // the last partial chunk, padded with exp(−∞) = 0 as llama.cpp's masked cells
        float tail[8];
        for (int k = 0; k < 8; k++) tail[k] = i + k < count ? x[i + k] - maximum : -INFINITY;
        __m256 v = exp8(_mm256_loadu_ps(tail));
        _mm256_storeu_ps(tail, v);
        for (int k = 0; i + k < count; k++) x[i + k] = tail[k];
        sum += (double)hsum8(v);
    }
    const float inverse = (float)(1.0 / sum);
    for (int k = 0; k < count; k++) x[k] *= inverse;
}

TP_AVX2 void tp_swiglu(float *gate, const float *up, int count) {
    int i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 x = _mm256_loadu_ps(gate + i);
        __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < count; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];  // llama.cpp's scalar tail
}

// Eight rows at a time share the query loads and one eight-way horizontal sum (hsum8x8: each row's result equals
// the single-row hsum8); the remaining rows one at a time.
TP_AVX2 static inline __attribute__((always_inline)) void packed_logits(const float *qs, float bias, const uint8_t *codes,
                                                                         int rows, int dim, int bits, float *out) {
    const long row_bytes = (long)dim * bits / 8;
    int j = 0;
    for (; j + 8 <= rows; j += 8) {
        __m256 acc[8];
        for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
        for (int c = 0; c < dim; c += 8) {
            const __m256 qc = _mm256_loadu_ps(qs + c);
            for (int k = 0; k < 8; k++) {
                acc[k] = _mm256_fmadd_ps(qc, unpack8(codes + (j + k) * row_bytes + c / 8 * bits, bits), acc[k]);
            }
        }
        _mm256_storeu_ps(out + j, _mm256_add_ps(hsum8x8(acc), _mm256_set1_ps(bias)));
    }
    for (; j < rows; j++) {
        const uint8_t *row = codes + j * row_bytes;
        __m256 acc = _mm256_setzero_ps();
        for (int c = 0; c < dim; c += 8) {
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(qs + c), unpack8(row + c / 8 * bits, bits), acc);
        }
        out[j] = hsum8(acc) + bias;
    }
}

TP_AVX2 void tp_packed_logits(const float *q, const uint16_t *scales, const uint16_t *zeros, const uint8_t *codes,
                              int rows, int dim, int bits, float *qs, float *out) {
    __m256 bias_lanes = _mm256_setzero_ps();
    for (int c = 0; c < dim; c += 8) {
        const __m256 qc = _mm256_loadu_ps(q + c);
        _mm256_storeu_ps(qs + c, _mm256_mul_ps(qc, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(scales + c)))));
        bias_lanes = _mm256_fmadd_ps(qc, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(zeros + c))), bias_lanes);
    }
    const float bias = hsum8(bias_lanes);
    switch (bits) {
    case 2: packed_logits(qs, bias, codes, rows, dim, 2, out); break;
    case 3: packed_logits(qs, bias, codes, rows, dim, 3, out); break;
    case 4: packed_logits(qs, bias, codes, rows, dim, 4, out); break;
    default: packed_logits(qs, bias, codes, rows, dim, 8, out); break;
    }
}

// 64 channels at a time with their sums in registers over all rows; each channel still adds its rows in order with
// one FMA each, and each group's zero point is summed once per row, as the Swift twin does.
TP_AVX2 static inline __attribute__((always_inline)) void packed_weighted_sum(
    const float *w, const uint8_t *codes, const uint16_t *scales, const uint16_t *zeros, int rows, int dim, int bits,
    int group, int step, float *zero_sums, float *out) {
    const long row_bytes = (long)dim * bits / 8;
    const int groups = dim / group;
    memset(zero_sums, 0, sizeof(float) * (size_t)groups);
    for (int c0 = 0; c0 < dim; c0 += 64) {
        // Each lane's value group, and whether the group starts there, known before the rows: a division per row
        // and lane took a third of this kernel's time.
        int lane_group[8], lane_starts[8];
        for (int k = 0; k < 8; k++) {
            lane_group[k] = (c0 + 8 * k) / group;
            lane_starts[k] = (c0 + 8 * k) % group == 0;
        }
        const int lanes = (dim - c0 < 64 ? dim - c0 : 64) / 8;
        memset(out + c0, 0, sizeof(float) * 8 * (size_t)lanes);
        const uint8_t *block = codes + c0 / 8 * bits;
        // A whole block with its lane count a constant, so the sums stay in registers.
        if (lanes == 8) {
            packed_block_sums(w, rows, block, row_bytes, NULL, bits, scales, zeros, groups, lane_group, lane_starts, 8,
                              step, out + c0, zero_sums);
        } else {
            packed_block_sums(w, rows, block, row_bytes, NULL, bits, scales, zeros, groups, lane_group, lane_starts,
                              lanes, step, out + c0, zero_sums);
        }
    }
    for (int c = 0; c < dim; c++) out[c] += zero_sums[c / group];
}

TP_AVX2 void tp_packed_weighted_sum(const float *w, const uint8_t *codes, const uint16_t *scales, const uint16_t *zeros,
                                    int rows, int dim, int bits, int group, float *zero_sums, float *out) {
    // The grouped 512-bit kernel with one query where the CPU allows (same bits). Not the logits: with one query
    // the 512-bit tiles decode two rows per register for four FMAs and were slower than AVX2 (19 against 16 µs per
    // 4,096 4-bit rows, scripts' harness).
    if (tp_take_avx512()
        && tp_packed_group_weighted_sum512(w, 0, 1, codes, scales, zeros, rows, dim, bits, group, 0, dim, out, dim)) {
        return;
    }
#define TP_PACKED_SUM(b, s) packed_weighted_sum(w, codes, scales, zeros, rows, dim, b, group, s, zero_sums, out)
    TP_WITH_CONSTANT_BITS_AND_STEP(TP_PACKED_SUM, bits, group);
#undef TP_PACKED_SUM
}

// The accumulators of two blocks (64 channels) stay in registers over all rows; each channel still adds its rows'
// weight·scale·code in row order with one rounding each (an FMA), as the Swift twin does.
TP_AVX2 static inline __attribute__((always_inline)) void weighted_sum_q(int type_id, const void *rows, long row_bytes,
                                                                          int count, int dim, const float *w,
                                                                          float *minimum_sums, float *out) {
    const int blocks = dim / 32;
    const int signed_codes = is_signed(type_id);
    memset(minimum_sums, 0, sizeof(float) * (size_t)blocks);
    for (int b0 = 0; b0 < blocks; b0 += 2) {
        const int pair = b0 + 1 < blocks ? 2 : 1;
        __m256 acc[8];
        for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
        for (int j = 0; j < count; j++) {
            const uint8_t *row = (const uint8_t *)rows + j * row_bytes;
            for (int p = 0; p < pair; p++) {
                float scale, minimum = 0;
                const __m256i x = block_bytes(type_id, row, b0 + p, &scale, &minimum);
                const __m256 weight = _mm256_set1_ps(w[j] * scale);
                if (has_minimum(type_id)) minimum_sums[b0 + p] = fmaf(w[j], minimum, minimum_sums[b0 + p]);
                const __m128i halves[2] = {_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1)};
                for (int k = 0; k < 4; k++) {
                    const __m128i eight = k % 2 == 0 ? halves[k / 2] : _mm_srli_si128(halves[k / 2], 8);
                    const __m256i wide = signed_codes ? _mm256_cvtepi8_epi32(eight) : _mm256_cvtepu8_epi32(eight);
                    acc[4 * p + k] = _mm256_fmadd_ps(weight, _mm256_cvtepi32_ps(wide), acc[4 * p + k]);
                }
            }
        }
        for (int k = 0; k < 4 * pair; k++) _mm256_storeu_ps(out + 32 * b0 + 8 * k, acc[k]);
    }
    if (has_minimum(type_id))
        for (int i = 0; i < dim; i++) out[i] += minimum_sums[i / 32];
}

// One copy per format, so block_bytes' format switch folds away.
TP_AVX2 void tp_weighted_sum_q(int type_id, const void *rows, long row_bytes, int count, int dim, const float *w,
                               float *minimum_sums, float *out) {
    // One query is a group of one: the AVX-512 twin does the same operations per element.
    if (take_avx512(8)) {
        tp_group_weighted_sum_q512(type_id, rows, row_bytes, count, 0, dim / 32, 1, w, 0, out, 0);
        return;
    }
    switch (type_id) {
    case 2: weighted_sum_q(2, rows, row_bytes, count, dim, w, minimum_sums, out); break;
    case 3: weighted_sum_q(3, rows, row_bytes, count, dim, w, minimum_sums, out); break;
    case 6: weighted_sum_q(6, rows, row_bytes, count, dim, w, minimum_sums, out); break;
    case 7: weighted_sum_q(7, rows, row_bytes, count, dim, w, minimum_sums, out); break;
    default: weighted_sum_q(8, rows, row_bytes, count, dim, w, minimum_sums, out); break;
    }
}

// ---- Query heads of one KV head together (decode): each stored block is decoded once for all of them ----

// Logits of `queries` (1 to 4) query heads over `count` key rows of a block format. Rows go in pairs; each
// (row, query) keeps dot_rows8's accumulator over the blocks in order and eight rows are reduced together by
// hsum8x8, so every logit has the bits of the one-query kernel.
TP_AVX2 static inline __attribute__((always_inline)) void group_logits(int type_id, int queries, const uint8_t *rows,
                                                                        long row_bytes, int count, int blocks,
                                                                        const int8_t *quants, const float *scales,
                                                                        const float *sums, float *out, long stride) {
    for (int r0 = 0; r0 < count; r0 += 8) {
        __m256 stage[4][8];
        float minimums[4][8];
        for (int p = 0; p < 8; p += 2) {
            // Rows past the end repeat the last row; their results are not stored.
            const int i0 = r0 + p < count ? r0 + p : count - 1;
            const int i1 = r0 + p + 1 < count ? r0 + p + 1 : count - 1;
            const uint8_t *row0 = rows + i0 * row_bytes, *row1 = rows + i1 * row_bytes;
            __m256 acc[4][2];
            float minimum_sums[4][2];
            for (int g = 0; g < queries; g++) {
                acc[g][0] = acc[g][1] = _mm256_setzero_ps();
                minimum_sums[g][0] = minimum_sums[g][1] = 0;
            }
            for (int b = 0; b < blocks; b++) {
                float s0, s1, m0 = 0, m1 = 0;
                const __m256i x0 = block_bytes(type_id, row0, b, &s0, &m0);
                const __m256i x1 = block_bytes(type_id, row1, b, &s1, &m1);
                const __m256i a0 = is_signed(type_id) ? _mm256_sign_epi8(x0, x0) : x0;
                const __m256i a1 = is_signed(type_id) ? _mm256_sign_epi8(x1, x1) : x1;
                for (int g = 0; g < queries; g++) {
                    const __m256i y = _mm256_loadu_si256((const __m256i *)(quants + (long)g * blocks * 32 + 32 * b));
                    const float ys = scales[g * blocks + b];
                    const __m256 xy0 = lanes_unsigned(a0, is_signed(type_id) ? _mm256_sign_epi8(y, x0) : y);
                    const __m256 xy1 = lanes_unsigned(a1, is_signed(type_id) ? _mm256_sign_epi8(y, x1) : y);
                    if (has_minimum(type_id)) {
                        minimum_sums[g][0] += m0 * sums[g * blocks + b];
                        minimum_sums[g][1] += m1 * sums[g * blocks + b];
                    }
                    acc[g][0] = _mm256_fmadd_ps(_mm256_set1_ps(s0 * ys), xy0, acc[g][0]);
                    acc[g][1] = _mm256_fmadd_ps(_mm256_set1_ps(s1 * ys), xy1, acc[g][1]);
                }
            }
            for (int g = 0; g < queries; g++) {
                stage[g][p] = acc[g][0];
                stage[g][p + 1] = acc[g][1];
                minimums[g][p] = minimum_sums[g][0];
                minimums[g][p + 1] = minimum_sums[g][1];
            }
        }
        store_row_tile(type_id, queries, stage, minimums, count - r0 < 8 ? count - r0 : 8, out + r0, stride);
    }
}

// Weighted value sums of `queries` (1 to 3) query heads over blocks [block_begin, block_end) of `count` rows: each
// block is decoded to floats once and added to every query's accumulators with weight·scale, one FMA per row in
// row order, the minimums' sums (fmaf) added last — weighted_sum_q's operations, so the same bits.
TP_AVX2 static inline __attribute__((always_inline)) void group_weighted_sum(int type_id, int queries, const uint8_t *rows,
                                                                              long row_bytes, int count, int block_begin,
                                                                              int block_end, const float *w, long w_stride,
                                                                              float *out, long out_stride) {
    const int signed_codes = is_signed(type_id);
    for (int b = block_begin; b < block_end; b++) {
        __m256 acc[3][4];
        float minimum_sums[3] = {0, 0, 0};
        for (int g = 0; g < queries; g++)
            for (int k = 0; k < 4; k++) acc[g][k] = _mm256_setzero_ps();
        for (int j = 0; j < count; j++) {
            float scale, minimum = 0;
            const __m256i x = block_bytes(type_id, rows + j * row_bytes, b, &scale, &minimum);
            const __m128i halves[2] = {_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1)};
            __m256 codes[4];
            for (int k = 0; k < 4; k++) {
                const __m128i eight = k % 2 == 0 ? halves[k / 2] : _mm_srli_si128(halves[k / 2], 8);
                codes[k] = _mm256_cvtepi32_ps(signed_codes ? _mm256_cvtepi8_epi32(eight) : _mm256_cvtepu8_epi32(eight));
            }
            for (int g = 0; g < queries; g++) {
                const float wj = w[g * w_stride + j];
                const __m256 weight = _mm256_set1_ps(wj * scale);
                if (has_minimum(type_id)) minimum_sums[g] = fmaf(wj, minimum, minimum_sums[g]);
                for (int k = 0; k < 4; k++) acc[g][k] = _mm256_fmadd_ps(weight, codes[k], acc[g][k]);
            }
        }
        for (int g = 0; g < queries; g++) {
            float *o = out + g * out_stride + 32 * b;
            for (int k = 0; k < 4; k++) _mm256_storeu_ps(o + 8 * k, acc[g][k]);
            if (has_minimum(type_id))
                for (int i = 0; i < 32; i++) o[i] += minimum_sums[g];
        }
    }
}

// One copy per format and group size, so the switches fold away.
#define TP_GROUP_FOR(TYPE)                                                                                        \
    TP_AVX2 static void group_logits_##TYPE(int queries, const uint8_t *rows, long row_bytes, int count, int blocks, \
                                            const int8_t *quants, const float *scales, const float *sums,          \
                                            float *out, long stride) {                                            \
        switch (queries) {                                                                                        \
        case 1: group_logits(TYPE, 1, rows, row_bytes, count, blocks, quants, scales, sums, out, stride); break;  \
        case 2: group_logits(TYPE, 2, rows, row_bytes, count, blocks, quants, scales, sums, out, stride); break;  \
        case 3: group_logits(TYPE, 3, rows, row_bytes, count, blocks, quants, scales, sums, out, stride); break;  \
        default: group_logits(TYPE, 4, rows, row_bytes, count, blocks, quants, scales, sums, out, stride); break; \
        }                                                                                                         \
    }                                                                                                             \
    TP_AVX2 static void group_weighted_sum_##TYPE(int queries, const uint8_t *rows, long row_bytes, int count,     \
                                                  int begin, int end, const float *w, long w_stride, float *out,   \
                                                  long out_stride) {                                              \
        switch (queries) {                                                                                        \
        case 1: group_weighted_sum(TYPE, 1, rows, row_bytes, count, begin, end, w, w_stride, out, out_stride); break; \
        case 2: group_weighted_sum(TYPE, 2, rows, row_bytes, count, begin, end, w, w_stride, out, out_stride); break; \
        default: group_weighted_sum(TYPE, 3, rows, row_bytes, count, begin, end, w, w_stride, out, out_stride); break; \
        }                                                                                                         \
    }
TP_GROUP_FOR(2)
TP_GROUP_FOR(3)
TP_GROUP_FOR(6)
TP_GROUP_FOR(7)
TP_GROUP_FOR(8)

TP_AVX2 void tp_group_logits_q(int type_id, const void *rows, long row_bytes, int count, int blocks, int queries,
                               const int8_t *quants, const float *scales, const float *sums, float *out, long stride) {
    if (count <= 0) return;
    if (take_avx512(8)
        && tp_group_logits_q512(type_id, rows, row_bytes, count, blocks, queries, quants, scales, sums, out, stride))
        return;
    for (int g0 = 0; g0 < queries; g0 += 4) {
        const int n = queries - g0 < 4 ? queries - g0 : 4;
        const int8_t *q = quants + (long)g0 * blocks * 32;
        const float *s = scales + g0 * blocks, *m = sums + g0 * blocks;
        float *o = out + g0 * stride;
        switch (type_id) {
        case 2: group_logits_2(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        case 3: group_logits_3(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        case 6: group_logits_6(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        case 7: group_logits_7(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        default: group_logits_8(n, rows, row_bytes, count, blocks, q, s, m, o, stride); break;
        }
    }
}

TP_AVX2 void tp_group_weighted_sum_q(int type_id, const void *rows, long row_bytes, int count, int block_begin,
                                     int block_end, int queries, const float *w, long w_stride, float *out,
                                     long out_stride) {
    if (take_avx512(8)) {
        tp_group_weighted_sum_q512(type_id, rows, row_bytes, count, block_begin, block_end, queries, w, w_stride, out,
                                   out_stride);
        return;
    }
    for (int g0 = 0; g0 < queries; g0 += 3) {
        const int n = queries - g0 < 3 ? queries - g0 : 3;
        const float *wg = w + g0 * w_stride;
        float *o = out + g0 * out_stride;
        switch (type_id) {
        case 2: group_weighted_sum_2(n, rows, row_bytes, count, block_begin, block_end, wg, w_stride, o, out_stride); break;
        case 3: group_weighted_sum_3(n, rows, row_bytes, count, block_begin, block_end, wg, w_stride, o, out_stride); break;
        case 6: group_weighted_sum_6(n, rows, row_bytes, count, block_begin, block_end, wg, w_stride, o, out_stride); break;
        case 7: group_weighted_sum_7(n, rows, row_bytes, count, block_begin, block_end, wg, w_stride, o, out_stride); break;
        default: group_weighted_sum_8(n, rows, row_bytes, count, block_begin, block_end, wg, w_stride, o, out_stride); break;
        }
    }
}

TP_AVX2 void tp_sparse_logits(const float *q, const uint64_t *masks, const uint16_t *values, int rows, int words,
                              int kept, float *out) {
    for (int j = 0; j < rows; j++) {
        const uint64_t *mask = masks + (long)j * words;
        const uint16_t *v = values + (long)j * kept;
        float sum = 0;
        int n = 0;
        for (int w = 0; w < words; w++) {
            for (uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
                const float product = q[w * 64 + __builtin_ctzll(bits)] * _cvtsh_ss(v[n++]);
                sum = sum + product;  // two roundings, as the Swift twin (no contraction into an FMA)
            }
        }
        out[j] = sum;
    }
}

TP_AVX2 void tp_sparse_weighted_sum(const float *w, const uint64_t *masks, const uint16_t *values, int rows,
                                    int words, int kept, int dim, float *out) {
    memset(out, 0, sizeof(float) * (size_t)dim);
    for (int j = 0; j < rows; j++) {
        const uint64_t *mask = masks + (long)j * words;
        const uint16_t *v = values + (long)j * kept;
        int n = 0;
        for (int word = 0; word < words; word++) {
            for (uint64_t bits = mask[word]; bits != 0; bits &= bits - 1) {
                const int channel = word * 64 + __builtin_ctzll(bits);
                const float product = w[j] * _cvtsh_ss(v[n++]);
                out[channel] = out[channel] + product;
            }
        }
    }
}

#else  // not x86: never called (tp_has_avx2() is 0); defined so the symbols exist.

void tp_matmul_q8(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int blocks,
                  const int8_t *quants, const float *scales, const float *sums, int tokens, float *out, long out_stride) {}
float tp_dot_f16(const float *q, const uint16_t *k, int dim, int order) { return 0; }
void tp_scores_f16(const float *q, const uint16_t *keys, int count, int dim, int order, float *scores) {}
void tp_weighted_sum_f16(const float *w, const uint16_t *v, int count, int dim, int order, float *scratch, float *out) {}
void tp_softmax(float *x, int count, float scale) {}
int tp_matmul_kquant(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int columns,
                     const float *input, int tokens, float *out, long out_stride, float *scratch) { return 0; }
int tp_matmul_q8k(int type_id, const void *weights, long row_bytes, int row_begin, int row_end, int blocks,
                  const float *ad, const int8_t *aq, const int16_t *asums, int tokens, float *out,
                  long out_stride) { return 0; }
void tp_swiglu(float *gate, const float *up, int count) {}
void tp_packed_logits(const float *q, const uint16_t *scales, const uint16_t *zeros, const uint8_t *codes,
                      int rows, int dim, int bits, float *qs, float *out) {}
void tp_weighted_sum_q(int type_id, const void *rows, long row_bytes, int count, int dim, const float *w,
                       float *minimum_sums, float *out) {}
void tp_sparse_logits(const float *q, const uint64_t *masks, const uint16_t *values, int rows, int words,
                      int kept, float *out) {}
void tp_group_logits_q(int type_id, const void *rows, long row_bytes, int count, int blocks, int queries,
                       const int8_t *quants, const float *scales, const float *sums, float *out, long stride) {}
void tp_group_weighted_sum_q(int type_id, const void *rows, long row_bytes, int count, int block_begin,
                             int block_end, int queries, const float *w, long w_stride, float *out, long out_stride) {}
void tp_sparse_weighted_sum(const float *w, const uint64_t *masks, const uint16_t *values, int rows,
                            int words, int kept, int dim, float *out) {}
void tp_packed_weighted_sum(const float *w, const uint8_t *codes, const uint16_t *scales, const uint16_t *zeros,
                            int rows, int dim, int bits, int group, float *zero_sums, float *out) {}

#endif
