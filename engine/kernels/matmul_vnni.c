/* AVX-512 VNNI integer rows for Q8_0 and Q4_0 (the "avx512vnni" set): activations quantized
 * per 32-element block to int8 with one float scale (as llama.cpp's Q8_0 activations), then
 * 64 products at a time summed in int32 by vpdpbusd and scaled once per block. Other types,
 * and rows longer than MAX_COLS, go to the float AVX-512 rows. Engine thread and pool workers.
 *
 * Exactness: a block's integer sum is exact, so the only roundings are the activation
 * quantization (at most half a step, amax / 254, per element) and the float scaling and
 * accumulation, which run in a fixed order per token. A token's activations are quantized
 * from its own values alone, so batch invariance holds as in the float sets. */
#include <string.h>

#include "kernels_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))
#define GROUP 8
/* Longest row the integer path takes: a group's quantized activations live on the stack
 * (GROUP * MAX_COLS bytes plus one float per block, 72 KiB), not in an allocation. */
#define MAX_COLS 8192
/* Round to nearest even whatever MXCSR says, so the quantization is fixed. */
#define RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

INLINE float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return hr_f16_table[h];
}

/* One token's activations, n_cols (a multiple of 32) floats: xu gets q + 128 (q = round(x /
 * d) in [-127, 127], unsigned for vpdpbusd), d[b] the scale of block b (amax / 127). */
VNNI INLINE void quantize_x(const float *x, size_t n_cols, uint8_t *xu, float *d)
{
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (size_t b = 0; b < n_cols / 32; b++) {
        __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
        __m512 a = _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1));
        __m256 m8 = _mm256_max_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        d[b] = amax / 127.0f;
        __m512 id = _mm512_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
        __m512i off = _mm512_set1_epi32(128);
        __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id), RND);
        __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id), RND);
        _mm_storeu_si128((__m128i *)(void *)(xu + 32 * b),
                         _mm512_cvtepi32_epi8(_mm512_add_epi32(q0, off)));
        _mm_storeu_si128((__m128i *)(void *)(xu + 32 * b + 16),
                         _mm512_cvtepi32_epi8(_mm512_add_epi32(q1, off)));
    }
}

/* Blocks b and b + 1 (only b when !pair: the upper half is zero) as 64 signed bytes in
 * element order, with their scales. */
VNNI INLINE __m512i weights64(uint32_t type, const uint8_t *row, size_t b, bool pair, float *da,
                              float *db)
{
    if (type == HR_TYPE_Q8_0) {
        const uint8_t *p = row + b * 34;
        *da = f16_at(p);
        *db = pair ? f16_at(p + 34) : 0.0f;
        __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)(p + 2));
        __m256i hi = pair ? _mm256_loadu_si256((const __m256i *)(const void *)(p + 36))
                          : _mm256_setzero_si256();
        return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    /* Q4_0: [lo nibbles a | lo b] and [hi a | hi b], reordered to a's 32 then b's 32, less 8 */
    const uint8_t *p = row + b * 18;
    *da = f16_at(p);
    *db = pair ? f16_at(p + 18) : 0.0f;
    __m128i qa = _mm_loadu_si128((const __m128i *)(const void *)(p + 2));
    __m128i qb = pair ? _mm_loadu_si128((const __m128i *)(const void *)(p + 20))
                      : _mm_set1_epi8((char)0x88);
    __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(qa), qb, 1);
    __m256i m = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_and_si256(q, m), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m);
    __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    w = _mm512_shuffle_i64x2(w, w, _MM_SHUFFLE(3, 1, 2, 0));
    /* a lone block's filler nibbles are 8, so its upper half is 0 after this */
    return _mm512_sub_epi8(w, _mm512_set1_epi8(8));
}

VNNI INLINE float hsum(__m512 v)
{
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* y[t * ldy] = dot(row, token t) for nt (constant where inlined) quantized tokens. Per pair of
 * blocks and token: lanes 0-7 hold block b's four-product sums, 8-15 block b + 1's; each lane
 * is scaled by its block's weight and activation scales and added to the token's one
 * accumulator. */
VNNI INLINE void group(uint32_t type, const uint8_t *row, size_t n_cols, const uint8_t *xu,
                       const float *dx, float *y, size_t ldy, int nt)
{
    __m512 acc[GROUP];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    size_t nb = n_cols / 32;
    for (size_t b = 0; b < nb; b += 2) {
        bool pair = b + 1 < nb;
        float da, db;
        __m512i w = weights64(type, row, b, pair, &da, &db);
        /* x is stored as q + 128: the 128 * sum(w) it adds is the same for every token */
        __m512i corr = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), w);
        __m512 sw = _mm512_insertf32x8(_mm512_set1_ps(da), _mm256_set1_ps(db), 1);
        __mmask64 bytes = pair ? ~(__mmask64)0 : (__mmask64)0xFFFFFFFFu;
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const uint8_t *xp = xu + (size_t)t * MAX_COLS + 32 * b;
            __m512i xv = _mm512_maskz_loadu_epi8(bytes, xp);
            __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), xv, w);
            __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(dot, corr));
            const float *dp = dx + (size_t)t * (MAX_COLS / 32) + b;
            __m512 sx = _mm512_insertf32x8(_mm512_set1_ps(dp[0]),
                                           _mm256_set1_ps(pair ? dp[1] : 0.0f), 1);
            acc[t] = _mm512_fmadd_ps(f, _mm512_mul_ps(sw, sx), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        y[(size_t)t * ldy] = hsum(acc[t]);
}

