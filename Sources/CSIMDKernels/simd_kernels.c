#include "include/simd_kernels.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

int sightline_cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

int sightline_cpu_has_avx512bw(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

static int simd_choice_is(const char *name) {
    const char *choice = getenv("SIGHTLINE_SIMD");
    return choice != NULL && strcmp(choice, name) == 0;
}

int sightline_wide_kernels_enabled(void) {
    if (simd_choice_is("portable")) return 0;
    return sightline_cpu_has_avx2();
}

int sightline_avx512_kernels_enabled(void) {
    if (simd_choice_is("portable") || simd_choice_is("avx2")) return 0;
    return sightline_cpu_has_avx2() && sightline_cpu_has_avx512bw();
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

/* The same block for `nq` (1 to 4, a constant after inlining) queries at once: each 32-byte code
   load and its nibble split serve every query, and the accumulators stay in registers. */
__attribute__((target("avx2"), always_inline))
static inline void fastscan_block_queries_avx2(const unsigned char *codes, const unsigned char *tables, size_t table_stride,
                                               const size_t nq, size_t pairs, const unsigned short *thresholds,
                                               unsigned short *sums, unsigned int *masks) {
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    __m256i low_and_high[4], high[4];
    for (size_t q = 0; q < nq; q++) low_and_high[q] = high[q] = _mm256_setzero_si256();
    for (size_t j = 0; j < pairs; j++) {
        __m256i packed = _mm256_loadu_si256((const __m256i *)(codes + 32 * j));
        __m256i even_codes = _mm256_and_si256(packed, nibble);
        __m256i odd_codes = _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble);
        for (size_t q = 0; q < nq; q++) {
            const unsigned char *table = tables + q * table_stride + 32 * j;
            __m256i part0 = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table)), even_codes);
            __m256i part1 = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(table + 16))), odd_codes);
            low_and_high[q] = _mm256_add_epi16(low_and_high[q], _mm256_add_epi16(part0, part1));
            high[q] = _mm256_add_epi16(high[q], _mm256_add_epi16(_mm256_srli_epi16(part0, 8), _mm256_srli_epi16(part1, 8)));
        }
    }
    for (size_t q = 0; q < nq; q++) {
        __m256i even = _mm256_sub_epi16(low_and_high[q], _mm256_slli_epi16(high[q], 8));
        _mm256_storeu_si256((__m256i *)(sums + 32 * q), even);
        _mm256_storeu_si256((__m256i *)(sums + 32 * q + 16), high[q]);
        __m256i bar = _mm256_set1_epi16((short)thresholds[q]);
        unsigned int even_pass = (unsigned int)_mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_min_epu16(even, bar), even));
        unsigned int odd_pass = (unsigned int)_mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_min_epu16(high[q], bar), high[q]));
        masks[q] = (even_pass & 0x55555555u) | ((odd_pass & 0x55555555u) << 1);
    }
}

__attribute__((target("avx2")))
void sightline_fastscan_block_queries_avx2(const unsigned char *codes, const unsigned char *tables, size_t table_stride,
                                           size_t queries, size_t pairs, const unsigned short *thresholds,
                                           unsigned short *sums, unsigned int *masks) {
    switch (queries) {
    case 0: return;
    case 1: fastscan_block_queries_avx2(codes, tables, table_stride, 1, pairs, thresholds, sums, masks); break;
    case 2: fastscan_block_queries_avx2(codes, tables, table_stride, 2, pairs, thresholds, sums, masks); break;
    case 3: fastscan_block_queries_avx2(codes, tables, table_stride, 3, pairs, thresholds, sums, masks); break;
    default: fastscan_block_queries_avx2(codes, tables, table_stride, 4, pairs, thresholds, sums, masks); break;
    }
}

