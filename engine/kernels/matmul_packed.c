/* Q8_0 and Q4_0 weights repacked at load into panels of 16 rows for the avx512vnni set, and
 * the product on them. In a panel, block b of all 16 rows sits together: their 16 half scales,
 * then the quants with 4 consecutive elements of row i in 32-bit lane i. One vpdpbusd with 4
 * activation bytes broadcast then does 64 products for 16 rows at once, and the activations
 * feed 16 rows per load, where the file's layout feeds one; prefill and batched decode walk up
 * to TOKENS tokens against a panel held in registers block by block (a GEMM tile of 16 rows x
 * TOKENS tokens).
 *
 * vpdpbusd multiplies unsigned by signed bytes, so the weights are the unsigned side: Q4_0's
 * nibbles as stored (value + 8), Q8_0's quants + 128, and each block's sum starts at minus the
 * offset times the sum of the token's quantized activations. Activations are quantized per
 * 32-element block to int8 with one float scale, as in matmul_vnni.c.
 *
 * Batch invariance: a (row, token) result is the blocks' exact integer sums, each scaled and
 * added by one FMA in block order; nothing depends on the other tokens, the tile or the thread.
 * Engine thread and pool workers. */
#include <stdlib.h>
#include <string.h>

#include "kernels_int.h"

#define PANEL 16
/* Tokens per tile: 2 accumulators each plus 8 weight registers and a scale fit in 32. */
#define TOKENS 8
/* Tokens per pass over the panels: their quantized activations stay within about L2's half. */
#define CHUNK_BYTES (256u * 1024u)
/* Scratch at or under this many bytes lives on the stack (one decode token of 8192 columns). */
#define STACK_SCRATCH 16384

static size_t block_bytes(uint32_t type)
{
    return type == HR_TYPE_Q8_0 ? 34 : 18;
}

size_t hr_kernels__packed_bytes(uint32_t type, size_t n_rows, size_t n_cols)
{
    if ((type != HR_TYPE_Q8_0 && type != HR_TYPE_Q4_0) || n_cols == 0 || n_cols % 32 != 0 ||
        n_rows == 0)
        return 0;
    size_t panels = (n_rows + PANEL - 1) / PANEL;
    return panels * PANEL * (n_cols / 32) * block_bytes(type);
}

/* Panels [p0, p1) from the file's rows; rows past n_rows are zero (scale 0). */
static void pack_panels(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                        size_t n_cols, uint8_t *out, size_t p0, size_t p1)
{
    size_t nb = n_cols / 32, bb = block_bytes(type), quads = type == HR_TYPE_Q8_0 ? 8 : 4;
    uint32_t flip = type == HR_TYPE_Q8_0 ? 0x80808080u : 0; /* int8 -> uint8 + 128 */
    for (size_t p = p0; p < p1; p++) {
        uint8_t *panel = out + p * PANEL * nb * bb;
        size_t rows = n_rows - p * PANEL < PANEL ? n_rows - p * PANEL : PANEL;
        if (rows < PANEL)
            memset(panel, 0, PANEL * nb * bb);
        for (size_t i = 0; i < rows; i++) {
            const uint8_t *src = w + (p * PANEL + i) * row_bytes;
            for (size_t b = 0; b < nb; b++, src += bb) {
                uint8_t *blk = panel + b * PANEL * bb;
                memcpy(blk + 2 * i, src, 2);
                for (size_t q = 0; q < quads; q++) {
                    uint32_t v;
                    memcpy(&v, src + 2 + 4 * q, 4);
                    v ^= flip;
                    memcpy(blk + 32 + 64 * q + 4 * i, &v, 4);
                }
            }
        }
    }
}

struct pack_job {
    uint32_t type;
    const uint8_t *w;
    size_t row_bytes, n_rows, n_cols;
    uint8_t *out;
};

static void pack_fn(void *ud, size_t p0, size_t p1)
{
    const struct pack_job *j = ud;
    pack_panels(j->type, j->w, j->row_bytes, j->n_rows, j->n_cols, j->out, p0, p1);
}

void hr_kernels__pack(uint32_t type, const void *w, size_t row_bytes, size_t n_rows,
                      size_t n_cols, void *out, struct hr_pool *pool)
{
    struct pack_job j = {type, w, row_bytes, n_rows, n_cols, out};
    hr_pool_run(pool, (n_rows + PANEL - 1) / PANEL, pack_fn, &j);
}

#if defined(__x86_64__)
#include <immintrin.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))
#define RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* A call's quantized activations: q (n_tok x n_cols int8), per token and block the scale d
 * and the start of the integer sum, -offset * sum(q). */
struct acts {
    const int8_t *q;
    const float *d;
    const int32_t *start;
    size_t n_cols, nb;
};

VNNI static void quantize_tokens(const float *x, size_t n_tok, size_t n_cols, int32_t offset,
                                 int8_t *q, float *d, int32_t *start)
{
    const __m512 sign = _mm512_set1_ps(-0.0f);
    size_t nb = n_cols / 32;
    for (size_t t = 0; t < n_tok; t++)
        for (size_t b = 0; b < nb; b++) {
            const float *xp = x + t * n_cols + 32 * b;
            __m512 v0 = _mm512_loadu_ps(xp), v1 = _mm512_loadu_ps(xp + 16);
            float amax = _mm512_reduce_max_ps(
                _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
            __m512 id = _mm512_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
            __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id), RND);
            __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id), RND);
            int8_t *qp = q + t * n_cols + 32 * b;
            _mm_storeu_si128((__m128i *)(void *)qp, _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128((__m128i *)(void *)(qp + 16), _mm512_cvtepi32_epi8(q1));
            d[t * nb + b] = amax / 127.0f;
            start[t * nb + b] = -offset * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        }
}

