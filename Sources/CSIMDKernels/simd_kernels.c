#include "include/simd_kernels.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

int sightline_cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

int sightline_wide_kernels_enabled(void) {
    const char *choice = getenv("SIGHTLINE_SIMD");
    if (choice != NULL && strcmp(choice, "portable") == 0) return 0;
    return sightline_cpu_has_avx2();
}

/* "avx2" only, not "fma": the compiler may not fuse the multiply and the add. */
__attribute__((target("avx2")))
void sightline_l2_lanes_avx2(const float *a, const float *b, size_t count, float *lanes) {
    __m256 sum = _mm256_setzero_ps();
    for (size_t i = 0; i < count; i += 8) {
        __m256 difference = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        sum = _mm256_add_ps(sum, _mm256_mul_ps(difference, difference));
    }
    _mm256_storeu_ps(lanes, sum);
}

__attribute__((target("avx2")))
void sightline_dot_lanes_avx2(const float *a, const float *b, size_t count, float *lanes) {
    __m256 sum = _mm256_setzero_ps();
    for (size_t i = 0; i < count; i += 8) {
        sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    }
    _mm256_storeu_ps(lanes, sum);
}
