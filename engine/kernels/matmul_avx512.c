/* AVX-512 (F, BW, VL, DQ with FMA and F16C) matrix rows, chosen at run time when the CPU has
 * them and the OS saves ZMM state (cpuid, xgetbv). Each 32-element chunk of a weight row is
 * decoded into two 16-float registers without leaving them: F32, F16, BF16, Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1 and Q2_K..Q6_K; any other type would go through the plain-C block decoder. Only these
 * functions carry the target attribute, so the binary still runs on any x86-64. Engine thread
 * and pool workers. */
#include <string.h>

#include "kernels_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))

/* Batch invariance: every token owns two accumulators, one for elements 0-15 and one for 16-31
 * of each chunk, updated by one FMA each per chunk in row order and reduced in a fixed order at
 * the end. Nothing a token computes depends on the other tokens, so its bits are the same
 * whatever the batch, its place in it, the group of GROUP_MAX or fewer tokens it is computed
 * with, or the thread that runs its row. Groups only share the decoding of a chunk. */
#define GROUP_MAX 8

INLINE float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return hr_f16_table[h];
}

AVX512 INLINE __m512 i8_to_ps(__m128i q)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
}

AVX512 INLINE __m512 u8_to_ps(__m128i q)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q));
}

AVX512 INLINE __m512 bf16_to_ps(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

AVX512 INLINE __m128i load128(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

AVX512 INLINE __m256i load256(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* Q4_0, Q4_1 and Q4_K decode through a table: lut = d * (i - 8), d * i + m or d * i - m for
 * the 16 nibble values i, then one vpermps per 16 elements picks each element's value. Each
 * entry is formed by the same float operations as in quant.c and quant_blocks.c, so the values
 * are the plain-C decoder's bit for bit; it saves converting and scaling every element. (Tried
 * on the other small-code types, it was no faster there.) */
AVX512 INLINE __m512 iota(float off)
{
    return _mm512_add_ps(_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_ps(off));
}

/* 16 codes (bytes < 16) through lut. */
AVX512 INLINE __m512 lut16(__m128i codes, __m512 lut)
{
    return _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(codes), lut);
}

/* 16 nibbles of a Q4_0/Q4_1/Q5_x block's 16 bytes: the low ones are elements 0-15, the high
 * ones elements 16-31. */
AVX512 INLINE void nibbles16(const uint8_t *qs, __m128i *lo, __m128i *hi)
{
    __m128i q = load128(qs), m = _mm_set1_epi8(0x0F);
    *lo = _mm_and_si128(q, m);
    *hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
}

/* The 32 low (hi_half false) or high nibbles of 32 bytes, one per byte. */
AVX512 INLINE __m256i nibbles32(const uint8_t *qs, bool hi_half)
{
    __m256i q = load256(qs);
    if (hi_half)
        q = _mm256_srli_epi16(q, 4);
    return _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
}

/* Bit `shift` .. shift + width - 1 of each of 32 bytes, moved to bit 4 and up. */
AVX512 INLINE __m256i high_bits32(const uint8_t *p, int shift, int width_mask)
{
    __m256i h = _mm256_srl_epi16(load256(p), _mm_cvtsi32_si128(shift));
    h = _mm256_and_si256(h, _mm256_set1_epi8((char)width_mask));
    return _mm256_slli_epi16(h, 4);
}

/* Bits shift and shift + 1 of each of 32 bytes, as 0..3. */
AVX512 INLINE __m256i crumbs32(const uint8_t *p, int shift)
{
    __m256i q = _mm256_srl_epi16(load256(p), _mm_cvtsi32_si128(shift));
    return _mm256_and_si256(q, _mm256_set1_epi8(3));
}

/* Scale i (0..15) of Q3_K's 12 bytes: low 4 bits in bytes 0..7, high 2 bits in 8..11. */
INLINE int scale_q3k(const uint8_t *s, int i)
{
    int lo = i < 8 ? s[i] & 0x0F : s[i - 8] >> 4;
    int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

/* Elements [col, col + 32) of a row (col a multiple of 32) into lo (0-15) and hi (16-31). The
 * decoded values equal hr_dequant_row's bit for bit: the same products, in the same order. */
AVX512 INLINE void decode32(uint32_t type, const uint8_t *row, size_t col, __m512 *lo,
                            __m512 *hi, float *buf)
{
    switch (type) {
    case HR_TYPE_F32: {
        const float *p = (const float *)(const void *)(row + col * 4);
        *lo = _mm512_loadu_ps(p);
        *hi = _mm512_loadu_ps(p + 16);
        return;
    }
    case HR_TYPE_F16:
        *lo = _mm512_cvtph_ps(load256(row + col * 2));
        *hi = _mm512_cvtph_ps(load256(row + col * 2 + 32));
        return;
    case HR_TYPE_BF16:
        *lo = bf16_to_ps(load256(row + col * 2));
        *hi = bf16_to_ps(load256(row + col * 2 + 32));
        return;
    case HR_TYPE_Q8_0: {
        const uint8_t *b = row + col / 32 * 34;
        __m512 d = _mm512_set1_ps(f16_at(b));
        *lo = _mm512_mul_ps(d, i8_to_ps(load128(b + 2)));
        *hi = _mm512_mul_ps(d, i8_to_ps(load128(b + 18)));
        return;
    }
    case HR_TYPE_Q4_0: {
        const uint8_t *b = row + col / 32 * 18;
        __m512 lut = _mm512_mul_ps(_mm512_set1_ps(f16_at(b)), iota(-8));
        __m128i ql, qh;
        nibbles16(b + 2, &ql, &qh);
        *lo = lut16(ql, lut);
        *hi = lut16(qh, lut);
        return;
    }
    case HR_TYPE_Q4_1: {
        const uint8_t *b = row + col / 32 * 20;
        __m512 d = _mm512_set1_ps(f16_at(b)), m = _mm512_set1_ps(f16_at(b + 2));
        __m512 lut = _mm512_add_ps(_mm512_mul_ps(d, iota(0)), m);
        __m128i ql, qh;
        nibbles16(b + 4, &ql, &qh);
        *lo = lut16(ql, lut);
        *hi = lut16(qh, lut);
        return;
    }
    case HR_TYPE_Q5_0:
    case HR_TYPE_Q5_1: {
        /* bit j of qh is the fifth bit of element j: a mask register selects the lanes */
        bool is_1 = type == HR_TYPE_Q5_1;
        const uint8_t *b = row + col / 32 * (is_1 ? 24 : 22);
        const uint8_t *qh_p = b + (is_1 ? 4 : 2);
        uint32_t qh;
        memcpy(&qh, qh_p, 4);
        __m128i ql, qhn;
        nibbles16(qh_p + 4, &ql, &qhn);
        __m512i vl = _mm512_cvtepu8_epi32(ql), vh = _mm512_cvtepu8_epi32(qhn);
        __m512i sixteen = _mm512_set1_epi32(16);
        __mmask16 ml = (__mmask16)(qh & 0xFFFF), mh = (__mmask16)(qh >> 16);
        __m512 d = _mm512_set1_ps(f16_at(b));
        if (is_1) {
            /* x = d * (q | bit << 4) + m */
            __m512 m = _mm512_set1_ps(f16_at(b + 2));
            vl = _mm512_mask_add_epi32(vl, ml, vl, sixteen);
            vh = _mm512_mask_add_epi32(vh, mh, vh, sixteen);
            *lo = _mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(vl)), m);
            *hi = _mm512_add_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(vh)), m);
        } else {
            /* x = d * ((q | bit << 4) - 16): subtract 16 where the bit is clear */
            vl = _mm512_mask_sub_epi32(vl, (__mmask16)~ml, vl, sixteen);
            vh = _mm512_mask_sub_epi32(vh, (__mmask16)~mh, vh, sixteen);
            *lo = _mm512_mul_ps(d, _mm512_cvtepi32_ps(vl));
            *hi = _mm512_mul_ps(d, _mm512_cvtepi32_ps(vh));
        }
        return;
    }
    case HR_TYPE_Q2_K: {
        /* chunk c (0..7) takes bits 2 (c % 4) of qs bytes 32 (c / 4)..; elements 0-15 and
           16-31 each have a scale byte (low nibble: scale, high: min) */
        const uint8_t *b = row + col / 256 * 84;
        int c = (int)(col % 256 / 32);
        uint8_t s0 = b[2 * c], s1 = b[2 * c + 1];
        float d = f16_at(b + 80), dmin = f16_at(b + 82);
        __m256i q = crumbs32(b + 16 + 32 * (c / 4), 2 * (c % 4));
        *lo = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(d * (float)(s0 & 0x0F)),
                                          u8_to_ps(_mm256_castsi256_si128(q))),
                            _mm512_set1_ps(dmin * (float)(s0 >> 4)));
        *hi = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(d * (float)(s1 & 0x0F)),
                                          u8_to_ps(_mm256_extracti128_si256(q, 1))),
                            _mm512_set1_ps(dmin * (float)(s1 >> 4)));
        return;
    }
    case HR_TYPE_Q3_K: {
        /* chunk c (0..7): bits 2 (c % 4) of qs bytes 32 (c / 4).., minus 4 where bit c of the
           hmask byte is clear; 6-bit signed scales 2c and 2c + 1 */
        const uint8_t *b = row + col / 256 * 110;
        int c = (int)(col % 256 / 32);
        __m256i q = crumbs32(b + 32 + 32 * (c / 4), 2 * (c % 4));
        __m256i hb = _mm256_srl_epi16(load256(b), _mm_cvtsi32_si128(c));
        hb = _mm256_slli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8(1)), 2);
        q = _mm256_sub_epi8(_mm256_or_si256(q, hb), _mm256_set1_epi8(4));
        float d = f16_at(b + 108);
        *lo = _mm512_mul_ps(_mm512_set1_ps(d * (float)scale_q3k(b + 96, 2 * c)),
                            i8_to_ps(_mm256_castsi256_si128(q)));
        *hi = _mm512_mul_ps(_mm512_set1_ps(d * (float)scale_q3k(b + 96, 2 * c + 1)),
                            i8_to_ps(_mm256_extracti128_si256(q, 1)));
        return;
    }
    case HR_TYPE_Q4_K:
    case HR_TYPE_Q5_K: {
        /* sub-block s (0..7) of 32: nibble half s & 1 of the 32 bytes s / 2; Q5_K adds bit s of
           each of its 32 qh bytes as the fifth bit */
        bool is_5 = type == HR_TYPE_Q5_K;
        const uint8_t *b = row + col / 256 * (is_5 ? 176 : 144);
        int s = (int)(col % 256 / 32), sc, mn;
        hr_kernels__scale_min_k4(s, b + 4, &sc, &mn);
        float d1 = f16_at(b) * (float)sc, m1 = f16_at(b + 2) * (float)mn;
        __m256i q = nibbles32(b + (is_5 ? 48 : 16) + 32 * (s / 2), s & 1);
        if (is_5)
            q = _mm256_or_si256(q, high_bits32(b + 16, s, 1));
        __m512 d = _mm512_set1_ps(d1), m = _mm512_set1_ps(m1);
        if (!is_5) {
            __m512 lut = _mm512_sub_ps(_mm512_mul_ps(d, iota(0)), m);
            *lo = lut16(_mm256_castsi256_si128(q), lut);
            *hi = lut16(_mm256_extracti128_si256(q, 1), lut);
            return;
        }
        *lo = _mm512_sub_ps(_mm512_mul_ps(d, u8_to_ps(_mm256_castsi256_si128(q))), m);
        *hi = _mm512_sub_ps(_mm512_mul_ps(d, u8_to_ps(_mm256_extracti128_si256(q, 1))), m);
        return;
    }
    case HR_TYPE_Q6_K: {
        /* half h (128 elements) uses ql[64h..], qh[32h..], scales[8h..]; its chunk k (0..3)
           takes nibble half k / 2 of ql bytes 32 (k & 1).., bits 2k, 2k+1 of the qh bytes, and
           one int8 scale per 16 elements */
        const uint8_t *b = row + col / 256 * 210;
        int in = (int)(col % 256), h = in / 128, k = in % 128 / 32;
        const int8_t *sc = (const int8_t *)(b + 192 + 8 * h);
        float d = f16_at(b + 208);
        __m256i q = nibbles32(b + 64 * h + 32 * (k & 1), k >= 2);
        q = _mm256_or_si256(q, high_bits32(b + 128 + 32 * h, 2 * k, 3));
        q = _mm256_sub_epi8(q, _mm256_set1_epi8(32));
        *lo = _mm512_mul_ps(_mm512_set1_ps(d * (float)sc[2 * k]),
                            i8_to_ps(_mm256_castsi256_si128(q)));
        *hi = _mm512_mul_ps(_mm512_set1_ps(d * (float)sc[2 * k + 1]),
                            i8_to_ps(_mm256_extracti128_si256(q, 1)));
        return;
    }
    default: {
        /* a block type without a path above: decoded in plain C when the walk enters a block */
        const struct hr_dtype_info *ti = hr_dtype_get(type);
        size_t in_block = col % ti->block_elems;
        if (in_block == 0)
            hr_kernels__block_fn(type)(row + col / ti->block_elems * ti->block_bytes, buf);
        *lo = _mm512_loadu_ps(buf + in_block);
        *hi = _mm512_loadu_ps(buf + in_block + 16);
        return;
    }
    }
}

