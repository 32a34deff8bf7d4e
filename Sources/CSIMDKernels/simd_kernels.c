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

/* Each 16-bit lane holds two vectors' bytes: even vector low, odd vector high. `low_and_high`
   adds both bytes as one 16-bit value, `high` adds the odd byte alone; the even sum is then
   low_and_high − 256·high (mod 2^16, exact because each sum stays below 2^16). */
__attribute__((target("avx2")))
unsigned int sightline_fastscan_block_avx2(const unsigned char *codes, const unsigned char *tables, size_t pairs,
                                           unsigned short threshold, unsigned short *sums) {
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    __m256i low_and_high = _mm256_setzero_si256(), high = _mm256_setzero_si256();
    for (size_t j = 0; j < pairs; j++) {
        __m256i packed = _mm256_loadu_si256((const __m256i *)(codes + 32 * j));
        __m256i even_codes = _mm256_and_si256(packed, nibble);
        __m256i odd_codes = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
        __m256i table0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tables + 32 * j)));
        __m256i table1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tables + 32 * j + 16)));
        __m256i part0 = _mm256_shuffle_epi8(table0, even_codes);
        __m256i part1 = _mm256_shuffle_epi8(table1, odd_codes);
        low_and_high = _mm256_add_epi16(low_and_high, _mm256_add_epi16(part0, part1));
        high = _mm256_add_epi16(high, _mm256_add_epi16(_mm256_srli_epi16(part0, 8), _mm256_srli_epi16(part1, 8)));
    }
    __m256i even = _mm256_sub_epi16(low_and_high, _mm256_slli_epi16(high, 8));
    _mm256_storeu_si256((__m256i *)sums, even);
    _mm256_storeu_si256((__m256i *)(sums + 16), high);
    __m256i bar = _mm256_set1_epi16((short)threshold);
    unsigned int even_pass = (unsigned int)_mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_min_epu16(even, bar), even));
    unsigned int odd_pass = (unsigned int)_mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_min_epu16(high, bar), high));
    return (even_pass & 0x55555555u) | ((odd_pass & 0x55555555u) << 1);
}

unsigned int sightline_fastscan_block_portable(const unsigned char *codes, const unsigned char *tables, size_t pairs,
                                               unsigned short threshold, unsigned short *sums) {
    unsigned int mask = 0;
    for (unsigned int v = 0; v < 32; v++) {
        unsigned int sum = 0;
        for (size_t j = 0; j < pairs; j++) {
            unsigned char packed = codes[32 * j + v];
            sum += tables[32 * j + (packed & 0x0f)] + tables[32 * j + 16 + (packed >> 4)];
        }
        sums[(v & 1) * 16 + (v >> 1)] = (unsigned short)sum;
        if (sum <= threshold) mask |= 1u << v;
    }
    return mask;
}

/* The largest scale keeping each entry ≤ 255 and any sum of m rounded entries (each up to half a
   step over) below 2^16; 1 when the table is flat or not finite. */
static float fastscan_scale(float widest, float spans, size_t m) {
    float scale = 1;
    if (widest > 0) {
        float by_entry = 255.0f / widest, by_sum = (float)(65535 - (long)m) / spans;
        scale = by_entry < by_sum ? by_entry : by_sum;
    }
    if (!(scale > 0) || scale > 3.0e38f) scale = 1;
    return scale;
}

void sightline_quantize_fastscan_sum(const float *terms, const float *query, size_t m, unsigned char *entries, float *scale_out,
                                     float *offset_out) {
    float lows[1024];
    float widest = 0, spans = 0, minima = 0;
    if (m > 1024) m = 1024;
    for (size_t sub = 0; sub < m; sub++) {
        float row[16];
        for (int c = 0; c < 16; c++) row[c] = terms ? terms[16 * sub + c] + query[16 * sub + c] : query[16 * sub + c];
        float low = row[0], high = row[0];
        for (int c = 1; c < 16; c++) {
            low = row[c] < low ? row[c] : low;
            high = row[c] > high ? row[c] : high;
        }
        float span = high - low;
        widest = span > widest ? span : widest;
        spans += span;
        minima += low;
        lows[sub] = low;
    }
    float scale = fastscan_scale(widest, spans, m);
    for (size_t sub = 0; sub < m; sub++) {
        for (int c = 0; c < 16; c++) {
            float value = terms ? terms[16 * sub + c] + query[16 * sub + c] : query[16 * sub + c];
            value = (value - lows[sub]) * scale + 0.5f;
            entries[16 * sub + c] = value >= 255.0f ? 255 : value >= 0.0f ? (unsigned char)value : 0;
        }
    }
    *scale_out = scale;
    *offset_out = minima;
}

__attribute__((target("avx2")))
static inline float horizontal_min(__m256 v) {
    float lanes[8], low;
    _mm256_storeu_ps(lanes, v);
    low = lanes[0];
    for (int i = 1; i < 8; i++) low = lanes[i] < low ? lanes[i] : low;
    return low;
}

__attribute__((target("avx2")))
static inline float horizontal_max(__m256 v) {
    float lanes[8], high;
    _mm256_storeu_ps(lanes, v);
    high = lanes[0];
    for (int i = 1; i < 8; i++) high = lanes[i] > high ? lanes[i] : high;
    return high;
}

