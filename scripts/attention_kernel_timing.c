// Times the decode attention kernels of Sources/CKernels on one thread, outside the engine: the grouped logits and
// value sums over 4,096 key/value rows of one KV head (64 values, 3 query heads: SmolLM2-135M's shape) in a block
// format, and the softmax over 4,500 logits. Not part of the build or of CI; run by hand:
//
//   S=Sources/CKernels && clang -O3 -I$S/include -I$S scripts/attention_kernel_timing.c $S/CKernels.c \
//       $S/GroupedAttention512.c -lm -lpthread -o /tmp/kernel_timing && /tmp/kernel_timing 2
//
// The argument is the ggml type id (2 q4_0, 3 q4_1, 6 q5_0, 7 q5_1, 8 q8_0); TOKENPRESS_NO_AVX512=1 times the AVX2
// kernels. The rows fit in L2, so this measures the kernels' arithmetic, not memory traffic. The softmax hash lets
// two builds be compared for identical bits.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "CKernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int block_bytes(int type) { return type == 2 ? 18 : type == 3 ? 20 : type == 6 ? 22 : type == 7 ? 24 : 34; }

int main(int argc, char **argv) {
    const int type = argc > 1 ? atoi(argv[1]) : 2;
    const int rows = 4096, blocks = 2, queries = 3, iterations = 2000;
    const int bytes = block_bytes(type);
    const long row_bytes = (long)bytes * blocks;
    uint8_t *data = malloc((size_t)row_bytes * rows);
    srand(1);
    for (long i = 0; i < row_bytes * rows; i++) data[i] = (uint8_t)rand();
    const uint16_t half_scale = 0x2E66;  // about 0.1
    for (int r = 0; r < rows; r++) {
        for (int b = 0; b < blocks; b++) {
            memcpy(data + r * row_bytes + b * bytes, &half_scale, 2);
            if (type == 3 || type == 7) memcpy(data + r * row_bytes + b * bytes + 2, &half_scale, 2);
        }
    }
    int8_t quants[4 * 64];
    float scales[8], sums[8], sink = 0;
    for (int i = 0; i < 4 * 64; i++) quants[i] = (int8_t)(rand() % 200 - 100);
    for (int i = 0; i < 8; i++) scales[i] = 0.01f, sums[i] = 1;
    float *logits = malloc(sizeof(float) * 4 * rows), *weights = malloc(sizeof(float) * 4 * rows), out[4 * 64];
    for (int i = 0; i < 4 * rows; i++) weights[i] = 1.0f / rows;

    double start = now();
    for (int k = 0; k < iterations; k++) {
        tp_group_logits_q(type, data, row_bytes, rows, blocks, queries, quants, scales, sums, logits, rows);
        sink += logits[k % rows];
    }
    const double logits_us = (now() - start) / iterations * 1e6;
    start = now();
    for (int k = 0; k < iterations; k++) {
        tp_group_weighted_sum_q(type, data, row_bytes, rows, 0, blocks, queries, weights, rows, out, 64);
        sink += out[k % 64];
    }
    const double sums_us = (now() - start) / iterations * 1e6;
    printf("type %d: logits %.1f us, value sums %.1f us per KV head\n", type, logits_us, sums_us);

    const int n = 4500;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) x[i] = (float)(rand() % 20000 - 10000) * 0.01f;
    start = now();
    for (int k = 0; k < 20000; k++) {
        memcpy(y, x, sizeof(float) * n);
        tp_softmax(y, n, 0.125f);
        sink += y[k % n];
    }
    const double softmax_us = (now() - start) / 20000 * 1e6;
    memcpy(y, x, sizeof(float) * n);
    tp_softmax(y, n, 0.125f);
    uint32_t hash = 0;
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, y + i, 4);
        hash = hash * 31 + u;
    }
    printf("softmax of %d logits: %.2f us (copy included), bits hash %u (%g)\n", n, softmax_us, hash, sink);
    return 0;
}
