// Times KIVI's attention kernels of Sources/CKernels on one thread, outside the engine: over 4,096 rows of one KV
// head (64 values: SmolLM2-135M's shape), the grouped logits and value sums of decode (3 query heads) and the
// one-query kernels of prefill. Not part of the build or of CI; run by hand:
//
//   S=Sources/CKernels && clang -O3 -I$S/include -I$S scripts/kivi_kernel_timing.c $S/CKernels.c \
//       $S/GroupedAttention512.c $S/GroupedRowsAttention.c $S/PackedAttention512.c -lm -lpthread \
//       -o /tmp/kivi_timing && /tmp/kivi_timing 4 32 32
//
// Arguments: bits, key group (rows sharing a key scale), value group (channels sharing a value scale).
// TOKENPRESS_NO_AVX512=1 times the AVX2 kernels. The last number printed sums outputs, so two builds can be compared
// for the same results. The rows fit in L2: this measures arithmetic, not memory traffic. This machine's timings
// move by ±25% between runs; repeat them.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "CKernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const int bits = argc > 1 ? atoi(argv[1]) : 4;
    const int key_group = argc > 2 ? atoi(argv[2]) : 32;
    const int value_group = argc > 3 ? atoi(argv[3]) : 32;
    const int rows = 4096, dim = 64, queries = 3, iterations = 2000;
    const long row_bytes = (long)dim * bits / 8;
    const int key_groups = rows / key_group;
    uint8_t *codes = malloc((size_t)(row_bytes * rows));
    srand(1);
    for (long i = 0; i < row_bytes * rows; i++) codes[i] = (uint8_t)rand();
    uint16_t *key_scales = malloc(sizeof(uint16_t) * dim * key_groups);
    uint16_t *key_zeros = malloc(sizeof(uint16_t) * dim * key_groups);
    for (int i = 0; i < dim * key_groups; i++) key_scales[i] = 0x2E66, key_zeros[i] = 0xAE66;  // about ±0.1
    uint16_t *value_scales = malloc(sizeof(uint16_t) * rows * (dim / value_group));
    uint16_t *value_zeros = malloc(sizeof(uint16_t) * rows * (dim / value_group));
    for (int i = 0; i < rows * (dim / value_group); i++) value_scales[i] = 0x2E66, value_zeros[i] = 0xAE66;
    float query[3 * 64], scratch[16384], out[3 * 64], zero_sums[64];
    for (int i = 0; i < queries * dim; i++) query[i] = (float)(rand() % 200 - 100) * 0.01f;
    float *logits = malloc(sizeof(float) * queries * rows), *weights = malloc(sizeof(float) * queries * rows);
    for (int i = 0; i < queries * rows; i++) weights[i] = 1.0f / rows;
    float sink = 0;

    double start = now();
    for (int k = 0; k < iterations; k++) {
        for (int g = 0; g < key_groups; g++) {
            tp_packed_group_logits(query, queries, key_scales + g * dim, key_zeros + g * dim,
                                   codes + (long)g * key_group * row_bytes, key_group, dim, bits, scratch,
                                   logits + g * key_group, rows);
        }
        sink += logits[k % rows];
    }
    const double group_logits = (now() - start) / iterations * 1e6;
    start = now();
    for (int k = 0; k < iterations; k++) {
        tp_packed_group_weighted_sum(weights, rows, queries, codes, value_scales, value_zeros, rows, dim, bits,
                                     value_group, 0, dim, scratch, out, dim);
        sink += out[k % dim];
    }
    const double group_sums = (now() - start) / iterations * 1e6;
    start = now();
    for (int k = 0; k < iterations; k++) {
        for (int g = 0; g < key_groups; g++) {
            tp_packed_logits(query, key_scales + g * dim, key_zeros + g * dim, codes + (long)g * key_group * row_bytes,
                             key_group, dim, bits, scratch, logits + g * key_group);
        }
        sink += logits[k % rows];
    }
    const double one_logits = (now() - start) / iterations * 1e6;
    start = now();
    for (int k = 0; k < iterations; k++) {
        tp_packed_weighted_sum(weights, codes, value_scales, value_zeros, rows, dim, bits, value_group, zero_sums, out);
        sink += out[k % dim];
    }
    const double one_sums = (now() - start) / iterations * 1e6;
    printf("bits %d, key group %d, value group %d, per KV head: grouped (3 queries) logits %.1f us, value sums %.1f "
           "us; one query logits %.1f us, value sums %.1f us (%g)\n",
           bits, key_group, value_group, group_logits, group_sums, one_logits, one_sums, sink);
    return 0;
}
