// The AVX-512 twins of tp_packed_group_logits and tp_packed_group_weighted_sum (same bits), which those call when
// tp_take_avx512() allows. Private to this target.
#ifndef TP_PACKED_ATTENTION_512_H
#define TP_PACKED_ATTENTION_512_H

#include <stdint.h>

/// Whether the AVX-512 VNNI tiles may run: the CPU has them and neither a test nor TOKENPRESS_NO_AVX512=1 turned
/// them off (CKernels.c).
int tp_take_avx512(void);

/// The whole tiles of eight rows of tp_packed_group_logits, given its scaled queries `qs` [count, dim] and zero-point
/// biases [count]; returns how many rows it did (0 for widths or head sizes it does not take), the rest being the
/// caller's.
int tp_packed_group_logits512(const float *qs, const float *bias, int count, const uint8_t *codes, int rows,
                              int dim, int bits, float *out, long stride);

/// tp_packed_group_weighted_sum entire; returns 0 (and does nothing) for widths, head sizes or value groups it does
/// not take (groups must be a multiple of 16 channels).
int tp_packed_group_weighted_sum512(const float *w, long w_stride, int count, const uint8_t *codes,
                                    const uint16_t *scales, const uint16_t *zeros, int rows, int dim, int bits,
                                    int group, int c_begin, int c_end, float *out, long out_stride);

#endif
