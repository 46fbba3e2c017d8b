// Decoding llama.cpp's block formats in registers, and the small reductions the kernels share: included by the
// kernel files of this target (not part of its public header). Every function here is static inline, so each file
// gets its own copy compiled for the target it is inlined into.
#ifndef TP_BLOCK_DECODING_H
#define TP_BLOCK_DECODING_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TP_X86 1
#define TP_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TP_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#else
#define TP_X86 0
#endif

#if TP_X86

// (t0 + t2) + (t1 + t3) with t = high half + low half: the order of llama.cpp's hsum_float_8.
TP_AVX2 static inline float hsum8(__m256 x) {
    __m128 t = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

// GGML_F32x8_REDUCE of four accumulators: x0+x2, x1+x3, their sum; halves; two horizontal adds.
TP_AVX2 static inline float reduce4x8(__m256 x0, __m256 x1, __m256 x2, __m256 x3) {
    __m256 x = _mm256_add_ps(_mm256_add_ps(x0, x2), _mm256_add_ps(x1, x3));
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    t = _mm_hadd_ps(t, t);
    t = _mm_hadd_ps(t, t);
    return _mm_cvtss_f32(t);
}

// Eight codes of `bits` bits (2, 3, 4 or 8), packed little-endian into `bits` bytes, as eight floats. Always
// inlined into a body specialized for one width, so the load is a fixed-size one (not a call to memcpy).
TP_AVX2 static inline __attribute__((always_inline)) __m256 unpack8(const uint8_t *p, int bits) {
    if (bits == 8) return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
    uint32_t word = 0;
    memcpy(&word, p, (size_t)bits);
    const __m256i shifts = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(bits));
    const __m256i codes = _mm256_srlv_epi32(_mm256_set1_epi32((int)word), shifts);
    return _mm256_cvtepi32_ps(_mm256_and_si256(codes, _mm256_set1_epi32((1 << bits) - 1)));
}

// Value sums over f16 rows in ggml_vec_dot_f16's order: row j times its weight rounded to f16 (as llama.cpp converts
// it) goes to accumulator j mod 32 of each channel, in row order. Walked row by row, every FMA loaded and stored its
// accumulator and the stores bound the kernel (about twice its FMA time), so rows go in tiles of 128: each
// accumulator takes its four rows of a tile with its sums in registers, and is loaded and stored once a tile. Each
// accumulator still adds its rows in row order: the same bits.
enum { TP_F16_TILE_ROWS = 128 };

// The weights of a tile's rows rounded to f16 and back.
TP_AVX2 static inline void f16_tile_weights(const float *w, float rounded[TP_F16_TILE_ROWS]) {
    for (int i = 0; i < TP_F16_TILE_ROWS; i += 8) {
        _mm256_storeu_ps(rounded + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(w + i), 0)));
    }
}