VNNI INLINE void rows_group(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                            size_t n_cols, const uint8_t *xu, const float *dx, float *y,
                            size_t r0, size_t r1, int nt)
{
    for (size_t r = r0; r < r1; r++)
        group(type, w + r * row_bytes, n_cols, xu, dx, y + r, n_rows, nt);
}

/* Tokens in groups of up to 8 (outer loop: a group's quantized activations stay in L1 while
 * the rows stream past), each group quantized once per call on this thread. */
VNNI INLINE void rows(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                      size_t n_cols, const float *x, size_t n_tok, float *y, size_t r0,
                      size_t r1)
{
    uint8_t xu[GROUP * MAX_COLS];
    float dx[GROUP * (MAX_COLS / 32)];
    for (size_t t0 = 0; t0 < n_tok; t0 += GROUP) {
        size_t nt = n_tok - t0 < GROUP ? n_tok - t0 : GROUP;
        for (size_t t = 0; t < nt; t++)
            quantize_x(x + (t0 + t) * n_cols, n_cols, xu + t * MAX_COLS,
                       dx + t * (MAX_COLS / 32));
        float *yg = y + t0 * n_rows;
        switch (nt) {
        case 8:
            rows_group(type, w, row_bytes, n_rows, n_cols, xu, dx, yg, r0, r1, 8);
            break;
        case 7:
            rows_group(type, w, row_bytes, n_rows, n_cols, xu, dx, yg, r0, r1, 7);
            break;
        case 6:
            rows_group(type, w, row_bytes, n_rows, n_cols, xu, dx, yg, r0, r1, 6);
            break;
        case 5:
            rows_group(type, w, row_bytes, n_rows, n_cols, xu, dx, yg, r0, r1, 5);
            break;
        case 4:
            rows_group(type, w, row_bytes, n_rows, n_cols, xu, dx, yg, r0, r1, 4);
            break;
        case 3:
            rows_group(type, w, row_bytes, n_rows, n_cols, xu, dx, yg, r0, r1, 3);
            break;
        case 2:
            rows_group(type, w, row_bytes, n_rows, n_cols, xu, dx, yg, r0, r1, 2);
            break;
        default:
            rows_group(type, w, row_bytes, n_rows, n_cols, xu, dx, yg, r0, r1, 1);
            break;
        }
    }
}

VNNI void hr_kernels__mm_rows_vnni(uint32_t type, const uint8_t *w, size_t row_bytes,
                                   size_t n_rows, size_t n_cols, const float *x, size_t n_tok,
                                   float *y, size_t r0, size_t r1)
{
    if (type == HR_TYPE_Q8_0 && n_cols <= MAX_COLS)
        rows(HR_TYPE_Q8_0, w, row_bytes, n_rows, n_cols, x, n_tok, y, r0, r1);
    else if (type == HR_TYPE_Q4_0 && n_cols <= MAX_COLS)
        rows(HR_TYPE_Q4_0, w, row_bytes, n_rows, n_cols, x, n_tok, y, r0, r1);
    else
        hr_kernels__mm_rows_avx512(type, w, row_bytes, n_rows, n_cols, x, n_tok, y, r0, r1);
}

/* The AVX-512 set's checks plus AVX512_VNNI (leaf 7 ECX bit 11). */
bool hr_kernels__have_vnni(void)
{
    return hr_kernels__have_avx512() && hr_kernels__cpu_has(0xE6, 0, 1u << 11);
}

#else

void hr_kernels__mm_rows_vnni(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                              size_t n_cols, const float *x, size_t n_tok, float *y, size_t r0,
                              size_t r1)
{
    (void)type, (void)w, (void)row_bytes, (void)n_rows, (void)n_cols, (void)x, (void)n_tok;
    (void)y, (void)r0, (void)r1;
}

bool hr_kernels__have_vnni(void)
{
    return false;
}

#endif
