/* The batched forward pass: a ragged batch of tokens from many sequences goes through
 * embeddings, per layer norm -> Q/K/V (biases, q/k norms, fused projections as the
 * architecture has them) -> RoPE at each token's own position -> grouped-query causal
 * attention over its own sequence's paged KV (sliding-window layers: the last positions only,
 * rotated with their own RoPE table when gemma3 gives them one) -> output projection ->
 * residual -> gated FFN -> residual, then the final norm and the classifier for the tokens
 * that want logits. Every per-token computation is the same whatever the batch, chunking or
 * thread count, so results are bit-identical. hr_ctx is the one-sequence convenience on top;
 * embeddings (model_embed.c) take the normed final states without the classifier. Engine
 * thread (pool workers inside). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "model_int.h"

#define CHUNK 64 /* tokens per internal step: bounds the scratch buffers */

/* The block kernel's work: tokens [i0, i1) of one sequence, heads [h0, h1) of one KV group. */
struct attn_item {
    uint32_t i0, i1, h0, h1;
};

struct hr_runner {
    const struct hr_model *m;
    uint32_t max_ctx;
    uint32_t kv_dim;  /* n_head_kv * head_dim */
    uint32_t q_dim;   /* n_head * head_dim */
    /* scratch for CHUNK tokens */
    float *x;         /* CHUNK x n_embd: the residual stream */
    float *xb;        /* CHUNK x n_embd: normed input */
    float *xb2;       /* CHUNK x n_embd: projection output */
    float *q;         /* CHUNK x q_dim */
    float *k;         /* CHUNK x kv_dim */
    float *v;         /* CHUNK x kv_dim */
    float *att_out;   /* CHUNK x q_dim */
    float *hb;        /* CHUNK x n_ff */
    float *hb2;       /* CHUNK x n_ff */
    float *att;       /* n_head x max_ctx attention scores */
    struct attn_item *items; /* CHUNK x n_head: the block kernel's work */
    float *fused;     /* phi3: CHUNK x max(q+k+v dims, 2 n_ff) for fused projections */
    double *inv_freq; /* n_rot / 2 */
    float *rope_cs;   /* CHUNK x n_rot: cos, sin pairs per token */
    /* sliding-window layers' own RoPE (gemma3: another base, no scaling); NULL when those
     * layers rotate like the others */
    double *inv_freq_swa;
    float *rope_cs_swa;
    const struct hr_batch_tok *toks; /* the chunk being evaluated */
};

struct hr_ctx {
    struct hr_runner *r;
    struct hr_kv *kv; /* one sequence (id 0), all its blocks reserved up front */
    uint32_t n_ctx;
};

