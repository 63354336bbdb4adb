/* Weights repacked at load into panels of 16 rows for the avx512vnni set, and the product on
 * them: the driver for every packed type, and the Q8_0/Q4_0 panels (Q4_K and Q6_K are in
 * matmul_packed_k.c). In a Q8_0/Q4_0 panel, block b of all 16 rows sits together: their 16
 * half scales, then the quants with 4 consecutive elements of row i in 32-bit lane i. One
 * vpdpbusd with 4 activation bytes broadcast then does 64 products for 16 rows at once, and
 * the activations feed 16 rows per load, where the file's layout feeds one; prefill and
 * batched decode walk up to PK_TOKENS tokens against a panel held in registers block by block
 * (a GEMM tile of 16 rows x PK_TOKENS tokens).
 *
 * vpdpbusd multiplies unsigned by signed bytes, so the weights are the unsigned side: Q4_0's
 * nibbles as stored (value + 8), Q8_0's quants + 128, and each block's sum starts at minus the
 * offset times the sum of the token's quantized activations. Activations are quantized per
 * 32-element block to int8 with one float scale, as in matmul_vnni.c.
 *
 * Batch invariance: a (row, token) result is the blocks' exact integer sums, each scaled and
 * added in block order; nothing depends on the other tokens, the tile or the thread.
 * Engine thread and pool workers. */
#include <stdlib.h>
#include <string.h>

#include "packed_int.h"

/* Tokens per pass over the panels: their quantized activations stay within about L2's half. */
#define CHUNK_BYTES (256u * 1024u)
/* Scratch at or under this many bytes lives on the stack (one decode token of 8192 columns). */
#define STACK_SCRATCH 16384

static size_t block_bytes(uint32_t type)
{
    return type == HR_TYPE_Q8_0 ? 34 : type == HR_TYPE_Q5_0 ? 22 : 18;
}

/* Bytes of one panel (16 rows of n_cols), 0 for a type or shape without packed form. */
static size_t panel_bytes(uint32_t type, size_t n_cols)
{
    if (n_cols == 0)
        return 0;
    switch (type) {
    case HR_TYPE_Q8_0:
    case HR_TYPE_Q5_0:
    case HR_TYPE_Q4_0: return n_cols % 32 ? 0 : PK_PANEL * (n_cols / 32) * block_bytes(type);
    case HR_TYPE_Q4_K: return n_cols % 256 ? 0 : (n_cols / 256) * PK_Q4_K_SUPER;
    case HR_TYPE_Q6_K: return n_cols % 256 ? 0 : (n_cols / 256) * PK_Q6_K_SUPER;
    default: return 0;
    }
}

size_t hr_kernels__packed_bytes(uint32_t type, size_t n_rows, size_t n_cols)
{
    return n_rows ? (n_rows + PK_PANEL - 1) / PK_PANEL * panel_bytes(type, n_cols) : 0;
}

/* Q5_0's 32 fifth bits of a block (bit j: element j) as the panel keeps them: bit k of byte
 * e is element 4k + e's, so register k's bits are one shift away. */
static void put_fifth_bits(uint8_t *p, uint32_t qh)
{
    memset(p, 0, 4);
    for (int j = 0; j < 32; j++)
        p[j % 4] |= (uint8_t)(((qh >> j) & 1) << (j / 4));
}

/* Q8_0/Q5_0/Q4_0 panels [p0, p1) from the file's rows; rows past n_rows are zero (scale 0).
 * A Q5_0 block's 64 bytes of fifth bits follow its nibbles. */
