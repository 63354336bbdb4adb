/* Attention over an F16 KV cache with AVX-512 (the avx512 and avx512vnni sets): up to
 * HR_ATTN_MAX_QUERIES queries of one sequence and one KV head (a GQA group, and several tokens
 * of a prompt) walk the cache 16 positions (one KV block) at a time. Each block's K and V rows
 * are widened to floats once for all the queries; a query's 16 scores come from 16 dot products
 * reduced together, and softmax runs online (running max and sum, the output rescaled when the
 * max grows), so nothing is stored per position.
 *
 * Batch invariance: what a query computes depends on its own vector, its own range of
 * positions and the cache alone: blocks are fixed by absolute position, scores and sums run in
 * a fixed order, and rows outside its range are skipped, never added as zeros. Its bits are
 * therefore the same alone or with any other queries. Engine thread and pool workers. */
#include <math.h>
#include <string.h>

#include "kernels_int.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))
#define ROWS 16
#define CHUNKS (HR_MODEL_MAX_HEAD_DIM / 16)

/* e^x for 16 lanes, within 2 ulp; 0 for x below -104 (and -inf). */
AVX512 INLINE __m512 exp16(__m512 x)
{
    __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-104.0f), _CMP_LT_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    /* Taylor to r^7: |r| <= ln2/2 leaves under 1e-8 relative */
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps((__mmask16)~tiny, p, n);
}

/* Lane r of the result: the sum of a[r]'s 16 lanes, by a fixed tree. */
AVX512 INLINE __m512 reduce16(const __m512 a[ROWS])
{
    __m512 s[8], w[4], x[2];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        s[k] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * k], a[2 * k + 1]),
                             _mm512_unpackhi_ps(a[2 * k], a[2 * k + 1]));
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(s[2 * k]), _mm512_castps_pd(s[2 * k + 1]));
        __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(s[2 * k]), _mm512_castps_pd(s[2 * k + 1]));
        w[k] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
    }
#pragma GCC unroll 2
    for (int k = 0; k < 2; k++)
        x[k] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * k], w[2 * k + 1], 0x88),
                             _mm512_shuffle_f32x4(w[2 * k], w[2 * k + 1], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x[0], x[1], 0x88),
                         _mm512_shuffle_f32x4(x[0], x[1], 0xDD));
}

/* Rows [r0, r1) of a block (halves, row_bytes apart) widened into dst (16 floats per chunk,
 * zero past head_dim). */
AVX512 INLINE void widen(const uint8_t *src, size_t row_bytes, uint32_t r0, uint32_t r1,
                         uint32_t nc, __mmask16 tail, float *dst)
{
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *p = src + r * row_bytes;
        float *d = dst + (size_t)r * nc * 16;
        for (uint32_t c = 0; c < nc; c++) {
            __mmask16 m = c + 1 == nc ? tail : (__mmask16)0xFFFF;
            __m256i h = _mm256_maskz_loadu_epi16(m, p + 32 * c);
            _mm512_storeu_ps(d + 16 * c, _mm512_cvtph_ps(h));
        }
    }
}

/* out = out * corr + sum of ev[r] * V row r for r in [a, b), in two chains (rows a, a + 2, ...
 * and a + 1, a + 3, ...) per 16-float chunk, four chunks at a time, so eight FMAs are in
 * flight rather than one. */