int hr_runner_new(struct hr_runner **out, const struct hr_model *m, uint32_t max_ctx)
{
    *out = NULL;
    if (max_ctx == 0 || max_ctx > HR_MODEL_MAX_CTX)
        return HR_EINVAL;
    struct hr_runner *c = calloc(1, sizeof *c);
    if (!c)
        return HR_ENOMEM;
    c->m = m;
    c->max_ctx = max_ctx;
    c->kv_dim = m->n_head_kv * m->head_dim;
    c->q_dim = m->q_dim;
    size_t e = m->n_embd, f = m->n_ff, qd = m->q_dim;
    c->x = malloc(CHUNK * e * sizeof(float));
    c->xb = malloc(CHUNK * e * sizeof(float));
    c->xb2 = malloc(CHUNK * e * sizeof(float));
    c->q = malloc(CHUNK * qd * sizeof(float));
    c->k = malloc(CHUNK * c->kv_dim * sizeof(float));
    c->v = malloc(CHUNK * c->kv_dim * sizeof(float));
    c->att_out = malloc(CHUNK * qd * sizeof(float));
    c->hb = malloc(CHUNK * f * sizeof(float));
    c->hb2 = malloc(CHUNK * f * sizeof(float));
    c->att = malloc((size_t)m->n_head * max_ctx * sizeof(float));
    c->items = malloc((size_t)CHUNK * m->n_head * sizeof *c->items);
    c->inv_freq = malloc(m->n_rot / 2 * sizeof(double));
    c->rope_cs = malloc(CHUNK * m->n_rot * sizeof(float));
    size_t fused = qd + 2 * (size_t)c->kv_dim > 2 * f ? qd + 2 * (size_t)c->kv_dim : 2 * f;
    c->fused = m->arch_id == HR_ARCH_PHI3 ? malloc(CHUNK * fused * sizeof(float)) : NULL;
    bool own_swa_rope = m->sliding_window && (m->rope_theta_swa != m->rope_theta ||
                                              m->rope_scale_swa != m->rope_scale);
    if (own_swa_rope) {
        c->inv_freq_swa = malloc(m->n_rot / 2 * sizeof(double));
        c->rope_cs_swa = malloc(CHUNK * m->n_rot * sizeof(float));
    }
    if (!c->x || !c->xb || !c->xb2 || !c->q || !c->k || !c->v || !c->att_out || !c->hb ||
        !c->hb2 || !c->att || !c->items || !c->inv_freq || !c->rope_cs ||
        (m->arch_id == HR_ARCH_PHI3 && !c->fused) ||
        (own_swa_rope && (!c->inv_freq_swa || !c->rope_cs_swa))) {
        hr_runner_free(c);
        return HR_ENOMEM;
    }
    for (uint32_t i = 0; i < m->n_rot / 2; i++) {
        c->inv_freq[i] = pow((double)m->rope_theta, -2.0 * i / (double)m->n_rot);
        if (m->rope_freqs.data) /* Llama 3.1 scaling: the factor divides the frequency */
            c->inv_freq[i] /= (double)((const float *)m->rope_freqs.data)[i];
        if (m->rope_scale != 1.0f) /* linear scaling: positions shrink by the factor */
            c->inv_freq[i] *= (double)m->rope_scale;
        if (own_swa_rope)
            c->inv_freq_swa[i] = pow((double)m->rope_theta_swa, -2.0 * i / (double)m->n_rot) *
                                 (double)m->rope_scale_swa;
    }
    *out = c;
    return 0;
}

void hr_runner_free(struct hr_runner *c)
{
    if (!c)
        return;
    free(c->x);
    free(c->xb);
    free(c->xb2);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att_out);
    free(c->hb);
    free(c->hb2);
    free(c->att);
    free(c->items);
    free(c->inv_freq);
    free(c->rope_cs);
    free(c->fused);
    free(c->inv_freq_swa);
    free(c->rope_cs_swa);
    free(c);
}

uint64_t hr_runner_scratch_bytes(const struct hr_runner *c)
{
    const struct hr_model *m = c->m;
    uint64_t e = m->n_embd, f = m->n_ff, qd = c->q_dim;
    uint64_t fused = c->fused ? (qd + 2 * c->kv_dim > 2 * f ? qd + 2 * c->kv_dim : 2 * f) : 0;
    uint64_t rope_sets = c->rope_cs_swa ? 2 : 1;
    return sizeof(float) * (CHUNK * (3 * e + 2 * qd + 2 * c->kv_dim + 2 * f +
                                     rope_sets * m->n_rot + fused) +
                            (uint64_t)m->n_head * c->max_ctx) +
           sizeof(double) * (rope_sets * (m->n_rot / 2));
}

