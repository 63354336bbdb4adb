/* Matrix products against weight rows of any supported type. Each weight row is dequantized
 * one 32-element block at a time (on the stack, no scratch to allocate) and dotted with a tile
 * of up to TILE tokens. Every token's sum runs over the blocks in the same order whatever the
 * batch size, tile or thread count, so a sequence's results are bit-identical alone or
 * batched, prefilled in one call or token by token. Rows are split across the pool; a dot
 * product is never split. Engine thread and pool workers. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/diag.h"
#include "../base/err.h"

#include "kernels_int.h"

#define BLOCK 32
#define TILE 16
/* Below this many multiply-adds a call runs on the caller alone: waking workers costs more. */
#define MIN_PARALLEL_WORK (1u << 15)

struct mm {
    uint32_t type;
    const uint8_t *w;
    size_t row_bytes;
    size_t n_rows;
    size_t n_cols;
    const float *x;
    size_t n_tok;
    float *y;
};

/* Dot of n <= 32 floats with eight fixed partial sums: vectorisable, order fixed. */
static inline float dot_block(const float *a, const float *b, size_t n)
{
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += a[i + k] * b[i + k];
    float tail = 0;
    for (; i < n; i++)
        tail += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

/* Elements [col, col + n) of a weight row as floats: a pointer into the row for F32, else
 * decoded into buf. Decoding is inlined per type so each block's loop vectorises. */
static inline const float *block_at(uint32_t type, const uint8_t *row, size_t col, size_t n,
                                    float *restrict buf)
{
    switch (type) {
    case HR_TYPE_F32:
        return (const float *)(const void *)(row + col * 4);
    case HR_TYPE_F16: {
        const uint8_t *p = row + col * 2;
        for (size_t j = 0; j < n; j++) {
            uint16_t h;
            memcpy(&h, p + 2 * j, 2);
            buf[j] = hr_f16_table[h];
        }
        return buf;
    }
    case HR_TYPE_Q8_0: {
        const uint8_t *p = row + col / 32 * 34;
        uint16_t h;
        memcpy(&h, p, 2);
        float d = hr_f16_table[h];
        const int8_t *q = (const int8_t *)(p + 2);
        for (size_t j = 0; j < 32; j++)
            buf[j] = d * (float)q[j];
        return buf;
    }
    case HR_TYPE_Q4_0: {
        const uint8_t *p = row + col / 32 * 18;
        uint16_t h;
        memcpy(&h, p, 2);
        float d = hr_f16_table[h];
        for (size_t j = 0; j < 16; j++) {
            buf[j] = d * (float)((int)(p[2 + j] & 0x0F) - 8);
            buf[j + 16] = d * (float)((int)(p[2 + j] >> 4) - 8);
        }
        return buf;
    }
    case HR_TYPE_BF16:
        hr_dequant_row(type, row + col * 2, buf, n);
        return buf;
    default: {
        /* other block types: decode a whole block (32 or 256) when the walk enters it */
        const struct hr_dtype_info *ti = hr_dtype_get(type);
        size_t in_block = col % ti->block_elems;
        if (in_block == 0)
            hr_kernels__block_fn(type)(row + col / ti->block_elems * ti->block_bytes, buf);
        return buf + in_block;
    }
    }
}

/* The reference kernel: plain C for any x86-64. */
static void mm_rows_ref(void *ud, size_t r0, size_t r1)
{
    const struct mm *m = ud;
    float buf[256]; /* the largest block (K-quants) */
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *row = m->w + r * m->row_bytes;
        for (size_t t0 = 0; t0 < m->n_tok; t0 += TILE) {
            size_t nt = m->n_tok - t0 < TILE ? m->n_tok - t0 : TILE;
            float acc[TILE] = {0};
            for (size_t c = 0; c < m->n_cols; c += BLOCK) {
                size_t n = m->n_cols - c < BLOCK ? m->n_cols - c : BLOCK;
                const float *wb = block_at(m->type, row, c, n, buf);
                for (size_t t = 0; t < nt; t++)
                    acc[t] += dot_block(wb, m->x + (t0 + t) * m->n_cols + c, n);
            }
            for (size_t t = 0; t < nt; t++)
                m->y[(t0 + t) * m->n_rows + r] = acc[t];
        }
    }
}

static void mm_rows_avx2(void *ud, size_t r0, size_t r1)
{
    const struct mm *m = ud;
    hr_kernels__mm_rows_avx2(m->type, m->w, m->row_bytes, m->n_rows, m->n_cols, m->x, m->n_tok,
                             m->y, r0, r1);
}