// One tile (TP_F16_TILE_ROWS rows `dim` apart from `tile`, channels [0, width), width a multiple of 8) into the 32
// accumulators [32, width] at `lanes`. Eight registers of sums at a time (one accumulator's 64 channels, or two
// accumulators' 32), so eight chains of FMAs run side by side.
TP_AVX2 static inline void f16_tile_to_32_accumulators(const float rounded[TP_F16_TILE_ROWS], const uint16_t *tile,
                                                       long dim, int width, float *lanes) {
    enum { K = TP_F16_TILE_ROWS / 32 };
    if (width % 64 == 0) {
        for (int a = 0; a < 32; a++) {
            for (int c = 0; c < width; c += 64) {
                float *acc = lanes + (long)a * width + c;
                __m256 r[8];
                for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(acc + 8 * i);
                for (int k = 0; k < K; k++) {
                    const __m256 wj = _mm256_set1_ps(rounded[a + 32 * k]);
                    const __m128i *row = (const __m128i *)(tile + (long)(a + 32 * k) * dim + c);
                    for (int i = 0; i < 8; i++) {
                        r[i] = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(row + i)), r[i]);
                    }
                }
                for (int i = 0; i < 8; i++) _mm256_storeu_ps(acc + 8 * i, r[i]);
            }
        }
        return;
    }
    if (width % 32 == 0) {
        for (int a = 0; a < 32; a += 2) {
            for (int c = 0; c < width; c += 32) {
                __m256 r[2][4];
                for (int n = 0; n < 2; n++) {
                    for (int i = 0; i < 4; i++) r[n][i] = _mm256_loadu_ps(lanes + (long)(a + n) * width + c + 8 * i);
                }
                for (int k = 0; k < K; k++) {
                    for (int n = 0; n < 2; n++) {
                        const int j = a + n + 32 * k;
                        const __m256 wj = _mm256_set1_ps(rounded[j]);
                        const __m128i *row = (const __m128i *)(tile + (long)j * dim + c);
                        for (int i = 0; i < 4; i++) {
                            r[n][i] = _mm256_fmadd_ps(wj, _mm256_cvtph_ps(_mm_loadu_si128(row + i)), r[n][i]);
                        }
                    }
                }
                for (int n = 0; n < 2; n++) {
                    for (int i = 0; i < 4; i++) _mm256_storeu_ps(lanes + (long)(a + n) * width + c + 8 * i, r[n][i]);
                }
            }
        }
        return;
    }
    for (int a = 0; a < 32; a++) {
        for (int c = 0; c < width; c += 8) {
            __m256 r = _mm256_loadu_ps(lanes + (long)a * width + c);
            for (int k = 0; k < K; k++) {
                const int j = a + 32 * k;
                const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + (long)j * dim + c)));
                r = _mm256_fmadd_ps(_mm256_set1_ps(rounded[j]), v, r);
            }
            _mm256_storeu_ps(lanes + (long)a * width + c, r);
        }
    }
}

// Row j (of `dim`-apart rows at `row`, channels [0, width)) into accumulator j mod 32 alone: the rows after the
// last whole tile.
TP_AVX2 static inline void f16_row_to_accumulator(float weight, const uint16_t *row, int j, int width,
                                                  float *lanes) {
    const __m256 wj = _mm256_set1_ps(_cvtsh_ss(_cvtss_sh(weight, 0)));
    float *acc = lanes + (long)(j % 32) * width;
    for (int i = 0; i < width; i += 8) {
        const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + i)));
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wj, v, _mm256_loadu_ps(acc + i)));
    }
}

// Rows [0, rows) (channels [c_begin, c_begin + width) of rows `dim` apart) into the 32 accumulators [32, width] of
// each of `count` queries (query g's weights at w + g·w_stride, its accumulators at lanes + g·32·width, zeroed by the
// caller): tile by tile, each tile for every query while it is in L1, then the rows after the last whole tile.
TP_AVX2 static inline void f16_rows_to_32_accumulators(const float *w, long w_stride, int count,
                                                       const uint16_t *values, int rows, long dim, int c_begin,
                                                       int width, float *lanes) {
    const int tiled = rows / TP_F16_TILE_ROWS * TP_F16_TILE_ROWS;
    float rounded[TP_F16_TILE_ROWS];
    for (int t0 = 0; t0 < tiled; t0 += TP_F16_TILE_ROWS) {
        const uint16_t *tile = values + (long)t0 * dim + c_begin;
        for (int g = 0; g < count; g++) {
            f16_tile_weights(w + g * w_stride + t0, rounded);
            f16_tile_to_32_accumulators(rounded, tile, dim, width, lanes + (long)g * 32 * width);
        }
    }
    for (int j = tiled; j < rows; j++) {
        for (int g = 0; g < count; g++) {
            f16_row_to_accumulator(w[g * w_stride + j], values + (long)j * dim + c_begin, j, width,
                                   lanes + (long)g * 32 * width);
        }
    }
}

// Eight channels' 32 row accumulators (accumulator a of the first channel at base + a·stride) reduced as
// GGML_F32x8_REDUCE reduces ggml_vec_dot_f16's 4×8 lanes: (a, a+16) and (a+8, a+24), then l and l+4, then pairs.
TP_AVX2 static inline __m256 reduce32_accumulators(const float *base, long stride) {
    __m256 x[8];
    for (int l = 0; l < 8; l++) {
        const float *first = base + l * stride;
        const __m256 a = _mm256_add_ps(_mm256_loadu_ps(first), _mm256_loadu_ps(first + 16 * stride));
        const __m256 b = _mm256_add_ps(_mm256_loadu_ps(first + 8 * stride), _mm256_loadu_ps(first + 24 * stride));
        x[l] = _mm256_add_ps(a, b);
    }
    __m256 t[4];
    for (int l = 0; l < 4; l++) t[l] = _mm256_add_ps(x[l], x[l + 4]);
    return _mm256_add_ps(_mm256_add_ps(t[0], t[1]), _mm256_add_ps(t[2], t[3]));
}