/* The last n (1..31) elements of a float-type row from col, zeros beyond, with lane masks. */
AVX512 INLINE void decode_tail(uint32_t type, const uint8_t *row, size_t col, __mmask16 ml,
                               __mmask16 mh, __m512 *lo, __m512 *hi)
{
    if (type == HR_TYPE_F32) {
        const float *p = (const float *)(const void *)(row + col * 4);
        *lo = _mm512_maskz_loadu_ps(ml, p);
        *hi = _mm512_maskz_loadu_ps(mh, p + 16);
        return;
    }
    __m256i a = _mm256_maskz_loadu_epi16(ml, row + col * 2);
    __m256i b = _mm256_maskz_loadu_epi16(mh, row + col * 2 + 32);
    if (type == HR_TYPE_F16) {
        *lo = _mm512_cvtph_ps(a);
        *hi = _mm512_cvtph_ps(b);
    } else {
        *lo = bf16_to_ps(a);
        *hi = bf16_to_ps(b);
    }
}

/* The sum of 16 lanes in a fixed order. */
AVX512 INLINE float hsum(__m512 v)
{
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* y[t * ldy] = dot(row, x + t * ldx) for nt tokens; nt is a constant where this is inlined,
 * so the accumulators live in registers. */
AVX512 INLINE void group(uint32_t type, const uint8_t *row, size_t n_cols, const float *x,
                         size_t ldx, float *y, size_t ldy, int nt, float *buf)
{
    __m512 alo[GROUP_MAX], ahi[GROUP_MAX];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) {
        alo[t] = _mm512_setzero_ps();
        ahi[t] = _mm512_setzero_ps();
    }
    size_t full = n_cols / 32 * 32;
    for (size_t c = 0; c < full; c += 32) {
        __m512 wlo, whi;
        decode32(type, row, c, &wlo, &whi, buf);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const float *xp = x + (size_t)t * ldx + c;
            alo[t] = _mm512_fmadd_ps(wlo, _mm512_loadu_ps(xp), alo[t]);
            ahi[t] = _mm512_fmadd_ps(whi, _mm512_loadu_ps(xp + 16), ahi[t]);
        }
    }
    if (full < n_cols) {
        /* float types only: a row whose length is not a multiple of 32 ends in masked lanes */
        size_t n = n_cols - full;
        __mmask16 ml = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
        __mmask16 mh = (__mmask16)(n > 16 ? (1u << (n - 16)) - 1 : 0);
        __m512 wlo, whi;
        decode_tail(type, row, full, ml, mh, &wlo, &whi);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const float *xp = x + (size_t)t * ldx + full;
            alo[t] = _mm512_fmadd_ps(wlo, _mm512_maskz_loadu_ps(ml, xp), alo[t]);
            ahi[t] = _mm512_fmadd_ps(whi, _mm512_maskz_loadu_ps(mh, xp + 16), ahi[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        y[(size_t)t * ldy] = hsum(_mm512_add_ps(alo[t], ahi[t]));
}

/* Rows [r0, r1) for tokens [t0, t0 + nt), nt a constant where this is inlined. */
AVX512 INLINE void rows_group(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                              size_t n_cols, const float *x, float *y, size_t r0, size_t r1,
                              size_t t0, int nt, float *buf)
{
    for (size_t r = r0; r < r1; r++)
        group(type, w + r * row_bytes, n_cols, x + t0 * n_cols, n_cols, y + t0 * n_rows + r,
              n_rows, nt, buf);
}

/* Rows [r0, r1): tokens in groups of 8, then 4, 2 and 1 (each size a separate inlined copy).
 * The token group is the outer loop: its activations (8 rows of x) stay in L1 while the
 * weight rows stream past, which costs far less than streaming a long prompt's activations
 * once per weight row. */
AVX512 INLINE void rows(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                        size_t n_cols, const float *x, size_t n_tok, float *y, size_t r0,
                        size_t r1)
{
    float buf[256];
    size_t t = 0;
    for (; t + 8 <= n_tok; t += 8)
        rows_group(type, w, row_bytes, n_rows, n_cols, x, y, r0, r1, t, 8, buf);
    if (n_tok - t >= 4) {
        rows_group(type, w, row_bytes, n_rows, n_cols, x, y, r0, r1, t, 4, buf);
        t += 4;
    }
    if (n_tok - t >= 2) {
        rows_group(type, w, row_bytes, n_rows, n_cols, x, y, r0, r1, t, 2, buf);
        t += 2;
    }
    if (n_tok - t >= 1)
        rows_group(type, w, row_bytes, n_rows, n_cols, x, y, r0, r1, t, 1, buf);
}

/* One copy of the loops per type, so no per-chunk switch remains in the hot loop. */
#define ROWS_FOR(t) rows(t, w, row_bytes, n_rows, n_cols, x, n_tok, y, r0, r1)

AVX512 void hr_kernels__mm_rows_avx512(uint32_t type, const uint8_t *w, size_t row_bytes,
                                       size_t n_rows, size_t n_cols, const float *x,
                                       size_t n_tok, float *y, size_t r0, size_t r1)
{
    switch (type) {
    case HR_TYPE_F32:
        ROWS_FOR(HR_TYPE_F32);
        break;
    case HR_TYPE_F16:
        ROWS_FOR(HR_TYPE_F16);
        break;
    case HR_TYPE_BF16:
        ROWS_FOR(HR_TYPE_BF16);
        break;
    case HR_TYPE_Q8_0:
        ROWS_FOR(HR_TYPE_Q8_0);
        break;
    case HR_TYPE_Q4_0:
        ROWS_FOR(HR_TYPE_Q4_0);
        break;
    case HR_TYPE_Q4_1:
        ROWS_FOR(HR_TYPE_Q4_1);
        break;
    case HR_TYPE_Q5_0:
        ROWS_FOR(HR_TYPE_Q5_0);
        break;
    case HR_TYPE_Q5_1:
        ROWS_FOR(HR_TYPE_Q5_1);
        break;
    case HR_TYPE_Q2_K:
        ROWS_FOR(HR_TYPE_Q2_K);
        break;
    case HR_TYPE_Q3_K:
        ROWS_FOR(HR_TYPE_Q3_K);
        break;
    case HR_TYPE_Q4_K:
        ROWS_FOR(HR_TYPE_Q4_K);
        break;
    case HR_TYPE_Q5_K:
        ROWS_FOR(HR_TYPE_Q5_K);
        break;
    case HR_TYPE_Q6_K:
        ROWS_FOR(HR_TYPE_Q6_K);
        break;
    default:
        ROWS_FOR(type);
        break;
    }
}

/* cpuid: AVX-512 F (leaf 7 EBX bit 16), DQ (17), BW (30), VL (31), AVX2 (5); FMA and F16C
 * (leaf 1 ECX bits 12, 29); and the OS saving the state (OSXSAVE, then XCR0 bits 1, 2 for
 * XMM/YMM and 5, 6, 7 for the opmask registers and the two halves of ZMM state). */
bool hr_kernels__have_avx512(void)
{
    return hr_kernels__cpu_has(0xE6, (1u << 5) | (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31),
                               0);
}

#else

void hr_kernels__mm_rows_avx512(uint32_t type, const uint8_t *w, size_t row_bytes,
                                size_t n_rows, size_t n_cols, const float *x, size_t n_tok,
                                float *y, size_t r0, size_t r1)
{
    (void)type, (void)w, (void)row_bytes, (void)n_rows, (void)n_cols, (void)x, (void)n_tok;
    (void)y, (void)r0, (void)r1;
}

bool hr_kernels__have_avx512(void)
{
    return false;
}

#endif
