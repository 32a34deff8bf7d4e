/* The AVX-512BW fast-scan kernels, native (the body is shared with the emulated test build). */
#include "include/simd_kernels.h"
#include <immintrin.h>

#define SIGHTLINE_AVX512_TARGET __attribute__((target("avx512f,avx512bw")))
#define SIGHTLINE_AVX512_NAME(name) name##_avx512
#include "fastscan_avx512_body.h"
