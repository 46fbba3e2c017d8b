// Decode attention over KIVI's packed codes with AVX-512: the grouped logits and value sums of
// GroupedRowsAttention.c (tp_packed_group_logits, tp_packed_group_weighted_sum) in 512-bit registers, with their
// bits. Each row's codes are first spread to one byte per code (8-bit codes are bytes already), so sixteen of them
// become floats in two instructions instead of the AVX2 kernels' shift-and-mask per eight.
// Called only when tp_take_avx512() says the CPU has AVX-512 VNNI and the tiles are allowed.
#include "PackedAttention512.h"

#include <math.h>
#include <string.h>

#include "BlockDecoding.h"

#if TP_X86

enum { MAX_DIM = 256, MAX_QUERIES = 4 };

// A row of `dim` codes of `bits` bits (2, 3, 4 or 8; packed little-endian, code i at bit i·bits) as `dim` bytes
// in code order. dim is a multiple of 32 for 3 and 4 bits and of 64 for 2 bits (the callers check).
TP_AVX512 static inline __attribute__((always_inline)) void spread_codes(const uint8_t *row, int dim, int bits,
                                                                          uint8_t *out) {
    if (bits == 8) {
        memcpy(out, row, (size_t)dim);
        return;
    }
    if (bits == 4) {
        const __m128i mask = _mm_set1_epi8(0x0F);
        for (int c = 0; c < dim; c += 32) {
            const __m128i packed = _mm_loadu_si128((const __m128i *)(row + c / 2));
            const __m128i low = _mm_and_si128(packed, mask);
            const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
            _mm_storeu_si128((__m128i *)(out + c), _mm_unpacklo_epi8(low, high));
            _mm_storeu_si128((__m128i *)(out + c + 16), _mm_unpackhi_epi8(low, high));
        }
        return;
    }
    if (bits == 3) {
        // 32 codes in 12 bytes: 16-bit lane i takes bytes ⌊3i/8⌋ and the next (a shuffle of the bytes broadcast to
        // every 128-bit lane), shifted right by 3i mod 8 and masked, then narrowed to bytes. The load stops at the
        // 12 bytes, so the last row of a buffer is never read past.
        static const int8_t shuffle[64] = {  // bytes ⌊3i/8⌋ and ⌊3i/8⌋ + 1 for lane i
            0, 1, 0, 1, 0, 1, 1, 2, 1, 2, 1, 2, 2, 3, 2, 3,
            3, 4, 3, 4, 3, 4, 4, 5, 4, 5, 4, 5, 5, 6, 5, 6,
            6, 7, 6, 7, 6, 7, 7, 8, 7, 8, 7, 8, 8, 9, 8, 9,
            9, 10, 9, 10, 9, 10, 10, 11, 10, 11, 10, 11, 11, 12, 11, 12,
        };
        static const int16_t shifts[32] = {  // 3i mod 8
            0, 3, 6, 1, 4, 7, 2, 5, 0, 3, 6, 1, 4, 7, 2, 5,
            0, 3, 6, 1, 4, 7, 2, 5, 0, 3, 6, 1, 4, 7, 2, 5,
        };
        const __m512i control = _mm512_loadu_si512(shuffle);
        const __m512i amounts = _mm512_loadu_si512(shifts);
        for (int c = 0; c < dim; c += 32) {
            const __m128i packed = _mm_maskz_loadu_epi8(0x0FFF, row + c / 8 * 3);
            const __m512i pairs = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(packed), control);
            const __m512i codes = _mm512_and_si512(_mm512_srlv_epi16(pairs, amounts), _mm512_set1_epi16(7));
            _mm256_storeu_si256((__m256i *)(out + c), _mm512_cvtepi16_epi8(codes));
        }
        return;
    }
    // 2 bits: byte i holds codes 4i … 4i+3 at bits 0, 2, 4, 6.
    const __m128i mask = _mm_set1_epi8(0x03);
    for (int c = 0; c < dim; c += 64) {
        const __m128i packed = _mm_loadu_si128((const __m128i *)(row + c / 4));
        const __m128i x0 = _mm_and_si128(packed, mask);
        const __m128i x1 = _mm_and_si128(_mm_srli_epi16(packed, 2), mask);
        const __m128i x2 = _mm_and_si128(_mm_srli_epi16(packed, 4), mask);
        const __m128i x3 = _mm_and_si128(_mm_srli_epi16(packed, 6), mask);
        const __m128i low01 = _mm_unpacklo_epi8(x0, x1), high01 = _mm_unpackhi_epi8(x0, x1);
        const __m128i low23 = _mm_unpacklo_epi8(x2, x3), high23 = _mm_unpackhi_epi8(x2, x3);
        _mm_storeu_si128((__m128i *)(out + c), _mm_unpacklo_epi16(low01, low23));
        _mm_storeu_si128((__m128i *)(out + c + 16), _mm_unpackhi_epi16(low01, low23));
        _mm_storeu_si128((__m128i *)(out + c + 32), _mm_unpacklo_epi16(high01, high23));
        _mm_storeu_si128((__m128i *)(out + c + 48), _mm_unpackhi_epi16(high01, high23));
    }
}

