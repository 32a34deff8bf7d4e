#ifndef SIGHTLINE_SIMD_KERNELS_H
#define SIGHTLINE_SIMD_KERNELS_H
#include <stddef.h>

/* 1 when this CPU runs AVX2 (checked once, at run time: the binary stays portable). */
int sightline_cpu_has_avx2(void);

/* The AVX2 loops are used: the CPU has AVX2 and SIGHTLINE_SIMD is not "portable". */
int sightline_wide_kernels_enabled(void);

/* The eight partial sums of a distance's main loop over `count` floats (a multiple of 8), in
   AVX2 registers: lane i accumulates element i of every block of 8, one multiply and one add per
   block (no fused multiply-add), exactly as the portable SIMD8 loop does, so both give the same
   bits. The caller adds the lanes and the tail. */
void sightline_l2_lanes_avx2(const float *a, const float *b, size_t count, float *lanes);
void sightline_dot_lanes_avx2(const float *a, const float *b, size_t count, float *lanes);

/* 4-bit fast-scan, one block of 32 codes. Layout (see FastScan.swift): for each pair j of
   sub-quantizers, 32 bytes, byte v = code of vector v for sub-quantizer 2j (low nibble) and
   2j+1 (high nibble). `tables` holds 16 uint8 entries per sub-quantizer (pair j: 32 bytes).
   Writes the 16-bit sums of vectors 0,2,…,30 to sums[0..15] and of 1,3,…,31 to sums[16..31]
   (exact: callers keep every sum below 65,536) and returns the mask of vectors whose sum is at
   most `threshold` (bit v for vector v). */
unsigned int sightline_fastscan_block_avx2(const unsigned char *codes, const unsigned char *tables, size_t pairs,
                                           unsigned short threshold, unsigned short *sums);
unsigned int sightline_fastscan_block_portable(const unsigned char *codes, const unsigned char *tables, size_t pairs,
                                               unsigned short threshold, unsigned short *sums);
#endif
