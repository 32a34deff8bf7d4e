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
#endif
