#ifndef SIGHTLINE_SIMD_KERNELS_EMULATED_H
#define SIGHTLINE_SIMD_KERNELS_EMULATED_H
#include <stddef.h>

/* sightline_fastscan_block_avx512 and sightline_fastscan_block_queries_avx512 (see
   simd_kernels.h), built from the same source through SIMDe's emulation of AVX-512: they run on
   any x86-64 CPU, so the tests check the AVX-512 kernels' logic where no AVX-512 unit exists. */
unsigned int sightline_fastscan_block_avx512_emulated(const unsigned char *codes, const unsigned char *tables, size_t pairs,
                                                      unsigned short threshold, unsigned short *sums);
void sightline_fastscan_block_queries_avx512_emulated(const unsigned char *codes, const unsigned char *tables, size_t table_stride,
                                                      size_t queries, size_t pairs, const unsigned short *thresholds,
                                                      unsigned short *sums, unsigned int *masks);
#endif