AVX512 INLINE void accumulate(float *out, float corr, const float ev[ROWS], const float *vf,
                              uint32_t a, uint32_t b, uint32_t nc, __mmask16 tail)
{
    const __m512 vc = _mm512_set1_ps(corr);
    uint32_t c0 = 0;
    size_t rs = (size_t)nc * 16; /* floats from one V row to the next */
    for (; c0 + 4 <= nc && (c0 + 4 < nc || tail == 0xFFFF); c0 += 4) {
        float *o = out + 16 * c0;
        const float *v = vf + 16 * c0;
        __m512 e0 = _mm512_mul_ps(_mm512_loadu_ps(o), vc);
        __m512 e1 = _mm512_mul_ps(_mm512_loadu_ps(o + 16), vc);
        __m512 e2 = _mm512_mul_ps(_mm512_loadu_ps(o + 32), vc);
        __m512 e3 = _mm512_mul_ps(_mm512_loadu_ps(o + 48), vc);
        __m512 d0 = _mm512_setzero_ps(), d1 = d0, d2 = d0, d3 = d0;
        uint32_t r = a;
        for (; r + 2 <= b; r += 2) {
            const float *v0 = v + r * rs, *v1 = v0 + rs;
            __m512 x = _mm512_set1_ps(ev[r]), y = _mm512_set1_ps(ev[r + 1]);
            e0 = _mm512_fmadd_ps(x, _mm512_load_ps(v0), e0);
            e1 = _mm512_fmadd_ps(x, _mm512_load_ps(v0 + 16), e1);
            e2 = _mm512_fmadd_ps(x, _mm512_load_ps(v0 + 32), e2);
            e3 = _mm512_fmadd_ps(x, _mm512_load_ps(v0 + 48), e3);
            d0 = _mm512_fmadd_ps(y, _mm512_load_ps(v1), d0);
            d1 = _mm512_fmadd_ps(y, _mm512_load_ps(v1 + 16), d1);
            d2 = _mm512_fmadd_ps(y, _mm512_load_ps(v1 + 32), d2);
            d3 = _mm512_fmadd_ps(y, _mm512_load_ps(v1 + 48), d3);
        }
        if (r < b) {
            const float *v0 = v + r * rs;
            __m512 x = _mm512_set1_ps(ev[r]);
            e0 = _mm512_fmadd_ps(x, _mm512_load_ps(v0), e0);
            e1 = _mm512_fmadd_ps(x, _mm512_load_ps(v0 + 16), e1);
            e2 = _mm512_fmadd_ps(x, _mm512_load_ps(v0 + 32), e2);
            e3 = _mm512_fmadd_ps(x, _mm512_load_ps(v0 + 48), e3);
        }
        _mm512_storeu_ps(o, _mm512_add_ps(e0, d0));
        _mm512_storeu_ps(o + 16, _mm512_add_ps(e1, d1));
        _mm512_storeu_ps(o + 32, _mm512_add_ps(e2, d2));
        _mm512_storeu_ps(o + 48, _mm512_add_ps(e3, d3));
    }
    for (uint32_t c = c0; c < nc; c++) { /* the rest one chunk at a time, same two chains */
        __mmask16 cm = c + 1 == nc ? tail : (__mmask16)0xFFFF;
        __m512 e = _mm512_mul_ps(_mm512_maskz_loadu_ps(cm, out + 16 * c), vc);
        __m512 d = _mm512_setzero_ps();
        uint32_t r = a;
        for (; r + 2 <= b; r += 2) {
            e = _mm512_fmadd_ps(_mm512_set1_ps(ev[r]), _mm512_load_ps(vf + r * rs + 16 * c), e);
            d = _mm512_fmadd_ps(_mm512_set1_ps(ev[r + 1]),
                                _mm512_load_ps(vf + (r + 1) * rs + 16 * c), d);
        }
        if (r < b)
            e = _mm512_fmadd_ps(_mm512_set1_ps(ev[r]), _mm512_load_ps(vf + r * rs + 16 * c), e);
        _mm512_mask_storeu_ps(out + 16 * c, cm, _mm512_add_ps(e, d));
    }
}