// The lanes (of eight channels, in a block of 64) at which a value group of `group` channels can start: every
// multiple of the returned step (gcd(group / 8, 8)). Kernels unrolled for a fixed step keep one zero-point sum per
// such lane in a register, and test for a new group only there.
static inline int value_group_lane_step(int group) {
    const int lanes = group / 8;
    return lanes % 8 == 0 ? 8 : lanes % 4 == 0 ? 4 : lanes % 2 == 0 ? 2 : 1;
}

// Runs CALL(b, s) with b = bits (2, 3, 4, else 8) and s = value_group_lane_step(group), both as constants, so a
// kernel inlined into CALL is compiled once per pair.
#define TP_WITH_CONSTANT_STEP(CALL, b, step) \
    switch (step) { \
    case 8: CALL(b, 8); break; \
    case 4: CALL(b, 4); break; \
    case 2: CALL(b, 2); break; \
    default: CALL(b, 1); break; \
    }
#define TP_WITH_CONSTANT_BITS_AND_STEP(CALL, bits, group) \
    do { \
        const int tp_step_ = value_group_lane_step(group); \
        switch (bits) { \
        case 2: TP_WITH_CONSTANT_STEP(CALL, 2, tp_step_); break; \
        case 3: TP_WITH_CONSTANT_STEP(CALL, 3, tp_step_); break; \
        case 4: TP_WITH_CONSTANT_STEP(CALL, 4, tp_step_); break; \
        default: TP_WITH_CONSTANT_STEP(CALL, 8, tp_step_); break; \
        } \
    } while (0)

// One query's value sums over n rows of a block of `lanes` × 8 channels of KIVI codes (one row: one token):
// sums[8k …] += w[r]·scale[r][g]·code[r][c] with one FMA per row and channel, in row order, and each value group
// starting in the block adds w[r]·zero[r][g] to zero_sums[g], once per row. Rows come from `decoded` (floats, 64
// per row) when it is not NULL, else unpacked from `codes` (row r at r·row_bytes). The sums and the zero-point sums
// stay in registers over the rows — a zero-point sum named by the lane its group starts at, a multiple of `step`
// (value_group_lane_step) — when `lanes` and `step` are constants: through memory, the zero points' chain of
// dependent FMAs took a third of the kernels' time.
// (Unrolling fails, and is not needed, where `lanes` is not a constant: a head dimension not a multiple of 64.)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpass-failed"
TP_AVX2 static inline __attribute__((always_inline)) void packed_block_sums(
    const float *w, int n, const uint8_t *codes, long row_bytes, const float *decoded, int bits,
    const uint16_t *scales, const uint16_t *zeros, int groups, const int *lane_group, const int *lane_starts,
    int lanes, int step, float *sums, float *zero_sums) {
    __m256 acc[8];
    float zero_lanes[8];
    for (int k = 0; k < lanes; k++) {
        acc[k] = _mm256_loadu_ps(sums + 8 * k);
        zero_lanes[k] = lane_starts[k] ? zero_sums[lane_group[k]] : 0;
    }
    for (int r = 0; r < n; r++) {
        __m256 av = _mm256_setzero_ps();
        // Fixed bounds with an early exit, unrolled: acc[k] and zero_lanes[k] are then registers.
#pragma clang loop unroll(full)
        for (int k = 0; k < 8; k++) {
            if (k >= lanes) break;
            if (k % step == 0 && (k == 0 || lane_group[k] != lane_group[k - 1])) {
                const int g = lane_group[k];
                av = _mm256_set1_ps(w[r] * _cvtsh_ss(scales[(long)r * groups + g]));
                if (lane_starts[k]) zero_lanes[k] = fmaf(w[r], _cvtsh_ss(zeros[(long)r * groups + g]), zero_lanes[k]);
            }
            const __m256 value = decoded ? _mm256_loadu_ps(decoded + r * 64 + 8 * k)
                                         : unpack8(codes + r * row_bytes + k * bits, bits);
            acc[k] = _mm256_fmadd_ps(av, value, acc[k]);
        }
    }
    for (int k = 0; k < lanes; k++) {
        _mm256_storeu_ps(sums + 8 * k, acc[k]);
        if (lane_starts[k]) zero_sums[lane_group[k]] = zero_lanes[k];
    }
}
#pragma clang diagnostic pop

