/* The AVX-512 fast-scan kernels compiled through SIMDe, which implements each AVX-512 intrinsic
   with the instructions this CPU has: the same source as the native kernels, testable anywhere.
   Only the tests link it; the product runs the native build. SIMDe's own native aliases clash
   with this compiler's bf16 types, so the names the kernel uses are mapped here one by one. */
/* SIMDe passes its 512-bit types between its own static functions: no ABI crosses a boundary. */
#pragma clang diagnostic ignored "-Wpsabi"
#include <simde/x86/avx512.h>
#include "include/simd_kernels_emulated.h"

#define __m512i simde__m512i
#define __m256i simde__m256i
#define __m128i simde__m128i
#define _mm512_set1_epi8 simde_mm512_set1_epi8
#define _mm512_setzero_si512 simde_mm512_setzero_si512
#define _mm512_loadu_si512 simde_mm512_loadu_si512
#define _mm512_and_si512 simde_mm512_and_si512
#define _mm512_srli_epi16 simde_mm512_srli_epi16
#define _mm512_shuffle_epi8 simde_mm512_shuffle_epi8
#define _mm512_shuffle_i32x4 simde_mm512_shuffle_i32x4
#define _mm512_add_epi16 simde_mm512_add_epi16
#define _mm512_castsi512_si256 simde_mm512_castsi512_si256
#define _mm512_extracti64x4_epi64 simde_mm512_extracti64x4_epi64
#define _mm256_set1_epi8 simde_mm256_set1_epi8
#define _mm256_set1_epi16 simde_mm256_set1_epi16
#define _mm256_add_epi16 simde_mm256_add_epi16
#define _mm256_sub_epi16 simde_mm256_sub_epi16
#define _mm256_loadu_si256 simde_mm256_loadu_si256
#define _mm256_storeu_si256 simde_mm256_storeu_si256
#define _mm256_shuffle_epi8 simde_mm256_shuffle_epi8
#define _mm256_broadcastsi128_si256 simde_mm256_broadcastsi128_si256
#define _mm_loadu_si128 simde_mm_loadu_si128
#define _mm256_and_si256 simde_mm256_and_si256
#define _mm256_srli_epi16 simde_mm256_srli_epi16
#define _mm256_slli_epi16 simde_mm256_slli_epi16
#define _mm256_movemask_epi8 simde_mm256_movemask_epi8
#define _mm256_cmpeq_epi16 simde_mm256_cmpeq_epi16
#define _mm256_min_epu16 simde_mm256_min_epu16

#define SIGHTLINE_AVX512_TARGET
#define SIGHTLINE_AVX512_NAME(name) name##_avx512_emulated
#include "../CSIMDKernels/fastscan_avx512_body.h"
