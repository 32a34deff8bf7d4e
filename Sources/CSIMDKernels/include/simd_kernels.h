#ifndef SIGHTLINE_SIMD_KERNELS_H
#define SIGHTLINE_SIMD_KERNELS_H
#include <stddef.h>

/* 1 when this CPU runs AVX2 (checked once, at run time: the binary stays portable). */
int sightline_cpu_has_avx2(void);

/* 1 when this CPU runs AVX-512F and AVX-512BW (the OS saving their registers included). */
int sightline_cpu_has_avx512bw(void);

/* The AVX2 loops are used: the CPU has AVX2 and SIGHTLINE_SIMD is not "portable". */
int sightline_wide_kernels_enabled(void);

/* The AVX-512 fast-scan kernels are used: the CPU has AVX2 and AVX-512BW and SIGHTLINE_SIMD is
   neither "portable" nor "avx2" (the switch that caps the kernels at AVX2). */
int sightline_avx512_kernels_enabled(void);

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

/* The block above for `queries` (1 to 4; more are capped at 4) tables at once: query q's tables
   at tables + q · table_stride, its sums at sums[32 q ..] and its mask in masks[q], each exactly
   what the one-query kernel gives. A code block is loaded once for all of them (a list scanned
   for several queries in one pass). */
void sightline_fastscan_block_queries_avx2(const unsigned char *codes, const unsigned char *tables, size_t table_stride,
                                           size_t queries, size_t pairs, const unsigned short *thresholds,
                                           unsigned short *sums, unsigned int *masks);
void sightline_fastscan_block_queries_portable(const unsigned char *codes, const unsigned char *tables, size_t table_stride,
                                               size_t queries, size_t pairs, const unsigned short *thresholds,
                                               unsigned short *sums, unsigned int *masks);

/* Both block kernels in AVX-512BW registers, two pairs of sub-quantizers a step (see
   fastscan_avx512_body.h); the same sums and masks. Call only when sightline_cpu_has_avx512bw(). */
unsigned int sightline_fastscan_block_avx512(const unsigned char *codes, const unsigned char *tables, size_t pairs,
                                             unsigned short threshold, unsigned short *sums);
void sightline_fastscan_block_queries_avx512(const unsigned char *codes, const unsigned char *tables, size_t table_stride,
                                             size_t queries, size_t pairs, const unsigned short *thresholds,
                                             unsigned short *sums, unsigned int *masks);

/* 8-bit scalar-quantized vectors (value_j = minimum_j + code_j · step_j): the squared L2 distance
   and the inner product of a float query with one code. Eight lane sums in a fixed order and no
   fused multiply-add in either variant, so AVX2 and portable give the same bits. */
float sightline_sq8_l2_avx2(const float *query, const unsigned char *code, const float *minimum, const float *step, size_t count);
float sightline_sq8_l2_portable(const float *query, const unsigned char *code, const float *minimum, const float *step, size_t count);
float sightline_sq8_dot_avx2(const float *query, const unsigned char *code, const float *minimum, const float *step, size_t count);
float sightline_sq8_dot_portable(const float *query, const unsigned char *code, const float *minimum, const float *step, size_t count);

/* Asks the CPU to bring `bytes` from `address` into cache (a hint: nothing is read). */
void sightline_prefetch(const void *address, size_t bytes);

/* Quantizes a fast-scan table, terms[i] + query[i] (a list's precomputed terms plus the query's
   table, m rows of 16; terms may be NULL: the query's alone), to 8 bits: entry =
   round((t − min_row) · scale), the scale the largest keeping each entry ≤ 255 and any sum of m
   entries < 2^16. Writes m × 16 entries, the scale and Σ min_row (`offset`). Non-finite or
   overflowing values are clamped, never converted out of range. m ≤ 1024. */
void sightline_quantize_fastscan_sum(const float *terms, const float *query, size_t m, unsigned char *entries, float *scale,
                                     float *offset);
/* The same, in AVX2 registers (16 entries a row are two of them); the same operations in the
   same order, no fused multiply-add, so the same bytes for finite tables. */
void sightline_quantize_fastscan_sum_avx2(const float *terms, const float *query, size_t m, unsigned char *entries, float *scale,
                                          float *offset);
/* The value a full sort of `values` (count > rank, no NaN) would put at `rank`; reorders them.
   Quickselect with branchless partitions (the candidate pools' bar). */
float sightline_select_rank(float *values, size_t count, size_t rank);
#endif