static void pack_blocks(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                        size_t n_cols, uint8_t *out, size_t p0, size_t p1)
{
    size_t nb = n_cols / 32, bb = block_bytes(type), quads = type == HR_TYPE_Q8_0 ? 8 : 4;
    size_t qs = type == HR_TYPE_Q5_0 ? 6 : 2;
    uint32_t flip = type == HR_TYPE_Q8_0 ? 0x80808080u : 0; /* int8 -> uint8 + 128 */
    for (size_t p = p0; p < p1; p++) {
        uint8_t *panel = out + p * PK_PANEL * nb * bb;
        size_t rows = n_rows - p * PK_PANEL < PK_PANEL ? n_rows - p * PK_PANEL : PK_PANEL;
        if (rows < PK_PANEL)
            memset(panel, 0, PK_PANEL * nb * bb);
        for (size_t i = 0; i < rows; i++) {
            const uint8_t *src = w + (p * PK_PANEL + i) * row_bytes;
            for (size_t b = 0; b < nb; b++, src += bb) {
                uint8_t *blk = panel + b * PK_PANEL * bb;
                memcpy(blk + 2 * i, src, 2);
                if (type == HR_TYPE_Q5_0) {
                    uint32_t qh;
                    memcpy(&qh, src + 2, 4);
                    put_fifth_bits(blk + 288 + 4 * i, qh);
                }
                for (size_t q = 0; q < quads; q++) {
                    uint32_t v;
                    memcpy(&v, src + qs + 4 * q, 4);
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
    if (j->type == HR_TYPE_Q4_K)
        hr_kernels__pack_q4_k(j->w, j->row_bytes, j->n_rows, j->n_cols, j->out, p0, p1);
    else if (j->type == HR_TYPE_Q6_K)
        hr_kernels__pack_q6_k(j->w, j->row_bytes, j->n_rows, j->n_cols, j->out, p0, p1);
    else
        pack_blocks(j->type, j->w, j->row_bytes, j->n_rows, j->n_cols, j->out, p0, p1);
}

void hr_kernels__pack(uint32_t type, const void *w, size_t row_bytes, size_t n_rows,
                      size_t n_cols, void *out, struct hr_pool *pool)
{
    struct pack_job j = {type, w, row_bytes, n_rows, n_cols, out};
    if (panel_bytes(type, n_cols))
        hr_pool_run(pool, (n_rows + PK_PANEL - 1) / PK_PANEL, pack_fn, &j);
}

#if defined(__x86_64__)

/* The 8 registers of a Q8_0/Q4_0 block's quants: register k holds elements 4k..4k+3 of each
 * row. */
PK_VNNI PK_INLINE void load_block(uint32_t type, const uint8_t *blk, __m512i w[8])
{
    if (type == HR_TYPE_Q4_0 || type == HR_TYPE_Q5_0) {
        pk_load_nibbles(blk + 32, w);
        if (type == HR_TYPE_Q4_0)
            return;
        /* bit k of each byte to bit 4: a 16-bit shift leaves that bit in its byte */
        const __m512i m = _mm512_set1_epi8(0x10);
        __m512i v = _mm512_loadu_si512(blk + 288);
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            __m512i s = k <= 4 ? _mm512_slli_epi16(v, (unsigned)(4 - k))
                               : _mm512_srli_epi16(v, (unsigned)(k - 4));
            w[k] = _mm512_ternarylogic_epi32(w[k], s, m, 0xF8);
        }
        return;
    }
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        w[k] = _mm512_loadu_si512(blk + 32 + 64 * k);
}

/* y[t * ldy + i] for nt (constant where inlined) tokens from t0 and the panel's rows i in
 * mask. */
PK_VNNI PK_INLINE void tile(uint32_t type, const uint8_t *panel, const struct pk_acts *a,
                            size_t t0, float *y, size_t ldy, __mmask16 mask, int nt)
{
    size_t bb = PK_PANEL * block_bytes(type);
    __m512 acc[PK_TOKENS];
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
            __m512i s = pk_dot(_mm512_set1_epi32(a->start[tb]), w, xq, 8);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(a->d[tb])), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(y + (t0 + (size_t)t) * ldy, mask, acc[t]);
}

PK_VNNI PK_INLINE void tile_q8_0(const uint8_t *panel, const struct pk_acts *a, size_t t0,
                                 float *y, size_t ldy, __mmask16 mask, int nt)
{
    tile(HR_TYPE_Q8_0, panel, a, t0, y, ldy, mask, nt);
}

PK_VNNI PK_INLINE void tile_q4_0(const uint8_t *panel, const struct pk_acts *a, size_t t0,
                                 float *y, size_t ldy, __mmask16 mask, int nt)
{
    tile(HR_TYPE_Q4_0, panel, a, t0, y, ldy, mask, nt);
}

static PK_DEFINE_PANELS(panels_q8_0, tile_q8_0)
PK_VNNI PK_INLINE void tile_q5_0(const uint8_t *panel, const struct pk_acts *a, size_t t0,
                                 float *y, size_t ldy, __mmask16 mask, int nt)
{
    tile(HR_TYPE_Q5_0, panel, a, t0, y, ldy, mask, nt);
}

static PK_DEFINE_PANELS(panels_q4_0, tile_q4_0)
static PK_DEFINE_PANELS(panels_q5_0, tile_q5_0)

struct pmm {
    pk_panels_fn panels;
    const uint8_t *packed;
    size_t panel_bytes, n_rows;
    const struct pk_acts *a;
    size_t t0, t1;
    float *y;
};

static void pmm_fn(void *ud, size_t p0, size_t p1)
{
    const struct pmm *m = ud;
    m->panels(m->packed, m->panel_bytes, m->n_rows, m->a, m->t0, m->t1, m->y, p0, p1);
}

struct quantize_job {
    uint32_t type;
    const float *x;
    size_t n_cols;
    const struct pk_acts_out *o;
};

/* Tokens [t0, t1): each view moved on by its own stride (only the type's extra is used). */
static void quantize_fn(void *ud, size_t t0, size_t t1)
{
    const struct quantize_job *j = ud;
    size_t nb = j->n_cols / 32;
    struct pk_acts_out o = {j->o->q + t0 * j->n_cols, j->o->d + t0 * nb, j->o->start + t0 * nb,
                            j->o->start16 + 2 * t0 * nb, j->o->dsum + t0 * nb};
    hr_kernels__pk_quantize(j->type, j->x + t0 * j->n_cols, t1 - t0, j->n_cols, &o);
}

/* Prompts quantize across the pool; a decode step's few tokens are not worth a hand-off. */
#define PARALLEL_QUANTIZE_TOKENS 16

bool hr_kernels__mm_packed(uint32_t type, bool vnni, const void *packed, size_t n_rows,
                           size_t n_cols, const float *x, size_t n_tok, float *y,
                           struct hr_pool *pool)
{
    size_t pb = panel_bytes(type, n_cols);
    if (!pb)
        return false;
    pk_panels_fn fn;
    switch (type) {
    case HR_TYPE_Q8_0: fn = vnni ? panels_q8_0 : hr_kernels__panels_avx2_q8_0; break;
    case HR_TYPE_Q4_0: fn = vnni ? panels_q4_0 : hr_kernels__panels_avx2_q4_0; break;
    case HR_TYPE_Q5_0: fn = vnni ? panels_q5_0 : hr_kernels__panels_avx2_q5_0; break;
    case HR_TYPE_Q4_K: fn = vnni ? hr_kernels__panels_q4_k : hr_kernels__panels_avx2_q4_k; break;
    default: fn = vnni ? hr_kernels__panels_q6_k : hr_kernels__panels_avx2_q6_k; break;
    }
    /* per token: the quants, then per block d and two 32-bit extras (start16's pair) */
    size_t nb = n_cols / 32, need = n_tok * (n_cols + nb * 12);
    _Alignas(64) uint8_t stack[STACK_SCRATCH];
    uint8_t *scratch = need <= sizeof stack ? stack : malloc(need);
    if (!scratch)
        return false;
    uint8_t *extra = scratch + n_tok * n_cols + n_tok * nb * sizeof(float);
    struct pk_acts_out o = {(int8_t *)scratch, (float *)(void *)(scratch + n_tok * n_cols),
                         (int32_t *)(void *)extra, (int32_t *)(void *)extra,
                         (float *)(void *)extra};
    struct quantize_job qj = {type, x, n_cols, &o};
    hr_pool_run(n_tok >= PARALLEL_QUANTIZE_TOKENS ? pool : NULL, n_tok, quantize_fn, &qj);
    struct pk_acts a = {o.q, o.d, o.start, o.start16, o.dsum, n_cols, nb};
    size_t chunk = CHUNK_BYTES / n_cols / PK_TOKENS * PK_TOKENS;
    if (chunk < PK_TOKENS)
        chunk = PK_TOKENS;
    size_t n_panels = (n_rows + PK_PANEL - 1) / PK_PANEL;
    for (size_t t0 = 0; t0 < n_tok; t0 += chunk) {
        struct pmm m = {fn, packed, pb, n_rows, &a, t0, n_tok - t0 < chunk ? n_tok : t0 + chunk,
                        y};
        hr_pool_run(pool, n_panels, pmm_fn, &m);
    }
    if (scratch != stack)
        free(scratch);
    return true;
}

#else

bool hr_kernels__mm_packed(uint32_t type, bool vnni, const void *packed, size_t n_rows,
                           size_t n_cols, const float *x, size_t n_tok, float *y,
                           struct hr_pool *pool)
{
    (void)type, (void)vnni, (void)packed, (void)n_rows, (void)n_cols, (void)x, (void)n_tok, (void)y;
    (void)pool;
    return false;
}

#endif