__attribute__((target("avx2")))
void sightline_quantize_fastscan_sum_avx2(const float *terms, const float *query, size_t m, unsigned char *entries, float *scale_out,
                                          float *offset_out) {
    float lows[1024];
    float widest = 0, spans = 0, minima = 0;
    if (m > 1024) m = 1024;
    for (size_t sub = 0; sub < m; sub++) {
        __m256 a = _mm256_loadu_ps(query + 16 * sub), b = _mm256_loadu_ps(query + 16 * sub + 8);
        if (terms) {
            a = _mm256_add_ps(_mm256_loadu_ps(terms + 16 * sub), a);
            b = _mm256_add_ps(_mm256_loadu_ps(terms + 16 * sub + 8), b);
        }
        float low = horizontal_min(_mm256_min_ps(a, b)), high = horizontal_max(_mm256_max_ps(a, b));
        float span = high - low;
        widest = span > widest ? span : widest;
        spans += span;
        minima += low;
        lows[sub] = low;
    }
    float scale = fastscan_scale(widest, spans, m);
    const __m256 scales = _mm256_set1_ps(scale), half = _mm256_set1_ps(0.5f), top = _mm256_set1_ps(255.0f);
    const __m256 zero = _mm256_setzero_ps();
    for (size_t sub = 0; sub < m; sub++) {
        __m256 a = _mm256_loadu_ps(query + 16 * sub), b = _mm256_loadu_ps(query + 16 * sub + 8);
        if (terms) {
            a = _mm256_add_ps(_mm256_loadu_ps(terms + 16 * sub), a);
            b = _mm256_add_ps(_mm256_loadu_ps(terms + 16 * sub + 8), b);
        }
        __m256 low = _mm256_set1_ps(lows[sub]);
        a = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(a, low), scales), half);
        b = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(b, low), scales), half);
        /* max(x, 0) first: a NaN becomes 0, as in the portable loop. */
        a = _mm256_min_ps(_mm256_max_ps(a, zero), top);
        b = _mm256_min_ps(_mm256_max_ps(b, zero), top);
        __m256i words = _mm256_permute4x64_epi64(_mm256_packus_epi32(_mm256_cvttps_epi32(a), _mm256_cvttps_epi32(b)), 0xD8);
        __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
        _mm_storeu_si128((__m128i *)(entries + 16 * sub), bytes);
    }
    *scale_out = scale;
    *offset_out = minima;
}

void sightline_prefetch(const void *address, size_t bytes) {
    const char *start = (const char *)address;
    for (size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(start + offset, 0, 3);
}

static float sum_lanes(const float *lanes) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

__attribute__((target("avx2")))
static inline __m256 sq8_decode8(const unsigned char *code, const float *minimum, const float *step) {
    __m256 levels = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)code)));
    return _mm256_add_ps(_mm256_loadu_ps(minimum), _mm256_mul_ps(levels, _mm256_loadu_ps(step)));
}

__attribute__((target("avx2")))
float sightline_sq8_l2_avx2(const float *query, const unsigned char *code, const float *minimum, const float *step, size_t count) {
    __m256 sum = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 difference = _mm256_sub_ps(_mm256_loadu_ps(query + i), sq8_decode8(code + i, minimum + i, step + i));
        sum = _mm256_add_ps(sum, _mm256_mul_ps(difference, difference));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    float total = sum_lanes(lanes);
    for (; i < count; i++) {
        float difference = query[i] - (minimum[i] + (float)code[i] * step[i]);
        total += difference * difference;
    }
    return total;
}

float sightline_sq8_l2_portable(const float *query, const unsigned char *code, const float *minimum, const float *step, size_t count) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        for (int lane = 0; lane < 8; lane++) {
            float value = minimum[i + lane] + (float)code[i + lane] * step[i + lane];
            float difference = query[i + lane] - value;
            lanes[lane] = lanes[lane] + difference * difference;
        }
    }
    float total = sum_lanes(lanes);
    for (; i < count; i++) {
        float difference = query[i] - (minimum[i] + (float)code[i] * step[i]);
        total += difference * difference;
    }
    return total;
}

__attribute__((target("avx2")))
float sightline_sq8_dot_avx2(const float *query, const unsigned char *code, const float *minimum, const float *step, size_t count) {
    __m256 sum = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_loadu_ps(query + i), sq8_decode8(code + i, minimum + i, step + i)));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    float total = sum_lanes(lanes);
    for (; i < count; i++) total += query[i] * (minimum[i] + (float)code[i] * step[i]);
    return total;
}

float sightline_sq8_dot_portable(const float *query, const unsigned char *code, const float *minimum, const float *step, size_t count) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        for (int lane = 0; lane < 8; lane++) {
            float value = minimum[i + lane] + (float)code[i + lane] * step[i + lane];
            lanes[lane] = lanes[lane] + query[i + lane] * value;
        }
    }
    float total = sum_lanes(lanes);
    for (; i < count; i++) total += query[i] * (minimum[i] + (float)code[i] * step[i]);
    return total;
}
