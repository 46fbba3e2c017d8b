// The AVX-512 twins of tp_group_logits_q and tp_group_weighted_sum_q (same arguments, same bits), which those
// call when the CPU has AVX-512 VNNI and the tiles are allowed. Private to this target.
#ifndef TP_GROUPED_ATTENTION_512_H
#define TP_GROUPED_ATTENTION_512_H

#include <stdint.h>

/// Returns 0 (and does nothing) when a row has more blocks than the kernel holds (8: heads of 256 values).
int tp_group_logits_q512(int type_id, const void *rows, long row_bytes, int count, int blocks, int queries,
                         const int8_t *quants, const float *scales, const float *sums, float *out, long stride);

void tp_group_weighted_sum_q512(int type_id, const void *rows, long row_bytes, int count, int block_begin,
                                int block_end, int queries, const float *w, long w_stride, float *out,
                                long out_stride);

#endif