static int spreadable(int dim, int bits) {
    if (dim > MAX_DIM) return 0;
    switch (bits) {
    case 8: return dim % 16 == 0;
    case 4: case 3: return dim % 32 == 0;
    case 2: return dim % 64 == 0;
    default: return 0;
    }
}

// Sixteen bytes of codes as sixteen floats.
TP_AVX512 static inline __m512 codes16(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)); }

// ---- Logits: two rows per register ----
// Lanes 0–7 hold row 2p's accumulator of the AVX2 kernel and lanes 8–15 row 2p+1's: the same FMA per lane
// (query·scale times code, channels eight at a time in order, from zero); each tile of eight rows is then
// reduced by hsum8x8 and given the query's zero-point bias as the AVX2 kernel does.
// One tile of eight rows (their codes as bytes) for `queries` queries, a constant after inlining, so the
// accumulators stay in registers.
TP_AVX512 static inline __attribute__((always_inline)) void logits_tile512(const float *qs, const float *bias,
                                                                            const int queries,
                                                                            const uint8_t *const bytes[8], int dim,
                                                                            float *out, long stride) {
    __m512 acc[MAX_QUERIES][4];
#pragma clang loop unroll(full)
    for (int g = 0; g < queries; g++) {
#pragma clang loop unroll(full)
        for (int p = 0; p < 4; p++) acc[g][p] = _mm512_setzero_ps();
    }
    for (int c = 0; c < dim; c += 8) {
        __m512 pairs[4];
#pragma clang loop unroll(full)
        for (int p = 0; p < 4; p++) {
            const __m128i low = _mm_loadl_epi64((const __m128i *)(bytes[2 * p] + c));
            const __m128i both =
                _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(low), (const double *)(bytes[2 * p + 1] + c)));
            pairs[p] = codes16(both);
        }
#pragma clang loop unroll(full)
        for (int g = 0; g < queries; g++) {
            const __m256 q8 = _mm256_loadu_ps(qs + (long)g * dim + c);
            const __m512 q = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(q8)));
#pragma clang loop unroll(full)
            for (int p = 0; p < 4; p++) acc[g][p] = _mm512_fmadd_ps(q, pairs[p], acc[g][p]);
        }
    }
#pragma clang loop unroll(full)
    for (int g = 0; g < queries; g++) {
        __m256 rows8[8];
        for (int p = 0; p < 4; p++) {
            rows8[2 * p] = _mm512_castps512_ps256(acc[g][p]);
            rows8[2 * p + 1] = high_half(acc[g][p]);
        }
        _mm256_storeu_ps(out + g * stride, _mm256_add_ps(hsum8x8(rows8), _mm256_set1_ps(bias[g])));
    }
}

// Runs CALL(n) with n = `queries` (1 … 4) as a constant.
#define TP_WITH_CONSTANT_QUERIES(CALL, queries) \
    switch (queries) { \
    case 1: CALL(1); break; \
    case 2: CALL(2); break; \
    case 3: CALL(3); break; \
    default: CALL(4); break; \
    }

