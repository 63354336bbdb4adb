/* AVX2 + FMA + F16C matrix rows, chosen at run time when the CPU has them (cpuid): block
 * decoding of F16 (vcvtph2ps), Q8_0 and Q4_0 in vector registers and 8-wide fused
 * multiply-adds. The loop structure and the per-token summation order are fixed, so results
 * are the same whatever the batch, tile or thread count (batch invariance holds per kernel);
 * they differ from the plain-C kernel only by rounding (tested within a tolerance). Engine
 * thread and pool workers. */
#include <string.h>

#include "kernels_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define TILE 16

AVX2 static inline __m256 load_f16x8(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* 32 elements of a row starting at element col (a multiple of 32) into 4 vectors. */
AVX2 static inline void decode32(uint32_t type, const uint8_t *row, size_t col, __m256 v[4],
                                 float *buf)
{
    switch (type) {
    case HR_TYPE_F32: {
        const float *p = (const float *)(const void *)(row + col * 4);
        for (int k = 0; k < 4; k++)
            v[k] = _mm256_loadu_ps(p + 8 * k);
        return;
    }
    case HR_TYPE_F16: {
        const uint8_t *p = row + col * 2;
        for (int k = 0; k < 4; k++)
            v[k] = load_f16x8(p + 16 * k);
        return;
    }
    case HR_TYPE_Q8_0: {
        const uint8_t *b = row + col / 32 * 34;
        uint16_t h;
        memcpy(&h, b, 2);
        __m256 d = _mm256_set1_ps(hr_f16_table[h]);
        for (int k = 0; k < 4; k++) {
            __m128i q8 = _mm_loadl_epi64((const __m128i *)(const void *)(b + 2 + 8 * k));
            v[k] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)));
        }
        return;
    }
    case HR_TYPE_Q4_0: {
        const uint8_t *b = row + col / 32 * 18;
        uint16_t h;
        memcpy(&h, b, 2);
        __m256 d = _mm256_set1_ps(hr_f16_table[h]);
        __m128i q = _mm_loadu_si128((const __m128i *)(const void *)(b + 2));
        __m128i lo = _mm_and_si128(q, _mm_set1_epi8(0x0F));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0F));
        __m128i eight = _mm_set1_epi8(8);
        lo = _mm_sub_epi8(lo, eight);
        hi = _mm_sub_epi8(hi, eight);
        v[0] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)));
        v[1] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))));
        v[2] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)));
        v[3] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))));
        return;
    }
    default: {
        /* other block types: decoded once per block (32 or 256) in plain C, then loaded */
        const struct hr_dtype_info *ti = hr_dtype_get(type);
        size_t in_block = col % ti->block_elems;
        if (in_block == 0) {
            if (type == HR_TYPE_BF16)
                hr_dequant_row(type, row + col * 2, buf, 32);
            else
                hr_kernels__block_fn(type)(row + col / ti->block_elems * ti->block_bytes, buf);
        }
        const float *p = type == HR_TYPE_BF16 ? buf : buf + in_block;
        for (int k = 0; k < 4; k++)
            v[k] = _mm256_loadu_ps(p + 8 * k);
        return;
    }
    }
}

AVX2 static inline float hsum(__m256 a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 void hr_kernels__mm_rows_avx2(uint32_t type, const uint8_t *w, size_t row_bytes,
                                   size_t n_rows, size_t n_cols, const float *x, size_t n_tok,
                                   float *y, size_t r0, size_t r1)
{
    float buf[256];
    size_t full = n_cols / 32 * 32;
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *row = w + r * row_bytes;
        for (size_t t0 = 0; t0 < n_tok; t0 += TILE) {
            size_t nt = n_tok - t0 < TILE ? n_tok - t0 : TILE;
            __m256 acc[TILE];
            for (size_t t = 0; t < nt; t++)
                acc[t] = _mm256_setzero_ps();
            for (size_t c = 0; c < full; c += 32) {
                __m256 v[4];
                decode32(type, row, c, v, buf);
                for (size_t t = 0; t < nt; t++) {
                    const float *xp = x + (t0 + t) * n_cols + c;
                    __m256 a = acc[t];
                    for (int k = 0; k < 4; k++)
                        a = _mm256_fmadd_ps(v[k], _mm256_loadu_ps(xp + 8 * k), a);
                    acc[t] = a;
                }
            }
            for (size_t t = 0; t < nt; t++) {
                float sum = hsum(acc[t]);
                /* a row whose length is not a multiple of 32 (float types only): scalar tail */
                for (size_t c = full; c < n_cols; c++) {
                    float wv;
                    hr_dequant_row(type, row + c * (type == HR_TYPE_F32 ? 4 : 2), &wv, 1);
                    sum += wv * x[(t0 + t) * n_cols + c];
                }
                y[(t0 + t) * n_rows + r] = sum;
            }
        }
    }
}