TP_AVX2 static inline float half_to_float(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// 32 4-bit values: low nibbles (elements 0-15) in the low 128 bits, high nibbles (16-31) in the high 128.
TP_AVX2 static inline __m256i nibbles(const uint8_t *p) {
    __m128i packed = _mm_loadu_si128((const __m128i *)p);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Bit i of qh, for each of 32 bytes, as 0x10 or 0.
TP_AVX2 static inline __m256i fifth_bits(const uint8_t *p) {
    uint32_t qh;
    memcpy(&qh, p, 4);
    const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuffle);
    const __m256i bit = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    bytes = _mm256_or_si256(bytes, bit);
    bytes = _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));  // 0xFF where the bit is set
    return _mm256_and_si256(bytes, _mm256_set1_epi8(0x10));
}

// Lane sums of products in groups of 4 neighbouring bytes, as floats: unsigned x times signed y.
TP_AVX2 static inline __m256 lanes_unsigned(__m256i x, __m256i y) {
    __m256i pairs = _mm256_maddubs_epi16(x, y);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// The same for signed x: |x| times y with x's sign.
TP_AVX2 static inline __m256 lanes_signed(__m256i x, __m256i y) {
    return lanes_unsigned(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

// Weight block b of a row, decoded to 32 bytes (signed for Q4_0, Q5_0, Q8_0), with its scale and minimum.
TP_AVX2 static inline __attribute__((always_inline)) __m256i block_bytes(int type_id, const uint8_t *row, int b,
                                                                          float *scale, float *minimum) {
    const uint8_t *p;
    switch (type_id) {
    case 2: p = row + 18 * b; *scale = half_to_float(p); return _mm256_sub_epi8(nibbles(p + 2), _mm256_set1_epi8(8));
    case 3: p = row + 20 * b; *scale = half_to_float(p); *minimum = half_to_float(p + 2); return nibbles(p + 4);
    case 6: p = row + 22 * b; *scale = half_to_float(p);
        return _mm256_sub_epi8(_mm256_or_si256(nibbles(p + 6), fifth_bits(p + 2)), _mm256_set1_epi8(16));
    case 7: p = row + 24 * b; *scale = half_to_float(p); *minimum = half_to_float(p + 2);
        return _mm256_or_si256(nibbles(p + 8), fifth_bits(p + 4));
    default: p = row + 34 * b; *scale = half_to_float(p); return _mm256_loadu_si256((const __m256i *)(p + 2));
    }
}

// Bytes per block of each Q8-dot format.
static inline int block_stride(int type_id) {
    switch (type_id) {
    case 2: return 18;
    case 3: return 20;
    case 6: return 22;
    case 7: return 24;
    default: return 34;
    }
}

static inline int is_signed(int type_id) { return type_id == 2 || type_id == 6 || type_id == 8; }

static inline int has_minimum(int type_id) { return type_id == 3 || type_id == 7; }

// hsum8 of eight accumulators at once, with hsum8's additions in hsum8's order, so lane k equals hsum8(x[k]):
// t = high half + low half, u = (t0 + t2, t1 + t3), then u0 + u1 — done for eight rows by shuffles.
TP_AVX2 static inline __m256 hsum8x8(const __m256 x[8]) {
    __m256 t[4];
    for (int k = 0; k < 4; k++) {
        const __m256 a = x[2 * k], b = x[2 * k + 1];
        t[k] = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    }
    // [x0 u0 u1, x2 u0 u1 | x1 u0 u1, x3 u0 u1] and the same for x4..x7.
    const __m256 u0 = _mm256_add_ps(_mm256_shuffle_ps(t[0], t[1], 0x44), _mm256_shuffle_ps(t[0], t[1], 0xEE));
    const __m256 u1 = _mm256_add_ps(_mm256_shuffle_ps(t[2], t[3], 0x44), _mm256_shuffle_ps(t[2], t[3], 0xEE));
    // [x0, x2, x4, x6 | x1, x3, x5, x7], then in row order.
    const __m256 s = _mm256_add_ps(_mm256_shuffle_ps(u0, u1, 0x88), _mm256_shuffle_ps(u0, u1, 0xDD));
    return _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// The end of reduce4x8 for eight rows at once, with its additions in its order, so lane k equals
// reduce4x8 of row k (x[k] already (x0 + x2) + (x1 + x3)): t = low half + high half, then (t0 + t1) + (t2 + t3).
TP_AVX2 static inline __m256 reduce4x8_end8(const __m256 x[8]) {
    __m256 t[4];
    for (int k = 0; k < 4; k++) {
        const __m256 a = x[2 * k], b = x[2 * k + 1];
        t[k] = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    }
    // [row 0: t0+t1, t2+t3, row 2: …, … | row 1: …, row 3: …], and the same for rows 4 to 7.
    const __m256 u0 = _mm256_hadd_ps(t[0], t[1]);
    const __m256 u1 = _mm256_hadd_ps(t[2], t[3]);
    // [rows 0, 2, 4, 6 | rows 1, 3, 5, 7], then in row order.
    const __m256 s = _mm256_hadd_ps(u0, u1);
    return _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

TP_AVX512 static inline __m512i twice(__m256i x) { return _mm512_inserti64x4(_mm512_castsi256_si512(x), x, 1); }

TP_AVX512 static inline __m512 pair_ps(float low, float high) {
    const __m512d low8 = _mm512_castps_pd(_mm512_set1_ps(low));
    return _mm512_castpd_ps(_mm512_insertf64x4(low8, _mm256_castps_pd(_mm256_set1_ps(high)), 1));
}

TP_AVX512 static inline __m256 high_half(__m512 x) {
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
}

// Weight block b as unsigned codes (what block_bytes gives, plus the format's offset for the signed formats: Q4_0
// and Q5_0 store codes 0–15 and 0–31 around 8 and 16; Q8_0 values move up by 128), so that vpdpbusd needs no sign
// trick: Σ x·y = Σ (x + offset)·y − offset·Σ y, every term an exact integer.
TP_AVX512 static inline __attribute__((always_inline)) __m256i block_codes(int type_id, const uint8_t *row, int b,
                                                                            float *scale, float *minimum) {
    const uint8_t *p;
    switch (type_id) {
    case 2: p = row + 18 * b; *scale = half_to_float(p); return nibbles(p + 2);
    case 6: p = row + 22 * b; *scale = half_to_float(p); return _mm256_or_si256(nibbles(p + 6), fifth_bits(p + 2));
    case 8: p = row + 34 * b; *scale = half_to_float(p);
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 2)), _mm256_set1_epi8((char)0x80));
    default: return block_bytes(type_id, row, b, scale, minimum);
    }
}

static inline int code_offset(int type_id) { return type_id == 2 ? 8 : type_id == 6 ? 16 : type_id == 8 ? 128 : 0; }


// The logits of a tile of eight key rows for each of `queries` (≤ 4) query heads: each row's eight lane sums
// reduced by hsum8x8, plus the row's minimums' sum, the first `n` rows stored at out + g·stride. Formats without
// minimums add a zero register instead of loading the array: the array's eight scalar stores cannot forward to one
// vector load (q8_0 logits 31 → 23 µs per 4,096-row head with this and the one-store tile; x + 0 is unchanged).
TP_AVX2 static inline __attribute__((always_inline)) void store_row_tile(int type_id, int queries,
                                                                          __m256 stage[4][8], float minimums[4][8],
                                                                          int n, float *out, long stride) {
    for (int g = 0; g < queries; g++) {
        const __m256 minimum = has_minimum(type_id) ? _mm256_loadu_ps(minimums[g]) : _mm256_setzero_ps();
        const __m256 logits = _mm256_add_ps(hsum8x8(stage[g]), minimum);
        if (n == 8) {  // a whole tile: one store (the copy loop below compiles to a call to memcpy)
            _mm256_storeu_ps(out + g * stride, logits);
            continue;
        }
        float result[8];
        _mm256_storeu_ps(result, logits);
        for (int k = 0; k < n; k++) out[g * stride + k] = result[k];
    }
}

#endif  // TP_X86
#endif  // TP_BLOCK_DECODING_H