void sightline_fastscan_block_queries_portable(const unsigned char *codes, const unsigned char *tables, size_t table_stride,
                                               size_t queries, size_t pairs, const unsigned short *thresholds,
                                               unsigned short *sums, unsigned int *masks) {
    if (queries > 4) queries = 4;
    for (size_t q = 0; q < queries; q++) {
        masks[q] = sightline_fastscan_block_portable(codes, tables + q * table_stride, pairs, thresholds[q], sums + 32 * q);
    }
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

/* Row r's span and minimum add into lane r mod 8; the lanes are then added in a fixed order
   (the AVX2 variant keeps the eight lanes in one register). */
static float lane_total(const float *lanes) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

void sightline_quantize_fastscan_sum(const float *terms, const float *query, size_t m, unsigned char *entries, float *scale_out,
                                     float *offset_out) {
    float lows[1024];
    float widest = 0, span_lanes[8] = {0}, low_lanes[8] = {0};
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
        span_lanes[sub % 8] += span;
        low_lanes[sub % 8] += low;
        lows[sub] = low;
    }
    float spans = lane_total(span_lanes), minima = lane_total(low_lanes);
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

/* Eight rows' minima (or maxima) at once: lane r of the result reduces row r (its 8 lanes). */
#define SIGHTLINE_REDUCE8(NAME, OP)                                                                                   \
    __attribute__((target("avx2"))) static inline __m256 NAME(const __m256 *v) {                                      \
        __m256 x01 = OP(_mm256_unpacklo_ps(v[0], v[1]), _mm256_unpackhi_ps(v[0], v[1]));                              \
        __m256 x23 = OP(_mm256_unpacklo_ps(v[2], v[3]), _mm256_unpackhi_ps(v[2], v[3]));                              \
        __m256 x45 = OP(_mm256_unpacklo_ps(v[4], v[5]), _mm256_unpackhi_ps(v[4], v[5]));                              \
        __m256 x67 = OP(_mm256_unpacklo_ps(v[6], v[7]), _mm256_unpackhi_ps(v[6], v[7]));                              \
        __m256 y0123 = OP(_mm256_shuffle_ps(x01, x23, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(x01, x23, _MM_SHUFFLE(3, 2, 3, 2))); \
        __m256 y4567 = OP(_mm256_shuffle_ps(x45, x67, _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(x45, x67, _MM_SHUFFLE(3, 2, 3, 2))); \
        return OP(_mm256_permute2f128_ps(y0123, y4567, 0x20), _mm256_permute2f128_ps(y0123, y4567, 0x31));          \
    }
SIGHTLINE_REDUCE8(rows_min8, _mm256_min_ps)
SIGHTLINE_REDUCE8(rows_max8, _mm256_max_ps)

__attribute__((target("avx2")))
void sightline_quantize_fastscan_sum_avx2(const float *terms, const float *query, size_t m, unsigned char *entries, float *scale_out,
                                          float *offset_out) {
    float lows[1024];
    float widest = 0;
    if (m > 1024) m = 1024;
    __m256 span_sums = _mm256_setzero_ps(), low_sums = _mm256_setzero_ps(), widest8 = _mm256_setzero_ps();
    size_t sub = 0;
    for (; sub + 8 <= m; sub += 8) {
        __m256 minima8[8], maxima8[8];
        for (int r = 0; r < 8; r++) {
            __m256 a = _mm256_loadu_ps(query + 16 * (sub + r)), b = _mm256_loadu_ps(query + 16 * (sub + r) + 8);
            if (terms) {
                a = _mm256_add_ps(_mm256_loadu_ps(terms + 16 * (sub + r)), a);
                b = _mm256_add_ps(_mm256_loadu_ps(terms + 16 * (sub + r) + 8), b);
            }
            minima8[r] = _mm256_min_ps(a, b);
            maxima8[r] = _mm256_max_ps(a, b);
        }
        __m256 low = rows_min8(minima8), span = _mm256_sub_ps(rows_max8(maxima8), low);
        widest8 = _mm256_max_ps(span, widest8);
        span_sums = _mm256_add_ps(span_sums, span);
        low_sums = _mm256_add_ps(low_sums, low);
        _mm256_storeu_ps(lows + sub, low);
    }
    float span_lanes[8], low_lanes[8];
    _mm256_storeu_ps(span_lanes, span_sums);
    _mm256_storeu_ps(low_lanes, low_sums);
    widest = horizontal_max(widest8);
    for (; sub < m; sub++) {
        __m256 a = _mm256_loadu_ps(query + 16 * sub), b = _mm256_loadu_ps(query + 16 * sub + 8);
        if (terms) {
            a = _mm256_add_ps(_mm256_loadu_ps(terms + 16 * sub), a);
            b = _mm256_add_ps(_mm256_loadu_ps(terms + 16 * sub + 8), b);
        }
        float low = horizontal_min(_mm256_min_ps(a, b)), high = horizontal_max(_mm256_max_ps(a, b));
        float span = high - low;
        widest = span > widest ? span : widest;
        span_lanes[sub % 8] += span;
        low_lanes[sub % 8] += low;
        lows[sub] = low;
    }
    float spans = lane_total(span_lanes), minima = lane_total(low_lanes);
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

float sightline_select_rank(float *values, size_t count, size_t rank) {
    if (count == 0) return 0;
    if (rank >= count) rank = count - 1;
    size_t low = 0, high = count;
    while (high - low > 1) {
        size_t middle = low + (high - low) / 2;
        float a = values[low], b = values[middle], c = values[high - 1];
        float lesser = a < b ? a : b, greater = a < b ? b : a;
        float pivot = greater < c ? greater : (lesser < c ? c : lesser);
        /* Branchless Lomuto passes: the values below the pivot, then those equal to it. */
        size_t below = low;
        for (size_t i = low; i < high; i++) {
            float value = values[i];
            values[i] = values[below];
            values[below] = value;
            below += value < pivot;
        }
        if (rank < below) {
            high = below;
            continue;
        }
        size_t equal = below;
        for (size_t i = below; i < high; i++) {
            float value = values[i];
            values[i] = values[equal];
            values[equal] = value;
            equal += value == pivot;
        }
        if (rank < equal) return pivot;
        low = equal;
    }
    return values[low];
}