/* Halves to floats eight at a time (exact, as the scalar decode): the KV cache's F16 rows
 * are widened for every attention score, so this is on prefill's hot path. */
AVX2 void hr_kernels__f16_row_avx2(const uint8_t *p, float *out, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * i))));
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = hr_f16_table[h];
    }
}

/* n floats to halves, rounded to nearest even as hr_f32_to_f16 does (F16C's rounding mode
 * is given, not taken from MXCSR). */
AVX2 void hr_kernels__f16_from_f32_avx2(const float *in, uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(p + 2 * i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) {
        uint16_t h = hr_f32_to_f16(in[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

/* Attention on an F16 KV cache without widening rows first: q . k for n halves at k (n a
 * multiple of 8 here; the tail in plain C), and out += a * v. */
AVX2 float hr_kernels__dot_f16_avx2(const uint8_t *k, const float *q, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + 2 * i))),
                             _mm256_loadu_ps(q + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + 2 * i + 16))),
                             _mm256_loadu_ps(q + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + 2 * i))),
                             _mm256_loadu_ps(q + i), s0);
    __m256 s = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float sum = _mm_cvtss_f32(h);
    for (; i < n; i++) {
        uint16_t b;
        memcpy(&b, k + 2 * i, 2);
        sum += hr_f16_table[b] * q[i];
    }
    return sum;
}

AVX2 void hr_kernels__axpy_f16_avx2(float a, const uint8_t *v, float *out, size_t n)
{
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i,
                         _mm256_fmadd_ps(va, _mm256_cvtph_ps(_mm_loadu_si128(
                                                 (const __m128i *)(v + 2 * i))),
                                         _mm256_loadu_ps(out + i)));
    for (; i < n; i++) {
        uint16_t b;
        memcpy(&b, v + 2 * i, 2);
        out[i] += a * hr_f16_table[b];
    }
}

/* cpuid: AVX2 (leaf 7 EBX bit 5), FMA (leaf 1 ECX bit 12), F16C (leaf 1 ECX bit 29), and the
 * OS saving YMM state (OSXSAVE, then XCR0 bits 1 and 2). */
bool hr_kernels__have_avx2(void)
{
    return hr_kernels__cpu_has(0x6, 1u << 5, 0);
}

#else

void hr_kernels__mm_rows_avx2(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                              size_t n_cols, const float *x, size_t n_tok, float *y, size_t r0,
                              size_t r1)
{
    (void)type, (void)w, (void)row_bytes, (void)n_rows, (void)n_cols, (void)x, (void)n_tok;
    (void)y, (void)r0, (void)r1;
}

bool hr_kernels__have_avx2(void)
{
    return false;
}

void hr_kernels__f16_from_f32_avx2(const float *in, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h = hr_f32_to_f16(in[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

void hr_kernels__f16_row_avx2(const uint8_t *p, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = hr_f16_table[h];
    }
}

float hr_kernels__dot_f16_avx2(const uint8_t *k, const float *q, size_t n)
{
    float sum = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, k + 2 * i, 2);
        sum += hr_f16_table[h] * q[i];
    }
    return sum;
}

void hr_kernels__axpy_f16_avx2(float a, const uint8_t *v, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, v + 2 * i, 2);
        out[i] += a * hr_f16_table[h];
    }
}

#endif