TP_AVX512 static inline __attribute__((always_inline)) int packed_logits512(const float *qs, const float *bias,
                                                                             int count, const uint8_t *codes,
                                                                             int rows, int dim, int bits, float *out,
                                                                             long stride) {
    const long row_bytes = (long)dim * bits / 8;
    uint8_t spread[8][MAX_DIM];
    int j = 0;
    for (; j + 8 <= rows; j += 8) {
        // Each row's codes as bytes: 8-bit codes where they are, narrower ones spread.
        const uint8_t *bytes[8];
        for (int k = 0; k < 8; k++) {
            bytes[k] = codes + (j + k) * row_bytes;
            if (bits != 8) {
                spread_codes(bytes[k], dim, bits, spread[k]);
                bytes[k] = spread[k];
            }
        }
        for (int g0 = 0; g0 < count; g0 += MAX_QUERIES) {
            const int queries = count - g0 < MAX_QUERIES ? count - g0 : MAX_QUERIES;
#define TP_LOGITS_TILE(n) logits_tile512(qs + (long)g0 * dim, bias + g0, n, bytes, dim, out + g0 * stride + j, stride)
            TP_WITH_CONSTANT_QUERIES(TP_LOGITS_TILE, queries)
#undef TP_LOGITS_TILE
        }
    }
    return j;
}

TP_AVX512 int tp_packed_group_logits512(const float *qs, const float *bias, int count, const uint8_t *codes,
                                        int rows, int dim, int bits, float *out, long stride) {
    if (!spreadable(dim, bits)) return 0;
    switch (bits) {
    case 2: return packed_logits512(qs, bias, count, codes, rows, dim, 2, out, stride);
    case 3: return packed_logits512(qs, bias, count, codes, rows, dim, 3, out, stride);
    case 4: return packed_logits512(qs, bias, count, codes, rows, dim, 4, out, stride);
    default: return packed_logits512(qs, bias, count, codes, rows, dim, 8, out, stride);
    }
}

// ---- Value sums: sixteen channels per register, every query's sums in registers over all rows ----
// Channel c's sum takes w·scale times code with one FMA per row in row order from zero, and each value group's
// zero-point sum one fmaf per row, as packed_block_sums does; each group's zero-point sum is added to all its
// channels at the end, as tp_packed_group_weighted_sum does. Channels go 64 at a time; a value group must be a
// multiple of 16 channels, so both halves of a register share its scale.
// All rows of 16·registers channels at c0 for `queries` queries (both constants after inlining, so the sums and
// zero-point sums stay in registers); `zero_sums` gets the sums of the groups that start here.
TP_AVX512 static inline __attribute__((always_inline)) void spread_rows512(
    const float *w, long w_stride, const int queries, const uint8_t *codes, long row_bytes, int rows, int dim,
    int bits, const uint16_t *scales, const uint16_t *zeros, int groups, int group, int c0, const int registers,
    float *out, long out_stride, float zero_sums[MAX_QUERIES][MAX_DIM / 16]) {
    // Each register's value group, whether it starts the group, and whether it needs a new scale.
    int register_group[4], starts[4], new_scale[4];
    for (int i = 0; i < registers; i++) {
        register_group[i] = (c0 + 16 * i) / group;
        starts[i] = (c0 + 16 * i) % group == 0;
        new_scale[i] = i == 0 || register_group[i] != register_group[i - 1];
    }
    __m512 acc[MAX_QUERIES][4];
    float zeros_here[MAX_QUERIES][4];
#pragma clang loop unroll(full)
    for (int g = 0; g < queries; g++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < registers; i++) {
            acc[g][i] = _mm512_setzero_ps();
            zeros_here[g][i] = 0;
        }
    }
    uint8_t spread[MAX_DIM];
    for (int r = 0; r < rows; r++) {
        // 8-bit codes are read where they are.
        const uint8_t *bytes = codes + r * row_bytes;
        if (bits != 8) {
            spread_codes(bytes, dim, bits, spread);
            bytes = spread;
        }
        __m512 values[4];
#pragma clang loop unroll(full)
        for (int i = 0; i < registers; i++) {
            values[i] = codes16(_mm_loadu_si128((const __m128i *)(bytes + c0 + 16 * i)));
        }
        const uint16_t *row_scales = scales + (long)r * groups;
        const uint16_t *row_zeros = zeros + (long)r * groups;
#pragma clang loop unroll(full)
        for (int g = 0; g < queries; g++) {
            const float weight = w[g * w_stride + r];
            __m512 scaled = _mm512_setzero_ps();
#pragma clang loop unroll(full)
            for (int i = 0; i < registers; i++) {
                if (new_scale[i]) {
                    const int grp = register_group[i];
                    scaled = _mm512_set1_ps(weight * _cvtsh_ss(row_scales[grp]));
                    if (starts[i]) zeros_here[g][i] = fmaf(weight, _cvtsh_ss(row_zeros[grp]), zeros_here[g][i]);
                }
                acc[g][i] = _mm512_fmadd_ps(scaled, values[i], acc[g][i]);
            }
        }
    }
    for (int g = 0; g < queries; g++) {
        for (int i = 0; i < registers; i++) {
            _mm512_storeu_ps(out + g * out_stride + c0 + 16 * i, acc[g][i]);
            if (starts[i]) zero_sums[g][register_group[i]] = zeros_here[g][i];
        }
    }
}

