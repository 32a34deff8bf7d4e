/* Benchmark (not a test): the 8-bit ADC scan (sum of m table lookups per code) written three
   ways on one CPU: the scalar loop Sightline runs (four lookups a step, as scanCodes does), and
   two AVX2 gather kernels a run-time dispatch could pick (8 codes a gather, one lane a code; or
   one code at a time, 8 sub-quantizers a gather). Prints ns per code for m = 64; built and run by
   scripts/bench/adc8-kernels. */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define M 64

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((noinline)) static void scan_scalar(const unsigned char *codes, size_t n, const float *table, float *out) {
    for (size_t i = 0; i < n; i++) {
        const unsigned char *c = codes + i * M;
        const float *t = table;
        float sum = 0;
        for (int group = 0; group < M / 4; group++) {
            float a = t[c[0]] + t[256 + c[1]], b = t[512 + c[2]] + t[768 + c[3]];
            sum += a + b;
            t += 1024;
            c += 4;
        }
        out[i] = sum;
    }
}

/* Lane j scores code i + j: one gather fetches two code bytes of 8 codes, two gathers their entries. */
__attribute__((target("avx2"), noinline)) static void scan_gather_codes(const unsigned char *codes, size_t n, const float *table,
                                                                         float *out) {
    const __m256i stride = _mm256_setr_epi32(0, M, 2 * M, 3 * M, 4 * M, 5 * M, 6 * M, 7 * M), byte = _mm256_set1_epi32(255);
    for (size_t i = 0; i + 8 <= n; i += 8) {
        const unsigned char *c = codes + i * M;
        __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
        for (int sub = 0; sub < M; sub += 2) {
            __m256i bytes = _mm256_i32gather_epi32((const int *)(c + sub), stride, 1);
            __m256i first = _mm256_add_epi32(_mm256_and_si256(bytes, byte), _mm256_set1_epi32(sub * 256));
            __m256i second = _mm256_add_epi32(_mm256_and_si256(_mm256_srli_epi32(bytes, 8), byte), _mm256_set1_epi32((sub + 1) * 256));
            even = _mm256_add_ps(even, _mm256_i32gather_ps(table, first, 4));
            odd = _mm256_add_ps(odd, _mm256_i32gather_ps(table, second, 4));
        }
        _mm256_storeu_ps(out + i, _mm256_add_ps(even, odd));
    }
}

/* One code at a time: its 8 next sub-quantizers in one gather. */
__attribute__((target("avx2"), noinline)) static void scan_gather_subspaces(const unsigned char *codes, size_t n, const float *table,
                                                                             float *out) {
    const __m256i rows = _mm256_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *c = codes + i * M;
        __m256 sum = _mm256_setzero_ps();
        for (int sub = 0; sub < M; sub += 8) {
            __m256i index = _mm256_add_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(c + sub))), rows);
            sum = _mm256_add_ps(sum, _mm256_i32gather_ps(table + sub * 256, index, 4));
        }
        __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
        half = _mm_add_ps(half, _mm_movehl_ps(half, half));
        out[i] = _mm_cvtss_f32(_mm_add_ss(half, _mm_shuffle_ps(half, half, 1)));
    }
}

int main(void) {
    if (!__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "this CPU has no AVX2: nothing to compare\n");
        return 2;
    }
    const size_t n = 1 << 18;
    unsigned char *codes = malloc(n * M);
    float *table = malloc(M * 256 * sizeof(float)), *reference = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    srand(7);
    for (size_t i = 0; i < n * M; i++) codes[i] = rand() & 255;
    for (int i = 0; i < M * 256; i++) table[i] = rand() / (float)RAND_MAX;
    scan_scalar(codes, n, table, reference);
    void (*kernels[3])(const unsigned char *, size_t, const float *, float *) = {scan_scalar, scan_gather_codes, scan_gather_subspaces};
    const char *names[3] = {"scalar (Sightline)", "AVX2 gather, 8 codes a gather", "AVX2 gather, 8 sub-quantizers a gather"};
    for (int k = 0; k < 3; k++) {
        double best = 1e9;
        for (int round = 0; round < 5; round++) {
            double start = seconds();
            kernels[k](codes, n, table, out);
            double elapsed = seconds() - start;
            best = elapsed < best ? elapsed : best;
        }
        double worst_error = 0;
        for (size_t i = 0; i < n; i++) worst_error = fmax(worst_error, fabs(out[i] - reference[i]));
        printf("%-40s %6.1f ns a code (fastest of 5 passes over %zu codes, m %d; largest difference from scalar %.1e)\n", names[k],
               best / n * 1e9, n, M, worst_error);
    }
    return 0;
}