static void mm_rows_avx512(void *ud, size_t r0, size_t r1)
{
    const struct mm *m = ud;
    hr_kernels__mm_rows_avx512(m->type, m->w, m->row_bytes, m->n_rows, m->n_cols, m->x,
                               m->n_tok, m->y, r0, r1);
}

static void mm_rows_vnni(void *ud, size_t r0, size_t r1)
{
    const struct mm *m = ud;
    hr_kernels__mm_rows_vnni(m->type, m->w, m->row_bytes, m->n_rows, m->n_cols, m->x, m->n_tok,
                             m->y, r0, r1);
}

static bool have_ref(void)
{
    return true;
}

/* The kernel sets, best first: the start picks the first the CPU has among those marked
 * is_auto. avx512vnni quantizes activations to int8 for Q8_0/Q4_0 as llama.cpp does (so its
 * logits sit closer to llama.cpp's than the float sets'), and is the fastest where the CPU
 * has VNNI; every set is batch invariant on its own. */
static const struct kernel_set {
    const char *name;
    hr_pool_fn rows;
    bool (*have)(void);
    bool is_auto;
} kernel_sets[] = {
    {"avx512vnni", mm_rows_vnni, hr_kernels__have_vnni, true},
    {"avx512", mm_rows_avx512, hr_kernels__have_avx512, true},
    {"avx2", mm_rows_avx2, hr_kernels__have_avx2, true},
    {"ref", mm_rows_ref, have_ref, true},
};
#define N_SETS (sizeof kernel_sets / sizeof kernel_sets[0])

static void f16_row_ref(const uint8_t *p, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = hr_f16_table[h];
    }
}

/* ref's attention: the row widened, then the plain float dot and update */
static float dot_f16_ref(const uint8_t *k, const float *q, size_t n)
{
    float tmp[HR_MODEL_MAX_HEAD_DIM];
    f16_row_ref(k, tmp, n);
    return hr_dot_f32(tmp, q, n);
}

static void axpy_f16_ref(float a, const uint8_t *v, float *out, size_t n)
{
    float tmp[HR_MODEL_MAX_HEAD_DIM];
    f16_row_ref(v, tmp, n);
    for (size_t d = 0; d < n; d++)
        out[d] += a * tmp[d];
}