/* The 8 registers of block blk's quants: register k holds elements 4k..4k+3 of each row. */
VNNI INLINE void load_block(uint32_t type, const uint8_t *blk, __m512i w[8])
{
    if (type == HR_TYPE_Q8_0) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
            w[k] = _mm512_loadu_si512(blk + 32 + 64 * k);
        return;
    }
    /* Q4_0: register j's low nibbles are elements 4j..4j+3, its high ones 16+4j..16+4j+3 */
    const __m512i m = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512i v = _mm512_loadu_si512(blk + 32 + 64 * j);
        w[j] = _mm512_and_si512(v, m);
        w[j + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
    }
}

INLINE int32_t load_i32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* y[t * ldy + i] for nt (constant where inlined) tokens from t0 and the panel's rows i in
 * mask. */
VNNI INLINE void tile(uint32_t type, const uint8_t *panel, const struct acts *a, size_t t0,
                      float *y, size_t ldy, __mmask16 mask, int nt)
{
    size_t bb = PANEL * block_bytes(type);
    __m512 acc[TOKENS];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (size_t b = 0; b < a->nb; b++) {
        const uint8_t *blk = panel + b * bb;
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)blk));
        __m512i w[8];
        load_block(type, blk, w);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            size_t tb = (t0 + (size_t)t) * a->nb + b;
            const int8_t *xq = a->q + (t0 + (size_t)t) * a->n_cols + 32 * b;
            __m512i s = _mm512_set1_epi32(a->start[tb]);
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++)
                s = _mm512_dpbusd_epi32(s, w[k], _mm512_set1_epi32(load_i32(xq + 4 * k)));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(a->d[tb])), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(y + (t0 + (size_t)t) * ldy, mask, acc[t]);
}

VNNI INLINE void panels(uint32_t type, const uint8_t *packed, size_t n_rows,
                        const struct acts *a, size_t t0, size_t t1, float *y, size_t p0,
                        size_t p1)
{
    size_t panel_bytes = PANEL * a->nb * block_bytes(type);
    for (size_t p = p0; p < p1; p++) {
        const uint8_t *panel = packed + p * panel_bytes;
        size_t left = n_rows - p * PANEL;
        __mmask16 mask = left >= PANEL ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        float *yp = y + p * PANEL;
        size_t t = t0;
        for (; t + TOKENS <= t1; t += TOKENS)
            tile(type, panel, a, t, yp, n_rows, mask, TOKENS);
        switch (t1 - t) {
        case 7: tile(type, panel, a, t, yp, n_rows, mask, 7); break;
        case 6: tile(type, panel, a, t, yp, n_rows, mask, 6); break;
        case 5: tile(type, panel, a, t, yp, n_rows, mask, 5); break;
        case 4: tile(type, panel, a, t, yp, n_rows, mask, 4); break;
        case 3: tile(type, panel, a, t, yp, n_rows, mask, 3); break;
        case 2: tile(type, panel, a, t, yp, n_rows, mask, 2); break;
        case 1: tile(type, panel, a, t, yp, n_rows, mask, 1); break;
        default: break;
        }
    }
}

struct pmm {
    uint32_t type;
    const uint8_t *packed;
    size_t n_rows;
    const struct acts *a;
    size_t t0, t1;
    float *y;
};

VNNI static void pmm_fn(void *ud, size_t p0, size_t p1)
{
    const struct pmm *m = ud;
    if (m->type == HR_TYPE_Q8_0)
        panels(HR_TYPE_Q8_0, m->packed, m->n_rows, m->a, m->t0, m->t1, m->y, p0, p1);
    else
        panels(HR_TYPE_Q4_0, m->packed, m->n_rows, m->a, m->t0, m->t1, m->y, p0, p1);
}

bool hr_kernels__mm_packed_vnni(uint32_t type, const void *packed, size_t n_rows,
                                size_t n_cols, const float *x, size_t n_tok, float *y,
                                struct hr_pool *pool)
{
    size_t nb = n_cols / 32;
    size_t need = n_tok * (n_cols + nb * (sizeof(float) + sizeof(int32_t)));
    _Alignas(64) uint8_t stack[STACK_SCRATCH];
    uint8_t *scratch = need <= sizeof stack ? stack : malloc(need);
    if (!scratch)
        return false;
    struct acts a = {(int8_t *)scratch, (float *)(void *)(scratch + n_tok * n_cols),
                     (int32_t *)(void *)(scratch + n_tok * (n_cols + nb * sizeof(float))),
                     n_cols, nb};
    quantize_tokens(x, n_tok, n_cols, type == HR_TYPE_Q8_0 ? 128 : 8, (int8_t *)a.q,
                    (float *)a.d, (int32_t *)a.start);
    size_t chunk = CHUNK_BYTES / n_cols / TOKENS * TOKENS;
    if (chunk < TOKENS)
        chunk = TOKENS;
    size_t n_panels = (n_rows + PANEL - 1) / PANEL;
    for (size_t t0 = 0; t0 < n_tok; t0 += chunk) {
        struct pmm m = {type, packed, n_rows, &a, t0, n_tok - t0 < chunk ? n_tok : t0 + chunk,
                        y};
        hr_pool_run(pool, n_panels, pmm_fn, &m);
    }
    if (scratch != stack)
        free(scratch);
    return true;
}

#else

bool hr_kernels__mm_packed_vnni(uint32_t type, const void *packed, size_t n_rows,
                                size_t n_cols, const float *x, size_t n_tok, float *y,
                                struct hr_pool *pool)
{
    (void)type, (void)packed, (void)n_rows, (void)n_cols, (void)x, (void)n_tok, (void)y;
    (void)pool;
    return false;
}

#endif
