// The nearest row of a column-stored matrix for each of many vectors (EMS's merge: every evicted key's most similar
// kept key). See include/CKernels.h. Called only after tp_has_avx2().
#include "CKernels.h"

#include "BlockDecoding.h"

#if TP_X86

// The first row whose lane in `sums` (rows r … r + 15) beats *best_value, in row order, as a scalar scan would find
// it: a lane replaces the best only when strictly greater (so a tie keeps the earlier row, and NaN never wins).
static inline void take_better(const float sums[16], int r, int lanes, float *best_value, int64_t *best) {
    for (int lane = 0; lane < lanes; lane++) {
        if (sums[lane] > *best_value) {
            *best_value = sums[lane];
            *best = r + lane;
        }
    }
}

// The dots of one vector with the 16 rows of `block` ([dim, 16]: element i of row l at block[16·i + l]), summed as
// VectorMath.dotsByColumns sums them: lane l of the dimension (l < 16) accumulates its products from zero, product
// then add; the sixteen lane sums are added in lane order; the dimensions past the last whole 16 one by one.
TP_AVX2 static inline void dots16(const float *v, const float *block, int dim, __m256 *low, __m256 *high) {
    const int full = dim / 16 * 16;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (int lane = 0; lane < 16 && lane < full; lane++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        for (int i = lane; i < full; i += 16) {
            const __m256 x = _mm256_broadcast_ss(v + i);
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(block + 16 * i), x));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(block + 16 * i + 8), x));
        }
        if (lane == 0) {
            s0 = a0;
            s1 = a1;
        } else {
            s0 = _mm256_add_ps(s0, a0);
            s1 = _mm256_add_ps(s1, a1);
        }
    }
    for (int i = full; i < dim; i++) {
        const __m256 x = _mm256_broadcast_ss(v + i);
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(block + 16 * i), x));
        s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(block + 16 * i + 8), x));
    }
    *low = s0;
    *high = s1;
}

TP_AVX2 void tp_argmax_dots_by_columns(const float *vectors, int count, const float *columns, long stride, int rows,
                                       int dim, float *block, float *best_values, int64_t *best) {
    for (int v = 0; v < count; v++) {
        best_values[v] = -__builtin_inff();
        best[v] = 0;
    }
    // A block's 16 rows are copied next to each other first: in place, its dimensions lie `stride` floats apart,
    // often a multiple of 4 KiB, and as many lines on one cache set do not stay in L1.
    // A tile of vectors over one block of rows at a time: the block (16 rows × dim) stays in L1.
    const int tile = 64;
    for (int first = 0; first < count; first += tile) {
        const int last = first + tile < count ? first + tile : count;
        for (int r = 0; r < rows; r += 16) {
            const int lanes = rows - r < 16 ? rows - r : 16;
            for (int i = 0; i < dim; i++) {
                _mm256_storeu_ps(block + 16 * i, _mm256_loadu_ps(columns + (long)i * stride + r));
                _mm256_storeu_ps(block + 16 * i + 8, _mm256_loadu_ps(columns + (long)i * stride + r + 8));
            }
            for (int v = first; v < last; v++) {
                __m256 low, high;
                dots16(vectors + (long)v * dim, block, dim, &low, &high);
                const __m256 bar = _mm256_set1_ps(best_values[v]);
                const int beats = _mm256_movemask_ps(_mm256_cmp_ps(low, bar, _CMP_GT_OQ))
                    | _mm256_movemask_ps(_mm256_cmp_ps(high, bar, _CMP_GT_OQ)) << 8;
                if ((beats & ((1 << lanes) - 1)) == 0) continue;
                float sums[16];
                _mm256_storeu_ps(sums, low);
                _mm256_storeu_ps(sums + 8, high);
                take_better(sums, r, lanes, best_values + v, best + v);
            }
        }
    }
}

#else  // not x86: never called (tp_has_avx2() is 0); defined so the symbol exists.

void tp_argmax_dots_by_columns(const float *vectors, int count, const float *columns, long stride, int rows,
                               int dim, float *block, float *best_values, int64_t *best) {}

#endif