int hr_ctx_new(struct hr_ctx **out, const struct hr_model *m, uint32_t n_ctx)
{
    *out = NULL;
    if (n_ctx == 0 || n_ctx > HR_MODEL_MAX_CTX)
        return HR_EINVAL;
    struct hr_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return HR_ENOMEM;
    c->n_ctx = n_ctx;
    int rc = hr_runner_new(&c->r, m, n_ctx);
    if (!rc)
        rc = hr_kv_new(&c->kv, m, HR_KV_F32, (n_ctx + HR_KV_BLOCK - 1) / HR_KV_BLOCK, 1, n_ctx);
    if (!rc)
        rc = hr_kv_seq_reserve(c->kv, 0, n_ctx);
    if (rc) {
        hr_ctx_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void hr_ctx_free(struct hr_ctx *c)
{
    if (!c)
        return;
    hr_runner_free(c->r);
    hr_kv_free(c->kv);
    free(c);
}

uint32_t hr_ctx_n_ctx(const struct hr_ctx *c)
{
    return c->n_ctx;
}

uint64_t hr_ctx_kv_bytes(const struct hr_ctx *c)
{
    return hr_kv_bytes(c->kv);
}

uint64_t hr_ctx_scratch_bytes(const struct hr_ctx *c)
{
    return hr_runner_scratch_bytes(c->r);
}

static void rmsnorm(float *out, const float *x, const float *w, uint32_t n, float eps)
{
    double ss = 0;
    for (uint32_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (uint32_t i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

/* Rotates pairs of the first n_rot dims of each head: (2i, 2i+1) in llama's order, or
 * (i, i + n_rot/2) in NeoX order (qwen, phi3). cs holds cos, sin of pair i at 2i, 2i+1. */
static void rope(float *v, uint32_t n_heads, uint32_t head_dim, uint32_t n_rot, const float *cs,
                 bool neox)
{
    uint32_t half = n_rot / 2;
    for (uint32_t h = 0; h < n_heads; h++) {
        float *p = v + h * head_dim;
        for (uint32_t i = 0; i < half; i++) {
            float co = cs[2 * i], si = cs[2 * i + 1];
            uint32_t x = neox ? i : 2 * i, y = neox ? i + half : 2 * i + 1;
            float a = p[x], b = p[y];
            p[x] = a * co - b * si;
            p[y] = a * si + b * co;
        }
    }
}

/* The FFN gate's activation: SiLU, or GELU in its tanh form (gemma). */
static inline float act(float g, bool gelu)
{
    if (gelu)
        return 0.5f * g * (1.0f + tanhf(0.7978845608f * (g + 0.044715f * g * g * g)));
    return g / (1.0f + expf(-g));
}

static void add_bias(float *x, const struct hr_weight *b, uint32_t n, uint32_t dim)
{
    if (!b->data)
        return;
    const float *bias = b->data;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < dim; j++)
            x[(size_t)i * dim + j] += bias[j];
}

/* qwen3: RMSNorm over each head's vector before RoPE. */
static void head_norm(float *x, const struct hr_weight *w, uint32_t n_heads, uint32_t head_dim,
                      float eps)
{
    if (!w->data)
        return;
    for (uint32_t h = 0; h < n_heads; h++)
        rmsnorm(x + (size_t)h * head_dim, x + (size_t)h * head_dim, w->data, head_dim, eps);
}

static void matmul_w(const struct hr_weight *w, const float *x, uint32_t n, float *y,
                     struct hr_pool *pool)
{
    hr_matmul_packed(w->type, hr_weight__packed(w, pool), w->data, w->row_bytes, w->n_rows,
                     w->n_cols, x, n, y, pool);
}

struct attn_job {
    struct hr_runner *c;
    const struct hr_kv *kv;
    uint32_t layer;
    uint32_t n;      /* tokens in the chunk */
    uint32_t window; /* 0: full causal attention */
};

/* Causal attention for heads [h0, h1) of every token in the chunk. */
static void attn_heads(void *ud, size_t h0, size_t h1)
{
    const struct attn_job *j = ud;
    struct hr_runner *c = j->c;
    const struct hr_kv *kv = j->kv;
    const struct hr_model *m = c->m;
    uint32_t hd = m->head_dim, group = m->n_head / m->n_head_kv;
    float scale = m->attn_scale;
    float ktmp[HR_MODEL_MAX_HEAD_DIM], vtmp[HR_MODEL_MAX_HEAD_DIM];
    bool f16 = kv->type == HR_KV_F16;
    for (size_t h = h0; h < h1; h++) {
        float *att = c->att + h * c->max_ctx;
        uint32_t kvh = (uint32_t)h / group;
        for (uint32_t i = 0; i < j->n; i++) {
            const float *q = c->q + (size_t)i * c->q_dim + h * hd;
            uint32_t seq = c->toks[i].seq;
            uint32_t n_pos = c->toks[i].pos + 1;
            /* sliding-window layers see only the last `window` positions, this one included
             * (llama.cpp's LLAMA_SWA_TYPE_STANDARD masks p0 when p1 - p0 >= window) */
            uint32_t first = j->window && n_pos > j->window ? n_pos - j->window : 0;
            float max = -INFINITY;
            size_t hoff = (size_t)kvh * kv->head_bytes;
            for (uint32_t t = first; t < n_pos; t++) {
                const uint8_t *kraw = hr_kv__row(kv, kv->k, j->layer, seq, t);
                /* F16 (the default) is read as it is stored; the others widened first */
                float s = (f16 ? hr_dot_f16(kraw + hoff, q, hd)
                               : hr_dot_f32(q, hr_kv__head(kv, kraw, kvh, ktmp), hd)) *
                          scale;
                if (m->attn_softcap > 0)
                    s = tanhf(s / m->attn_softcap) * m->attn_softcap;
                att[t] = s;
                if (s > max)
                    max = s;
            }
            float sum = 0;
            for (uint32_t t = first; t < n_pos; t++) {
                att[t] = expf(att[t] - max);
                sum += att[t];
            }
            float inv = 1.0f / sum;
            float *out = c->att_out + (size_t)i * c->q_dim + h * hd;
            memset(out, 0, hd * sizeof *out);
            for (uint32_t t = first; t < n_pos; t++) {
                const uint8_t *vraw = hr_kv__row(kv, kv->v, j->layer, seq, t);
                float a = att[t] * inv;
                if (f16) {
                    hr_axpy_f16(a, vraw + hoff, out, hd);
                    continue;
                }
                const float *v = hr_kv__head(kv, vraw, kvh, vtmp);
                for (uint32_t d = 0; d < hd; d++)
                    out[d] += a * v[d];
            }
        }
    }
}

struct attn_items_job {
    struct attn_job base;
    const struct attn_item *items;
};

static void attn_items(void *ud, size_t a, size_t b)
{
    const struct attn_items_job *j = ud;
    struct hr_runner *c = j->base.c;
    const struct hr_kv *kv = j->base.kv;
    const struct hr_model *m = c->m;
    uint32_t hd = m->head_dim, group = m->n_head / m->n_head_kv;
    size_t layer_off = (size_t)j->base.layer * HR_KV_BLOCK * kv->row_bytes;
    for (size_t it = a; it < b; it++) {
        const struct attn_item *t = &j->items[it];
        uint32_t kvh = t->h0 / group, seq = c->toks[t->i0].seq;
        size_t off = layer_off + (size_t)kvh * kv->head_bytes;
        struct hr_attn_kv akv = {kv->k + off,
                                 kv->v + off,
                                 kv->tables + (size_t)seq * kv->max_blocks_per_seq,
                                 (size_t)m->n_layer * HR_KV_BLOCK * kv->row_bytes,
                                 kv->row_bytes,
                                 hd,
                                 m->attn_scale,
                                 m->attn_softcap};
        struct hr_attn_query qs[HR_ATTN_MAX_QUERIES];
        uint32_t nq = 0;
        for (uint32_t i = t->i0; i < t->i1; i++) {
            uint32_t end = c->toks[i].pos + 1;
            uint32_t first = j->base.window && end > j->base.window ? end - j->base.window : 0;
            for (uint32_t h = t->h0; h < t->h1; h++)
                qs[nq++] = (struct hr_attn_query){c->q + (size_t)i * c->q_dim + h * hd,
                                                  c->att_out + (size_t)i * c->q_dim + h * hd,
                                                  first, end};
        }
        hr_attn_f16(&akv, qs, nq);
    }
}

/* Items for the chunk: runs of one sequence's tokens, as many as fill a call, times the KV
 * groups. Runs are ordered first, last, second, second to last...: a prompt's later tokens
 * see more positions, and the pool gives each thread a contiguous range of items. */
static uint32_t attn_plan(struct hr_runner *c, uint32_t n)
{
    const struct hr_model *m = c->m;
    uint32_t group = m->n_head / m->n_head_kv;
    uint32_t hstep = group < HR_ATTN_MAX_QUERIES ? group : HR_ATTN_MAX_QUERIES;
    uint32_t per = HR_ATTN_MAX_QUERIES / hstep;
    uint32_t runs[CHUNK + 1], n_runs = 0;
    for (uint32_t i = 0; i < n; n_runs++) {
        runs[n_runs] = i;
        uint32_t i0 = i;
        while (i < n && c->toks[i].seq == c->toks[i0].seq && i - i0 < per)
            i++;
    }
    runs[n_runs] = n;
    uint32_t k = 0;
    for (uint32_t r = 0; r < n_runs; r++) {
        uint32_t pick = r % 2 ? n_runs - 1 - r / 2 : r / 2;
        for (uint32_t g = 0; g < m->n_head; g += group)
            for (uint32_t h0 = g; h0 < g + group; h0 += hstep) {
                uint32_t h1 = h0 + hstep < g + group ? h0 + hstep : g + group;
                c->items[k++] = (struct attn_item){runs[pick], runs[pick + 1], h0, h1};
            }
    }
    return k;
}

static void layer_forward(struct hr_runner *c, struct hr_kv *kv, uint32_t l, uint32_t n,
                          struct hr_pool *pool)
{
    const struct hr_model *m = c->m;
    const struct hr_layer *L = &m->layers[l];
    uint32_t e = m->n_embd, kvd = c->kv_dim, qd = c->q_dim;
    for (uint32_t i = 0; i < n; i++)
        rmsnorm(c->xb + i * e, c->x + i * e, L->attn_norm.data, e, m->norm_eps);
    if (L->wqkv.data) {
        size_t w = qd + 2 * (size_t)kvd;
        matmul_w(&L->wqkv, c->xb, n, c->fused, pool);
        for (uint32_t i = 0; i < n; i++) {
            memcpy(c->q + (size_t)i * qd, c->fused + i * w, qd * sizeof(float));
            memcpy(c->k + (size_t)i * kvd, c->fused + i * w + qd, kvd * sizeof(float));
            memcpy(c->v + (size_t)i * kvd, c->fused + i * w + qd + kvd, kvd * sizeof(float));
        }
    } else {
        matmul_w(&L->wq, c->xb, n, c->q, pool);
        matmul_w(&L->wk, c->xb, n, c->k, pool);
        matmul_w(&L->wv, c->xb, n, c->v, pool);
    }
    add_bias(c->q, &L->bq, n, qd);
    add_bias(c->k, &L->bk, n, kvd);
    add_bias(c->v, &L->bv, n, kvd);
    const float *rope_cs = L->is_swa && c->rope_cs_swa ? c->rope_cs_swa : c->rope_cs;
    for (uint32_t i = 0; i < n; i++) {
        const float *cs = rope_cs + (size_t)i * m->n_rot;
        head_norm(c->q + (size_t)i * qd, &L->q_norm, m->n_head, m->head_dim, m->norm_eps);
        head_norm(c->k + (size_t)i * kvd, &L->k_norm, m->n_head_kv, m->head_dim, m->norm_eps);
        rope(c->q + (size_t)i * qd, m->n_head, m->head_dim, m->n_rot, cs, m->rope_neox);
        rope(c->k + (size_t)i * kvd, m->n_head_kv, m->head_dim, m->n_rot, cs, m->rope_neox);
        const struct hr_batch_tok *bt = &c->toks[i];
        /* stored head by head, so a quantized block never straddles two heads */
        for (uint32_t h = 0; h < m->n_head_kv; h++) {
            size_t off = (size_t)h * kv->head_bytes, src = (size_t)i * kvd + h * m->head_dim;
            hr_quant_row(kv->dtype, c->k + src, hr_kv__row(kv, kv->k, l, bt->seq, bt->pos) + off,
                         m->head_dim);
            hr_quant_row(kv->dtype, c->v + src, hr_kv__row(kv, kv->v, l, bt->seq, bt->pos) + off,
                         m->head_dim);
        }
    }
    struct attn_job job = {c, kv, l, n, L->is_swa ? m->sliding_window : 0};
    uint64_t work = 0;
    for (uint32_t i = 0; i < n; i++)
        work += c->toks[i].pos + 1;
    struct hr_pool *apool = work * qd < (1u << 14) ? NULL : pool;
    if (kv->type == HR_KV_F16 && hr_attn_f16_supported(m->head_dim)) {
        struct attn_items_job ij = {job, c->items};
        hr_pool_run(apool, attn_plan(c, n), attn_items, &ij);
    } else {
        hr_pool_run(apool, m->n_head, attn_heads, &job);
    }
    matmul_w(&L->wo, c->att_out, n, c->xb2, pool);
    if (L->post_attn_norm.data)
        for (uint32_t i = 0; i < n; i++)
            rmsnorm(c->xb2 + i * e, c->xb2 + i * e, L->post_attn_norm.data, e, m->norm_eps);
    for (size_t i = 0; i < (size_t)n * e; i++)
        c->x[i] += c->xb2[i];
    for (uint32_t i = 0; i < n; i++)
        rmsnorm(c->xb + i * e, c->x + i * e, L->ffn_norm.data, e, m->norm_eps);
    if (L->w_gate.data) {
        matmul_w(&L->w_gate, c->xb, n, c->hb, pool);
        matmul_w(&L->w_up, c->xb, n, c->hb2, pool);
        for (size_t i = 0; i < (size_t)n * m->n_ff; i++)
            c->hb[i] = act(c->hb[i], m->ffn_gelu) * c->hb2[i];
    } else {
        /* phi3: one projection gives gate | up */
        uint32_t f = m->n_ff;
        matmul_w(&L->w_up, c->xb, n, c->fused, pool);
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t j = 0; j < f; j++) {
                float g = c->fused[(size_t)i * 2 * f + j];
                c->hb[(size_t)i * f + j] = g / (1.0f + expf(-g)) * c->fused[(size_t)i * 2 * f + f + j];
            }
    }
    matmul_w(&L->w_down, c->hb, n, c->xb2, pool);
    if (L->post_ffn_norm.data)
        for (uint32_t i = 0; i < n; i++)
            rmsnorm(c->xb2 + i * e, c->xb2 + i * e, L->post_ffn_norm.data, e, m->norm_eps);
    for (size_t i = 0; i < (size_t)n * e; i++)
        c->x[i] += c->xb2[i];
}

/* cos, sin of each of the n_rot / 2 pairs' angles at position pos. */
static void rope_table(float *cs, const double *inv_freq, uint32_t n_rot, uint32_t pos)
{
    for (uint32_t k = 0; k < n_rot / 2; k++) {
        double theta = (double)pos * inv_freq[k];
        cs[2 * k] = (float)cos(theta);
        cs[2 * k + 1] = (float)sin(theta);
    }
}

/* Runs one chunk (n <= CHUNK) of the batch and writes the logits rows of its flagged tokens
 * to logits (or, when hidden, their normed final states, n_embd wide), returning how many rows
 * it wrote. */
static uint32_t eval_chunk(struct hr_runner *c, struct hr_kv *kv, const struct hr_batch_tok *toks,
                           uint32_t n, float *logits, bool hidden, struct hr_pool *pool)
{
    const struct hr_model *m = c->m;
    uint32_t e = m->n_embd;
    c->toks = toks;
    for (uint32_t i = 0; i < n; i++) {
        const struct hr_weight *w = &m->tok_embd;
        hr_dequant_row(w->type, (const uint8_t *)w->data + (size_t)toks[i].token * w->row_bytes,
                       c->x + (size_t)i * e, e);
        if (m->embed_scale != 1.0f)
            for (uint32_t k = 0; k < e; k++)
                c->x[(size_t)i * e + k] *= m->embed_scale;
        rope_table(c->rope_cs + (size_t)i * m->n_rot, c->inv_freq, m->n_rot, toks[i].pos);
        if (c->rope_cs_swa)
            rope_table(c->rope_cs_swa + (size_t)i * m->n_rot, c->inv_freq_swa, m->n_rot,
                       toks[i].pos);
    }
    for (uint32_t l = 0; l < m->n_layer; l++)
        layer_forward(c, kv, l, n, pool);
    uint32_t rows = 0;
    float *normed = hidden && logits ? logits : c->xb;
    for (uint32_t i = 0; i < n; i++)
        if (toks[i].logits)
            rmsnorm(normed + (size_t)rows++ * e, c->x + (size_t)i * e, m->output_norm.data, e,
                    m->norm_eps);
    if (!rows || !logits || hidden)
        return rows;
    matmul_w(&m->output, c->xb, rows, logits, pool);
    if (m->final_softcap > 0)
        for (size_t i = 0; i < (size_t)rows * m->n_vocab; i++)
            logits[i] = tanhf(logits[i] / m->final_softcap) * m->final_softcap;
    return rows;
}

static int runner_eval(struct hr_runner *r, struct hr_kv *kv, const struct hr_batch_tok *toks,
                       uint32_t n, float *out, bool hidden, struct hr_pool *pool)
{
    if (n == 0)
        return HR_EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        const struct hr_batch_tok *t = &toks[i];
        if (t->token < 0 || (uint32_t)t->token >= r->m->n_vocab || t->seq >= kv->max_seqs)
            return HR_ERANGE;
        if (t->pos >= r->max_ctx || t->pos / HR_KV_BLOCK >= kv->n_seq_blocks[t->seq])
            return HR_ECONTEXT;
    }
    size_t row = 0, width = hidden ? r->m->n_embd : r->m->n_vocab;
    for (uint32_t done = 0; done < n;) {
        uint32_t k = n - done < CHUNK ? n - done : CHUNK;
        row += eval_chunk(r, kv, toks + done, k, out ? out + row * width : NULL, hidden, pool);
        done += k;
    }
    return 0;
}

int hr_runner_eval(struct hr_runner *r, struct hr_kv *kv, const struct hr_batch_tok *toks,
                   uint32_t n, float *logits, struct hr_pool *pool)
{
    return runner_eval(r, kv, toks, n, logits, false, pool);
}

int hr_runner__eval_hidden(struct hr_runner *r, struct hr_kv *kv, const struct hr_batch_tok *toks,
                           uint32_t n, float *hidden, struct hr_pool *pool)
{
    return runner_eval(r, kv, toks, n, hidden, true, pool);
}

/* One sequence through the runner, CHUNK tokens at a time with the batch on the stack. */
static int ctx_eval(struct hr_ctx *c, const int32_t *tokens, uint32_t n, uint32_t pos,
                    float *logits, bool all_logits, struct hr_pool *pool)
{
    if (n == 0)
        return HR_EINVAL;
    if (pos > c->n_ctx || n > c->n_ctx - pos)
        return HR_ECONTEXT;
    struct hr_batch_tok bt[CHUNK];
    for (uint32_t done = 0; done < n;) {
        uint32_t k = n - done < CHUNK ? n - done : CHUNK;
        for (uint32_t i = 0; i < k; i++)
            bt[i] = (struct hr_batch_tok){tokens[done + i], 0, pos + done + i,
                                          all_logits || done + i == n - 1};
        float *out = NULL;
        if (logits)
            out = all_logits ? logits + (size_t)done * c->r->m->n_vocab : logits;
        int rc = hr_runner_eval(c->r, c->kv, bt, k, out, pool);
        if (rc)
            return rc;
        done += k;
    }
    return 0;
}

int hr_ctx_eval(struct hr_ctx *c, const int32_t *tokens, uint32_t n, uint32_t pos,
                float *logits, struct hr_pool *pool)
{
    return ctx_eval(c, tokens, n, pos, logits, false, pool);
}

int hr_ctx_eval_all(struct hr_ctx *c, const int32_t *tokens, uint32_t n, uint32_t pos,
                    float *all_logits, struct hr_pool *pool)
{
    return ctx_eval(c, tokens, n, pos, all_logits, true, pool);
}