static void f16_from_f32_ref(const float *in, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t h = hr_f32_to_f16(in[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

static hr_pool_fn mm_rows = mm_rows_ref;
static void (*f16_row)(const uint8_t *p, float *out, size_t n) = f16_row_ref;
static void (*f16_from_f32)(const float *in, uint8_t *p, size_t n) = f16_from_f32_ref;
static float (*dot_f16)(const uint8_t *k, const float *q, size_t n) = dot_f16_ref;
static void (*axpy_f16)(float a, const uint8_t *v, float *out, size_t n) = axpy_f16_ref;
static bool (*attn_f16)(const struct hr_attn_kv *kv, const struct hr_attn_query *qs,
                        uint32_t nq) = NULL;
static const char *kernels_name = "ref";
/* What HEARTH_KERNELS asked for when it could not be honoured (the best set runs instead):
 * 0, HR_EUNSUPPORTED (the CPU lacks it) or HR_EINVAL (no such set). */
static int env_rc;
static char env_value[32];

static int use_set(const char *name)
{
    for (size_t i = 0; i < N_SETS; i++) {
        if (strcmp(name, kernel_sets[i].name) != 0)
            continue;
        if (!kernel_sets[i].have())
            return HR_EUNSUPPORTED;
        mm_rows = kernel_sets[i].rows;
        kernels_name = kernel_sets[i].name;
        /* every set but ref runs on a CPU with F16C (the AVX2 check includes it) */
        bool ref = kernel_sets[i].rows == mm_rows_ref;
        f16_row = ref ? f16_row_ref : hr_kernels__f16_row_avx2;
        f16_from_f32 = ref ? f16_from_f32_ref : hr_kernels__f16_from_f32_avx2;
        dot_f16 = ref ? dot_f16_ref : hr_kernels__dot_f16_avx2;
        axpy_f16 = ref ? axpy_f16_ref : hr_kernels__axpy_f16_avx2;
        attn_f16 = kernel_sets[i].rows == mm_rows_avx512 || kernel_sets[i].rows == mm_rows_vnni
                       ? hr_kernels__attn_f16_avx512
                   : kernel_sets[i].rows == mm_rows_avx2 ? hr_kernels__attn_f16_avx2
                                                         : NULL;
        return 0;
    }
    return HR_EINVAL;
}

static void choose_kernels(void)
{
    hr_kernels__init();
    for (size_t i = 0; i < N_SETS; i++)
        if (kernel_sets[i].is_auto && use_set(kernel_sets[i].name) == 0)
            break;
    const char *env = getenv("HEARTH_KERNELS");
    if (env && *env) {
        env_rc = use_set(env);
        snprintf(env_value, sizeof env_value, "%s", env);
    }
}

static pthread_once_t chosen = PTHREAD_ONCE_INIT;

const char *hr_kernels_name(void)
{
    pthread_once(&chosen, choose_kernels);
    return kernels_name;
}

int hr_kernels_use(const char *name)
{
    pthread_once(&chosen, choose_kernels);
    return use_set(name);
}

int hr_kernels_start(struct hr_diag *d)
{
    pthread_once(&chosen, choose_kernels);
    if (env_rc == HR_EUNSUPPORTED)
        hr_diag_set(d, "HEARTH_KERNELS=%s: this CPU lacks that kernel set", env_value);
    else if (env_rc == HR_EINVAL)
        hr_diag_set(d, "HEARTH_KERNELS=%s: unknown kernel set (ref, avx2, avx512, avx512vnni)",
                    env_value);
    return env_rc;
}

void hr_matmul(uint32_t type, const void *w, size_t row_bytes, size_t n_rows, size_t n_cols,
               const float *x, size_t n_tok, float *y, struct hr_pool *pool)
{
    pthread_once(&chosen, choose_kernels);
    struct mm m = {type, w, row_bytes, n_rows, n_cols, x, n_tok, y};
    if ((uint64_t)n_rows * n_cols * n_tok < MIN_PARALLEL_WORK)
        pool = NULL;
    hr_pool_run(pool, n_rows, mm_rows, &m);
}

static bool packs(void)
{
    pthread_once(&chosen, choose_kernels);
    return mm_rows != mm_rows_ref;
}

size_t hr_pack_bytes(uint32_t type, size_t n_rows, size_t n_cols)
{
    return packs() ? hr_kernels__packed_bytes(type, n_rows, n_cols) : 0;
}

void hr_pack(uint32_t type, const void *w, size_t row_bytes, size_t n_rows, size_t n_cols,
             void *packed, struct hr_pool *pool)
{
    hr_kernels__pack(type, w, row_bytes, n_rows, n_cols, packed, pool);
}

void hr_matmul_packed(uint32_t type, const void *packed, const void *w, size_t row_bytes,
                      size_t n_rows, size_t n_cols, const float *x, size_t n_tok, float *y,
                      struct hr_pool *pool)
{
    if ((uint64_t)n_rows * n_cols * n_tok < MIN_PARALLEL_WORK)
        pool = NULL;
    if (packed && packs() &&
        hr_kernels__mm_packed(type, mm_rows == mm_rows_vnni, packed, n_rows, n_cols, x, n_tok, y,
                              pool))
        return;
    hr_matmul(type, w, row_bytes, n_rows, n_cols, x, n_tok, y, pool);
}

void hr_kernels__f16_row(const uint8_t *p, float *out, size_t n)
{
    pthread_once(&chosen, choose_kernels);
    f16_row(p, out, n);
}

void hr_kernels__f16_from_f32(const float *in, uint8_t *p, size_t n)
{
    pthread_once(&chosen, choose_kernels);
    f16_from_f32(in, p, n);
}

float hr_dot_f16(const void *k, const float *q, size_t n)
{
    return dot_f16(k, q, n);
}

bool hr_attn_f16_supported(uint32_t head_dim)
{
    pthread_once(&chosen, choose_kernels);
    return attn_f16 && head_dim > 0 && head_dim <= HR_MODEL_MAX_HEAD_DIM &&
           (attn_f16 != hr_kernels__attn_f16_avx2 || head_dim % 8 == 0);
}

bool hr_attn_f16(const struct hr_attn_kv *kv, const struct hr_attn_query *qs, uint32_t nq)
{
    return attn_f16 && attn_f16(kv, qs, nq);
}

void hr_axpy_f16(float a, const void *v, float *out, size_t n)
{
    axpy_f16(a, v, out, n);
}

void hr_matvec(uint32_t type, const void *w, size_t row_bytes, size_t n_rows, size_t n_cols,
               const float *x, float *y, struct hr_pool *pool)
{
    hr_matmul(type, w, row_bytes, n_rows, n_cols, x, 1, y, pool);
}

float hr_dot_f32(const float *a, const float *b, size_t n)
{
    float sum = 0;
    for (size_t c = 0; c < n; c += BLOCK)
        sum += dot_block(a + c, b + c, n - c < BLOCK ? n - c : BLOCK);
    return sum;
}
