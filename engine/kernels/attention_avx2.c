/* Attention over an F16 KV cache with AVX2 (the avx2 set), for head sizes that are a multiple
 * of 8: the walk of attention_avx512.c (16-position blocks widened once for up to
 * HR_ATTN_MAX_QUERIES queries of one KV head, online softmax) on 8-float registers. A
 * block's 16 scores come from two sets of 8 dot products, each reduced by a fixed tree.
 *
 * Batch invariance as there: a query's bits depend on its vector, its positions and the cache
 * alone. Engine thread and pool workers. */
#include <math.h>
#include <string.h>

#include "kernels_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))
#define ROWS 16
#define MAX_CHUNKS (HR_MODEL_MAX_HEAD_DIM / 8)

/* e^x for 8 lanes x <= 0 (as every score less the running max is), within 2 ulp; 0 below
 * -87 (and for -inf), where 2^n would leave the normal range. */
AVX2 INLINE __m256 exp8(__m256 x)
{
    __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* Lane r of the result: the sum of a[r]'s 8 lanes, by a fixed tree. */
AVX2 INLINE __m256 reduce8(const __m256 a[8])
{
    __m256 s0 = _mm256_hadd_ps(a[0], a[1]), s1 = _mm256_hadd_ps(a[2], a[3]);
    __m256 s2 = _mm256_hadd_ps(a[4], a[5]), s3 = _mm256_hadd_ps(a[6], a[7]);
    __m256 t0 = _mm256_hadd_ps(s0, s1), t1 = _mm256_hadd_ps(s2, s3);
    /* t0: rows 0-3 of the low 128 bits' halves then the high ones; likewise t1 for 4-7 */
    return _mm256_add_ps(_mm256_permute2f128_ps(t0, t1, 0x20),
                         _mm256_permute2f128_ps(t0, t1, 0x31));
}

AVX2 INLINE float hmax8(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

AVX2 INLINE float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* Rows [r0, r1) of a block (halves, row_bytes apart) widened into dst (nc chunks of 8). */
AVX2 INLINE void widen(const uint8_t *src, size_t row_bytes, uint32_t r0, uint32_t r1,
                       uint32_t nc, float *dst)
{
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *p = src + r * row_bytes;
        float *d = dst + (size_t)r * nc * 8;
        for (uint32_t c = 0; c < nc; c++)
            _mm256_store_ps(d + 8 * c, _mm256_cvtph_ps(_mm_loadu_si128(
                                           (const __m128i *)(const void *)(p + 16 * c))));
    }
}

/* 8 rows' scores from row r0: q . K row, each row's 8 lanes summed. */
AVX2 INLINE __m256 scores8(const float *q, const float *kf, uint32_t r0, uint32_t nc)
{
    __m256 acc[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        acc[r] = _mm256_setzero_ps();
    for (uint32_t c = 0; c < nc; c++) {
        __m256 qc = _mm256_loadu_ps(q + 8 * c);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
            acc[r] = _mm256_fmadd_ps(qc, _mm256_load_ps(kf + ((size_t)(r0 + r) * nc + c) * 8),
                                     acc[r]);
    }
    return reduce8(acc);
}

/* out = out * corr + sum of ev[r] * V row r for r in [a, b), two chains per chunk, four
 * chunks at a time. */
AVX2 INLINE void accumulate(float *out, float corr, const float ev[ROWS], const float *vf,
                            uint32_t a, uint32_t b, uint32_t nc)
{
    const __m256 vc = _mm256_set1_ps(corr);
    size_t rs = (size_t)nc * 8;
    uint32_t c0 = 0;
    for (; c0 + 4 <= nc; c0 += 4) {
        float *o = out + 8 * c0;
        const float *v = vf + 8 * c0;
        __m256 e[4], d[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            e[k] = _mm256_mul_ps(_mm256_loadu_ps(o + 8 * k), vc);
            d[k] = _mm256_setzero_ps();
        }
        uint32_t r = a;
        for (; r + 2 <= b; r += 2) {
            __m256 x = _mm256_set1_ps(ev[r]), y = _mm256_set1_ps(ev[r + 1]);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                e[k] = _mm256_fmadd_ps(x, _mm256_load_ps(v + r * rs + 8 * k), e[k]);
                d[k] = _mm256_fmadd_ps(y, _mm256_load_ps(v + (r + 1) * rs + 8 * k), d[k]);
            }
        }
        if (r < b) {
            __m256 x = _mm256_set1_ps(ev[r]);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                e[k] = _mm256_fmadd_ps(x, _mm256_load_ps(v + r * rs + 8 * k), e[k]);
        }
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            _mm256_storeu_ps(o + 8 * k, _mm256_add_ps(e[k], d[k]));
    }
    for (uint32_t c = c0; c < nc; c++) {
        __m256 e = _mm256_mul_ps(_mm256_loadu_ps(out + 8 * c), vc), d = _mm256_setzero_ps();
        uint32_t r = a;
        for (; r + 2 <= b; r += 2) {
            e = _mm256_fmadd_ps(_mm256_set1_ps(ev[r]), _mm256_load_ps(vf + r * rs + 8 * c), e);
            d = _mm256_fmadd_ps(_mm256_set1_ps(ev[r + 1]),
                                _mm256_load_ps(vf + (r + 1) * rs + 8 * c), d);
        }
        if (r < b)
            e = _mm256_fmadd_ps(_mm256_set1_ps(ev[r]), _mm256_load_ps(vf + r * rs + 8 * c), e);
        _mm256_storeu_ps(out + 8 * c, _mm256_add_ps(e, d));
    }
}

AVX2 bool hr_kernels__attn_f16_avx2(const struct hr_attn_kv *kv, const struct hr_attn_query *qs,
                                    uint32_t nq)
{
    uint32_t hd = kv->head_dim;
    if (nq == 0 || nq > HR_ATTN_MAX_QUERIES || hd == 0 || hd % 8 || hd > HR_MODEL_MAX_HEAD_DIM)
        return false;
    uint32_t nc = hd / 8;
    float m[HR_ATTN_MAX_QUERIES], l[HR_ATTN_MAX_QUERIES];
    uint32_t lo, hi;
    hr_kernels__attn_begin(qs, nq, hd, m, l, &lo, &hi);
    _Alignas(32) float kf[ROWS * MAX_CHUNKS * 8], vf[ROWS * MAX_CHUNKS * 8];
    const __m256 scale = _mm256_set1_ps(kv->scale);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (uint32_t p0 = lo / ROWS * ROWS; p0 < hi; p0 += ROWS) {
        const size_t off = (size_t)kv->table[p0 / ROWS] * kv->block_bytes;
        uint32_t r0 = lo > p0 ? lo - p0 : 0, r1 = hi - p0 < ROWS ? hi - p0 : ROWS;
        /* rows no query here reads still enter the dot products: keep them finite */
        memset(kf, 0, (size_t)r0 * nc * 8 * sizeof(float));
        memset(kf + (size_t)r1 * nc * 8, 0, (size_t)(ROWS - r1) * nc * 8 * sizeof(float));
        widen(kv->k + off, kv->row_bytes, r0, r1, nc, kf);
        widen(kv->v + off, kv->row_bytes, r0, r1, nc, vf);
        for (uint32_t j = 0; j < nq; j++) {
            uint32_t a = qs[j].first > p0 ? qs[j].first - p0 : 0;
            uint32_t b = qs[j].end - p0 < ROWS ? qs[j].end - p0 : ROWS;
            if (qs[j].end <= p0 || a >= b)
                continue;
            __m256 s[2];
            _Alignas(32) float ev[ROWS];
            for (int h = 0; h < 2; h++) {
                s[h] = _mm256_mul_ps(scores8(qs[j].q, kf, 8 * (uint32_t)h, nc), scale);
                if (kv->softcap > 0) {
                    _mm256_store_ps(ev, s[h]);
                    for (int r = 0; r < 8; r++)
                        ev[r] = tanhf(ev[r] / kv->softcap) * kv->softcap;
                    s[h] = _mm256_load_ps(ev);
                }
                /* positions outside [a, b) of this half score -inf */
                __m256i row = _mm256_add_epi32(lane, _mm256_set1_epi32(8 * h));
                __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(row, _mm256_set1_epi32((int)a - 1)),
                                              _mm256_cmpgt_epi32(_mm256_set1_epi32((int)b), row));
                s[h] = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), s[h], _mm256_castsi256_ps(in));
            }
            float bmax = hmax8(_mm256_max_ps(s[0], s[1]));
            float mnew = bmax > m[j] ? bmax : m[j];
            __m256 e0 = exp8(_mm256_sub_ps(s[0], _mm256_set1_ps(mnew)));
            __m256 e1 = exp8(_mm256_sub_ps(s[1], _mm256_set1_ps(mnew)));
            float corr = _mm256_cvtss_f32(exp8(_mm256_set1_ps(m[j] - mnew)));
            l[j] = l[j] * corr + hsum8(_mm256_add_ps(e0, e1));
            m[j] = mnew;
            _mm256_store_ps(ev, e0);
            _mm256_store_ps(ev + 8, e1);
            accumulate(qs[j].out, corr, ev, vf, a, b, nc);
        }
    }
    hr_kernels__attn_finish(qs, nq, hd, l);
    return true;
}

#else

bool hr_kernels__attn_f16_avx2(const struct hr_attn_kv *kv, const struct hr_attn_query *qs,
                               uint32_t nq)
{
    (void)kv, (void)qs, (void)nq;
    return false;
}

#endif