AVX512 bool hr_kernels__attn_f16_avx512(const struct hr_attn_kv *kv, const struct hr_attn_query *qs,
                                  uint32_t nq)
{
    uint32_t hd = kv->head_dim;
    if (nq == 0 || nq > HR_ATTN_MAX_QUERIES || hd == 0 || hd > HR_MODEL_MAX_HEAD_DIM)
        return false;
    uint32_t nc = (hd + 15) / 16;
    __mmask16 tail = hd % 16 ? (__mmask16)((1u << (hd % 16)) - 1) : (__mmask16)0xFFFF;
    float m[HR_ATTN_MAX_QUERIES], l[HR_ATTN_MAX_QUERIES];
    uint32_t lo, hi;
    hr_kernels__attn_begin(qs, nq, hd, m, l, &lo, &hi);
    _Alignas(64) float kf[ROWS * CHUNKS * 16], vf[ROWS * CHUNKS * 16];
    const __m512 scale = _mm512_set1_ps(kv->scale);
    for (uint32_t p0 = lo / ROWS * ROWS; p0 < hi; p0 += ROWS) {
        const size_t off = (size_t)kv->table[p0 / ROWS] * kv->block_bytes;
        uint32_t r0 = lo > p0 ? lo - p0 : 0, r1 = hi - p0 < ROWS ? hi - p0 : ROWS;
        /* rows no query here reads still enter the 16 dot products: keep them finite */
        memset(kf, 0, (size_t)r0 * nc * 16 * sizeof(float));
        memset(kf + (size_t)r1 * nc * 16, 0, (size_t)(ROWS - r1) * nc * 16 * sizeof(float));
        widen(kv->k + off, kv->row_bytes, r0, r1, nc, tail, kf);
        widen(kv->v + off, kv->row_bytes, r0, r1, nc, tail, vf);
        for (uint32_t j = 0; j < nq; j++) {
            uint32_t a = qs[j].first > p0 ? qs[j].first - p0 : 0;
            uint32_t b = qs[j].end - p0 < ROWS ? qs[j].end - p0 : ROWS;
            if (qs[j].end <= p0 || a >= b)
                continue;
            const float *q = qs[j].q;
            __m512 acc[ROWS]; /* unrolled: all 16 stay in registers */
#pragma GCC unroll 16
            for (int r = 0; r < ROWS; r++)
                acc[r] = _mm512_setzero_ps();
            for (uint32_t c = 0; c < nc; c++) {
                __m512 qc = _mm512_maskz_loadu_ps(c + 1 == nc ? tail : (__mmask16)0xFFFF,
                                                  q + 16 * c);
#pragma GCC unroll 16
                for (int r = 0; r < ROWS; r++)
                    acc[r] = _mm512_fmadd_ps(qc, _mm512_load_ps(kf + ((size_t)r * nc + c) * 16),
                                             acc[r]);
            }
            __m512 s = _mm512_mul_ps(reduce16(acc), scale);
            if (kv->softcap > 0) {
                _Alignas(64) float t[ROWS];
                _mm512_store_ps(t, s);
                for (int r = 0; r < ROWS; r++)
                    t[r] = tanhf(t[r] / kv->softcap) * kv->softcap;
                s = _mm512_load_ps(t);
            }
            __mmask16 mine = (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1));
            s = _mm512_mask_blend_ps(mine, _mm512_set1_ps(-INFINITY), s);
            float bmax = _mm512_reduce_max_ps(s);
            float mnew = bmax > m[j] ? bmax : m[j];
            __m512 e = exp16(_mm512_sub_ps(s, _mm512_set1_ps(mnew)));
            /* 0 on the first block, 1 while the max holds */
            float corr = _mm512_cvtss_f32(exp16(_mm512_set1_ps(m[j] - mnew)));
            l[j] = l[j] * corr + _mm512_reduce_add_ps(e);
            m[j] = mnew;
            _Alignas(64) float ev[ROWS];
            _mm512_store_ps(ev, e);
            accumulate(qs[j].out, corr, ev, vf, a, b, nc, tail);
        }
    }
    hr_kernels__attn_finish(qs, nq, hd, l);
    return true;
}

#else

bool hr_kernels__attn_f16_avx512(const struct hr_attn_kv *kv, const struct hr_attn_query *qs,
                                 uint32_t nq)
{
    (void)kv, (void)qs, (void)nq;
    return false;
}

#endif