TP_AVX512 static inline __attribute__((always_inline)) void packed_sums512(
    const float *w, long w_stride, int count, const uint8_t *codes, const uint16_t *scales, const uint16_t *zeros,
    int rows, int dim, int bits, int group, int c_begin, int c_end, float *out, long out_stride) {
    const long row_bytes = (long)dim * bits / 8;
    const int groups = dim / group;
    for (int g0 = 0; g0 < count; g0 += MAX_QUERIES) {
        const int queries = count - g0 < MAX_QUERIES ? count - g0 : MAX_QUERIES;
        const float *wq = w + g0 * w_stride;
        float *oq = out + g0 * out_stride;
        // Each value group's zero-point sum, taken in the run of 64 channels where the group starts.
        float zero_sums[MAX_QUERIES][MAX_DIM / 16];
        for (int c0 = c_begin; c0 < c_end; c0 += 64) {
            const int registers = (c_end - c0 < 64 ? c_end - c0 : 64) / 16;
#define TP_SPREAD_ROWS(q, n) \
    spread_rows512(wq, w_stride, q, codes, row_bytes, rows, dim, bits, scales, zeros, groups, group, c0, n, oq, \
                   out_stride, zero_sums)
#define TP_SPREAD_ROWS_Q(q) \
    switch (registers) { \
    case 4: TP_SPREAD_ROWS(q, 4); break; \
    case 3: TP_SPREAD_ROWS(q, 3); break; \
    case 2: TP_SPREAD_ROWS(q, 2); break; \
    default: TP_SPREAD_ROWS(q, 1); break; \
    }
            TP_WITH_CONSTANT_QUERIES(TP_SPREAD_ROWS_Q, queries)
#undef TP_SPREAD_ROWS_Q
#undef TP_SPREAD_ROWS
        }
        for (int g = 0; g < queries; g++) {
            for (int c = c_begin; c < c_end; c++) oq[g * out_stride + c] += zero_sums[g][c / group];
        }
    }
}

enum { ROW_BATCH = 64 };

// Rows [r0, r0 + n) of 32·halves channels at c0 for `queries` queries (halves and queries constants after
// inlining, so the sums stay in registers): acc[g][h] holds query g's [even, odd] channel sums of half h.
TP_AVX512 static inline __attribute__((always_inline)) void nibble_rows512(
    const float *w, long w_stride, const int queries, const uint8_t *codes, long row_bytes, int r0, int n, int c0,
    const int halves, const int starts[2], const int scale_half[2], const float zero_of[2][ROW_BATCH],
    const float scaled[MAX_QUERIES][2][ROW_BATCH], __m512 acc[MAX_QUERIES][2][2], float zeros_here[MAX_QUERIES][2]) {
    const __m512 levels = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512 sums[MAX_QUERIES][2][2];
    float zero_sums[MAX_QUERIES][2];
#pragma clang loop unroll(full)
    for (int g = 0; g < queries; g++) {
#pragma clang loop unroll(full)
        for (int h = 0; h < halves; h++) {
            sums[g][h][0] = acc[g][h][0];
            sums[g][h][1] = acc[g][h][1];
            zero_sums[g][h] = zeros_here[g][h];
        }
    }
    for (int i = 0; i < n; i++) {
        const uint8_t *row = codes + (long)(r0 + i) * row_bytes + c0 / 2;
        __m512 even[2], odd[2];
#pragma clang loop unroll(full)
        for (int h = 0; h < halves; h++) {
            const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(row + 16 * h)));
            even[h] = _mm512_permutexvar_ps(bytes, levels);
            odd[h] = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), levels);
        }
