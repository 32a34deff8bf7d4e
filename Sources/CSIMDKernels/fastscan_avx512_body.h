/* The AVX-512 fast-scan block kernels, written once and compiled twice: natively
   (simd_kernels_avx512.c, run where the CPU has AVX-512BW) and through SIMDe's emulation of the
   same intrinsics (the CSIMDKernelsEmulated target), so that a machine without AVX-512 still
   tests every line against the portable kernel. The includer defines SIGHTLINE_AVX512_TARGET
   (a function attribute) and SIGHTLINE_AVX512_NAME (the suffix of the public names).

   One 512-bit register holds two pairs of sub-quantizers: code bytes of pair j in 128-bit lanes
   0-1, of pair j+1 in lanes 2-3. The 64 table bytes of those pairs (sub-quantizers 2j … 2j+3)
   are spread to match with one lane shuffle per nibble, the two halves' 16-bit sums are added
   at the end, and an odd last pair runs in 256-bit registers as the AVX2 kernel does. The
   arithmetic is the AVX2 kernel's (sums mod 2^16, exact below 2^16), so the results are equal. */
#if !defined(SIGHTLINE_AVX512_TARGET) || !defined(SIGHTLINE_AVX512_NAME)
#error "define SIGHTLINE_AVX512_TARGET and SIGHTLINE_AVX512_NAME before including this file"
#endif

SIGHTLINE_AVX512_TARGET __attribute__((always_inline))
static inline void SIGHTLINE_AVX512_NAME(fastscan_block_inline)(const unsigned char *codes, const unsigned char *tables,
                                                                size_t table_stride, const size_t nq, size_t pairs,
                                                                const unsigned short *thresholds, unsigned short *sums,
                                                                unsigned int *masks) {
    const __m512i wide_nibble = _mm512_set1_epi8(0x0f);
    __m512i wide_low_and_high[4], wide_high[4];
    for (size_t q = 0; q < nq; q++) wide_low_and_high[q] = wide_high[q] = _mm512_setzero_si512();
    size_t j = 0;
    for (; j + 2 <= pairs; j += 2) {
        __m512i packed = _mm512_loadu_si512((const void *)(codes + 32 * j));
        __m512i even_codes = _mm512_and_si512(packed, wide_nibble);
        __m512i odd_codes = _mm512_and_si512(_mm512_srli_epi16(packed, 4), wide_nibble);
        for (size_t q = 0; q < nq; q++) {
            __m512i four_tables = _mm512_loadu_si512((const void *)(tables + q * table_stride + 32 * j));
            /* Lanes [2j, 2j, 2j+2, 2j+2] for the low nibbles, [2j+1, 2j+1, 2j+3, 2j+3] for the high. */
            __m512i part0 = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(four_tables, four_tables, 0xA0), even_codes);
            __m512i part1 = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(four_tables, four_tables, 0xF5), odd_codes);
            wide_low_and_high[q] = _mm512_add_epi16(wide_low_and_high[q], _mm512_add_epi16(part0, part1));
            wide_high[q] = _mm512_add_epi16(wide_high[q], _mm512_add_epi16(_mm512_srli_epi16(part0, 8), _mm512_srli_epi16(part1, 8)));
        }
    }
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    for (size_t q = 0; q < nq; q++) {
        __m256i low_and_high = _mm256_add_epi16(_mm512_castsi512_si256(wide_low_and_high[q]),
                                                _mm512_extracti64x4_epi64(wide_low_and_high[q], 1));
        __m256i high = _mm256_add_epi16(_mm512_castsi512_si256(wide_high[q]), _mm512_extracti64x4_epi64(wide_high[q], 1));
        if (j < pairs) {
            __m256i packed = _mm256_loadu_si256((const __m256i *)(codes + 32 * j));
            const unsigned char *table = tables + q * table_stride + 32 * j;
            __m256i part0 = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table)),
                                                _mm256_and_si256(packed, nibble));
            __m256i part1 = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(table + 16))),
                                                _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble));
            low_and_high = _mm256_add_epi16(low_and_high, _mm256_add_epi16(part0, part1));
            high = _mm256_add_epi16(high, _mm256_add_epi16(_mm256_srli_epi16(part0, 8), _mm256_srli_epi16(part1, 8)));
        }
        __m256i even = _mm256_sub_epi16(low_and_high, _mm256_slli_epi16(high, 8));
        _mm256_storeu_si256((__m256i *)(sums + 32 * q), even);
        _mm256_storeu_si256((__m256i *)(sums + 32 * q + 16), high);
        __m256i bar = _mm256_set1_epi16((short)thresholds[q]);
        unsigned int even_pass = (unsigned int)_mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_min_epu16(even, bar), even));
        unsigned int odd_pass = (unsigned int)_mm256_movemask_epi8(_mm256_cmpeq_epi16(_mm256_min_epu16(high, bar), high));
        masks[q] = (even_pass & 0x55555555u) | ((odd_pass & 0x55555555u) << 1);
    }
}

SIGHTLINE_AVX512_TARGET
void SIGHTLINE_AVX512_NAME(sightline_fastscan_block_queries)(const unsigned char *codes, const unsigned char *tables,
                                                             size_t table_stride, size_t queries, size_t pairs,
                                                             const unsigned short *thresholds, unsigned short *sums,
                                                             unsigned int *masks) {
    switch (queries) {
    case 0: return;
    case 1: SIGHTLINE_AVX512_NAME(fastscan_block_inline)(codes, tables, table_stride, 1, pairs, thresholds, sums, masks); break;
    case 2: SIGHTLINE_AVX512_NAME(fastscan_block_inline)(codes, tables, table_stride, 2, pairs, thresholds, sums, masks); break;
    case 3: SIGHTLINE_AVX512_NAME(fastscan_block_inline)(codes, tables, table_stride, 3, pairs, thresholds, sums, masks); break;
    default: SIGHTLINE_AVX512_NAME(fastscan_block_inline)(codes, tables, table_stride, 4, pairs, thresholds, sums, masks); break;
    }
}

SIGHTLINE_AVX512_TARGET
unsigned int SIGHTLINE_AVX512_NAME(sightline_fastscan_block)(const unsigned char *codes, const unsigned char *tables, size_t pairs,
                                                             unsigned short threshold, unsigned short *sums) {
    unsigned int mask = 0;
    SIGHTLINE_AVX512_NAME(fastscan_block_inline)(codes, tables, 0, 1, pairs, &threshold, sums, &mask);
    return mask;
}