#pragma clang loop unroll(full)
        for (int g = 0; g < queries; g++) {
            const float weight = w[g * w_stride + r0 + i];
#pragma clang loop unroll(full)
            for (int h = 0; h < halves; h++) {
                if (starts[h]) zero_sums[g][h] = fmaf(weight, zero_of[h][i], zero_sums[g][h]);
                const __m512 s = _mm512_set1_ps(scaled[g][scale_half[h]][i]);
                sums[g][h][0] = _mm512_fmadd_ps(s, even[h], sums[g][h][0]);
                sums[g][h][1] = _mm512_fmadd_ps(s, odd[h], sums[g][h][1]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int g = 0; g < queries; g++) {
#pragma clang loop unroll(full)
        for (int h = 0; h < halves; h++) {
            acc[g][h][0] = sums[g][h][0];
            acc[g][h][1] = sums[g][h][1];
            zeros_here[g][h] = zero_sums[g][h];
        }
    }
}

// 4-bit rows in value groups of a multiple of 32 channels: sixteen bytes (32 codes) widen to sixteen lanes, whose
// low nibbles are the even channels and high nibbles the odd ones, each turned to floats by one vpermps from a
// table of 0 … 15 — so channel sums are kept in [even | odd] registers per 32 channels and interleaved at the end.
// Each row's weight × scale (a float product, as the AVX2 kernel's) is taken for 64 rows at a time with vector
// multiplies; the arithmetic of every channel and zero-point sum is packed_sums512's.
TP_AVX512 static void packed_nibble_sums512(const float *w, long w_stride, int count, const uint8_t *codes,
                                            const uint16_t *scales, const uint16_t *zeros, int rows, int dim,
                                            int group, int c_begin, int c_end, float *out, long out_stride) {
    const long row_bytes = dim / 2;
    const int groups = dim / group;
    for (int g0 = 0; g0 < count; g0 += MAX_QUERIES) {
        const int queries = count - g0 < MAX_QUERIES ? count - g0 : MAX_QUERIES;
        const float *wq = w + g0 * w_stride;
        float zero_sums[MAX_QUERIES][MAX_DIM / 32];
        for (int c0 = c_begin; c0 < c_end; c0 += 64) {
            const int halves = (c_end - c0 < 64 ? c_end - c0 : 64) / 32;
            // Each half's value group, whether it starts the group, and whether its scale differs from the half
            // before (group 32) or is that half's (group 64 and wider: scales and products taken once).
            int half_group[2], starts[2] = {0, 0}, new_scale[2] = {1, 1}, scale_half[2] = {0, 1};
            for (int h = 0; h < halves; h++) {
                half_group[h] = (c0 + 32 * h) / group;
                starts[h] = (c0 + 32 * h) % group == 0;
                new_scale[h] = h == 0 || half_group[h] != half_group[h - 1];
                scale_half[h] = new_scale[h] ? h : h - 1;
            }
            __m512 acc[MAX_QUERIES][2][2];
            float zeros_here[MAX_QUERIES][2];
            for (int g = 0; g < MAX_QUERIES; g++) {
                for (int h = 0; h < 2; h++) {
                    acc[g][h][0] = _mm512_setzero_ps();
                    acc[g][h][1] = _mm512_setzero_ps();
                    zeros_here[g][h] = 0;
                }
            }
            for (int r0 = 0; r0 < rows; r0 += ROW_BATCH) {
                const int n = rows - r0 < ROW_BATCH ? rows - r0 : ROW_BATCH;
                float scale_of[2][ROW_BATCH], zero_of[2][ROW_BATCH], scaled[MAX_QUERIES][2][ROW_BATCH];
                for (int h = 0; h < halves; h++) {
                    if (!new_scale[h]) continue;  // the second half of a group takes the first half's products
                    for (int i = 0; i < n; i++) {
                        scale_of[h][i] = _cvtsh_ss(scales[(long)(r0 + i) * groups + half_group[h]]);
                    }
                    if (starts[h]) {
                        for (int i = 0; i < n; i++) {
                            zero_of[h][i] = _cvtsh_ss(zeros[(long)(r0 + i) * groups + half_group[h]]);
                        }
                    }
                    for (int g = 0; g < queries; g++) {
                        const float *wg = wq + g * w_stride + r0;
                        int i = 0;
                        for (; i + 16 <= n; i += 16) {
                            const __m512 weights = _mm512_loadu_ps(wg + i);
                            const __m512 row_scales = _mm512_loadu_ps(scale_of[h] + i);
                            _mm512_storeu_ps(scaled[g][h] + i, _mm512_mul_ps(weights, row_scales));
                        }
                        for (; i < n; i++) scaled[g][h][i] = wg[i] * scale_of[h][i];
                    }
                }
#define TP_NIBBLE_ROWS(q, h) \
    nibble_rows512(wq, w_stride, q, codes, row_bytes, r0, n, c0, h, starts, scale_half, zero_of, scaled, acc, \
                   zeros_here)
#define TP_NIBBLE_ROWS_Q(q) \
    if (halves == 2) { \
        TP_NIBBLE_ROWS(q, 2); \
    } else { \
        TP_NIBBLE_ROWS(q, 1); \
    }
                TP_WITH_CONSTANT_QUERIES(TP_NIBBLE_ROWS_Q, queries)
#undef TP_NIBBLE_ROWS_Q
#undef TP_NIBBLE_ROWS
            }
            for (int g = 0; g < queries; g++) {
                for (int h = 0; h < halves; h++) {
                    float lanes[2][16];
                    _mm512_storeu_ps(lanes[0], acc[g][h][0]);
                    _mm512_storeu_ps(lanes[1], acc[g][h][1]);
                    float *o = out + (g0 + g) * out_stride + c0 + 32 * h;
                    for (int b = 0; b < 16; b++) {
                        o[2 * b] = lanes[0][b];
                        o[2 * b + 1] = lanes[1][b];
                    }
                    if (starts[h]) zero_sums[g][half_group[h]] = zeros_here[g][h];
                }
            }
        }
        for (int g = 0; g < queries; g++) {
            float *o = out + (g0 + g) * out_stride;
            for (int c = c_begin; c < c_end; c++) o[c] += zero_sums[g][c / group];
        }
    }
}

TP_AVX512 int tp_packed_group_weighted_sum512(const float *w, long w_stride, int count, const uint8_t *codes,
                                              const uint16_t *scales, const uint16_t *zeros, int rows, int dim,
                                              int bits, int group, int c_begin, int c_end, float *out,
                                              long out_stride) {
    if (dim <= MAX_DIM && bits == 4 && group % 32 == 0 && c_begin % 32 == 0 && c_end % 32 == 0) {
        packed_nibble_sums512(w, w_stride, count, codes, scales, zeros, rows, dim, group, c_begin, c_end, out,
                              out_stride);
        return 1;
    }
    if (!spreadable(dim, bits) || group % 16 != 0 || c_begin % 16 != 0 || c_end % 16 != 0) return 0;
    switch (bits) {
    case 2:
        packed_sums512(w, w_stride, count, codes, scales, zeros, rows, dim, 2, group, c_begin, c_end, out, out_stride);
        break;
    case 3:
        packed_sums512(w, w_stride, count, codes, scales, zeros, rows, dim, 3, group, c_begin, c_end, out, out_stride);
        break;
    case 4:
        packed_sums512(w, w_stride, count, codes, scales, zeros, rows, dim, 4, group, c_begin, c_end, out, out_stride);
        break;
    default:
        packed_sums512(w, w_stride, count, codes, scales, zeros, rows, dim, 8, group, c_begin, c_end, out, out_stride);
        break;
    }
    return 1;
}

#else  // not x86: never called.

int tp_packed_group_logits512(const float *qs, const float *bias, int count, const uint8_t *codes, int rows,
                              int dim, int bits, float *out, long stride) {
    return 0;
}
int tp_packed_group_weighted_sum512(const float *w, long w_stride, int count, const uint8_t *codes,
                                    const uint16_t *scales, const uint16_t *zeros, int rows, int dim, int bits,
                                    int group, int c_begin, int c_end, float *out, long out_stride) {
    return 0;
}

#endif
