/* Embeddings: token sequences through the batched forward pass (their states after
 * output_norm, never the classifier), pooled per sequence (mean, first or last position) and
 * L2-normalised; and, at load, the metadata that says how (pooling type, causal attention).
 * The rules and where they come from are stated in model.h. Engine thread (pool workers
 * inside the forward pass). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "model_int.h"

/* Sequences stream through batches of HR_EMBED_BATCH tokens in order; sequence i uses KV slot
 * i % HR_EMBED_BATCH. A batch touches at most HR_EMBED_BATCH sequences, which are
 * consecutive, so their slots differ; a sequence reserves its blocks when its first token is
 * batched and returns them after the batch holding its last. During one batch the cache
 * therefore holds the first sequence touched (at most max_blocks), the last one (likewise)
 * and the ones wholly inside (at most HR_EMBED_BATCH tokens, each rounding up by at most
 * one block): the pool below never runs dry. */
struct hr_embedder {
    const struct hr_model *m;
    struct hr_runner *r;
    struct hr_kv *kv;
    uint32_t max_tokens;
    struct hr_batch_tok batch[HR_EMBED_BATCH];
    uint32_t owner[HR_EMBED_BATCH]; /* index in the caller's seqs of each batch token */
    float *hidden;                  /* HR_EMBED_BATCH x n_embd: states of the flagged tokens */
    double *sum;                    /* HR_EMBED_BATCH slots x n_embd: mean pooling sums */
};

const char *hr_pooling_name(enum hr_pooling p)
{
    switch (p) {
    case HR_POOLING_NONE:
        return "none";
    case HR_POOLING_MEAN:
        return "mean";
    case HR_POOLING_CLS:
        return "cls";
    case HR_POOLING_LAST:
        return "last";
    case HR_POOLING_RANK:
        return "rank";
    default:
        return "?";
    }
}

int hr_pooling_from_name(const char *name, enum hr_pooling *out)
{
    for (int p = HR_POOLING_NONE; p <= HR_POOLING_RANK && name; p++)
        if (strcmp(name, hr_pooling_name((enum hr_pooling)p)) == 0) {
            *out = (enum hr_pooling)p;
            return 0;
        }
    return HR_EINVAL;
}

int hr_model__read_embed_meta(struct hr_model *m, struct hr_diag *d)
{
    char key[96];
    struct hr_diag inner = {{0}};
    /* llama.cpp reads both keys for every architecture (llama_model::load_hparams) */
    snprintf(key, sizeof key, "%s.pooling_type", m->arch);
    int32_t v = 0;
    int rc = hr_gguf_get_i32(m->gguf, key, &v, &inner);
    m->pooling = HR_POOLING_NONE;
    m->has_pooling = rc == 0;
    if (rc == 0 && (v < HR_POOLING_NONE || v > HR_POOLING_RANK)) {
        hr_diag_set(d, "%s: key '%s' = %d is not a pooling type (0 none, 1 mean, 2 cls, 3 last, "
                       "4 rank)", m->path, key, (int)v);
        return HR_EFORMAT;
    }
    if (rc == 0)
        m->pooling = (enum hr_pooling)v;
    else if (rc != HR_ENOTFOUND) {
        hr_diag_set(d, "%s: %s", m->path, inner.msg);
        return HR_EFORMAT;
    }
    snprintf(key, sizeof key, "%s.attention.causal", m->arch);
    m->is_causal = true;
    rc = hr_gguf_get_bool(m->gguf, key, &m->is_causal, &inner);
    if (rc != 0 && rc != HR_ENOTFOUND) {
        hr_diag_set(d, "%s: %s", m->path, inner.msg);
        return HR_EFORMAT;
    }
    if (!m->is_causal) {
        hr_diag_set(d, "%s: key '%s' is false: bidirectional attention is not supported (every "
                       "architecture here is a causal decoder)", m->path, key);
        return HR_EUNSUPPORTED;
    }
    return 0;
}

int hr_embedder_new(struct hr_embedder **out, const struct hr_model *m, uint32_t max_tokens)
{
    *out = NULL;
    if (max_tokens == 0 || max_tokens > HR_MODEL_MAX_CTX)
        return HR_EINVAL;
    struct hr_embedder *e = calloc(1, sizeof *e);
    if (!e)
        return HR_ENOMEM;
    e->m = m;
    e->max_tokens = max_tokens;
    uint32_t max_blocks = (max_tokens + HR_KV_BLOCK - 1) / HR_KV_BLOCK;
    uint32_t n_blocks = 2 * max_blocks + HR_EMBED_BATCH + HR_EMBED_BATCH / HR_KV_BLOCK;
    int rc = hr_runner_new(&e->r, m, max_tokens);
    if (!rc)
        rc = hr_kv_new(&e->kv, m, HR_KV_F32, n_blocks, HR_EMBED_BATCH, max_tokens);
    e->hidden = malloc((size_t)HR_EMBED_BATCH * m->n_embd * sizeof *e->hidden);
    e->sum = malloc((size_t)HR_EMBED_BATCH * m->n_embd * sizeof *e->sum);
    if (!rc && (!e->hidden || !e->sum))
        rc = HR_ENOMEM;
    if (rc) {
        hr_embedder_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void hr_embedder_free(struct hr_embedder *e)
{
    if (!e)
        return;
    free(e->sum);
    free(e->hidden);
    hr_kv_free(e->kv);
    hr_runner_free(e->r);
    free(e);
}

uint64_t hr_embedder_bytes(const struct hr_embedder *e)
{
    return hr_kv_bytes(e->kv) + hr_runner_scratch_bytes(e->r) +
           (uint64_t)HR_EMBED_BATCH * e->m->n_embd * (sizeof(float) + sizeof(double));
}

/* Divides v by its L2 norm, the sum taken in double as llama.cpp's common_embd_normalize
 * does; a zero vector stays zero. */
static void l2_normalize(float *v, uint32_t n)
{
    double ss = 0;
    for (uint32_t i = 0; i < n; i++)
        ss += (double)v[i] * v[i];
    double scale = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    for (uint32_t i = 0; i < n; i++)
        v[i] = (float)(v[i] * scale);
}

static int check_seqs(const struct hr_embedder *e, const struct hr_embed_seq *seqs,
                      uint32_t n_seqs, enum hr_pooling pooling)
{
    if (!seqs || n_seqs == 0)
        return HR_EINVAL;
    for (uint32_t s = 0; s < n_seqs; s++) {
        if (seqs[s].n_tokens == 0 || !seqs[s].tokens)
            return HR_EINVAL;
        if (seqs[s].n_tokens > e->max_tokens)
            return HR_ECONTEXT;
        for (uint32_t i = 0; i < seqs[s].n_tokens; i++)
            if (seqs[s].tokens[i] < 0 || (uint32_t)seqs[s].tokens[i] >= e->m->n_vocab)
                return HR_ERANGE;
    }
    if (pooling != HR_POOLING_MEAN && pooling != HR_POOLING_CLS && pooling != HR_POOLING_LAST)
        return HR_EUNSUPPORTED;
    return 0;
}

/* Whether the state of position pos of an n-token sequence enters its pooled vector. */
static bool wanted(enum hr_pooling pooling, uint32_t pos, uint32_t n)
{
    return pooling == HR_POOLING_MEAN || (pooling == HR_POOLING_CLS && pos == 0) ||
           (pooling == HR_POOLING_LAST && pos == n - 1);
}

int hr_embedder_run(struct hr_embedder *e, const struct hr_embed_seq *seqs, uint32_t n_seqs,
                    enum hr_pooling pooling, bool normalize, float *out, struct hr_pool *pool)
{
    const struct hr_model *m = e->m;
    uint32_t ne = m->n_embd;
    if (pooling == HR_POOLING_UNSPECIFIED)
        pooling = m->pooling;
    int rc = out ? check_seqs(e, seqs, n_seqs, pooling) : HR_EINVAL;
    if (rc)
        return rc;
    uint32_t next_seq = 0, next_pos = 0; /* the next token to batch */
    while (next_seq < n_seqs) {
        uint32_t n = 0;
        while (n < HR_EMBED_BATCH && next_seq < n_seqs) {
            const struct hr_embed_seq *q = &seqs[next_seq];
            uint32_t slot = next_seq % HR_EMBED_BATCH;
            if (next_pos == 0) {
                rc = hr_kv_seq_reserve(e->kv, slot, q->n_tokens);
                if (rc)
                    goto fail; /* cannot happen: see the sizing above */
                if (pooling == HR_POOLING_MEAN)
                    memset(e->sum + (size_t)slot * ne, 0, ne * sizeof *e->sum);
            }
            e->owner[n] = next_seq;
            e->batch[n++] = (struct hr_batch_tok){q->tokens[next_pos], slot, next_pos,
                                                  wanted(pooling, next_pos, q->n_tokens)};
            if (++next_pos == q->n_tokens) {
                next_seq++;
                next_pos = 0;
            }
        }
        rc = hr_runner__eval_hidden(e->r, e->kv, e->batch, n, e->hidden, pool);
        if (rc)
            goto fail;
        const float *row = e->hidden;
        for (uint32_t i = 0; i < n; i++) {
            const struct hr_batch_tok *bt = &e->batch[i];
            uint32_t s = e->owner[i];
            float *dst = out + (size_t)s * ne;
            if (bt->logits) {
                if (pooling == HR_POOLING_MEAN) {
                    double *sum = e->sum + (size_t)bt->seq * ne;
                    for (uint32_t k = 0; k < ne; k++)
                        sum[k] += row[k];
                } else {
                    memcpy(dst, row, ne * sizeof *dst);
                }
                row += ne;
            }
            if (bt->pos + 1 < seqs[s].n_tokens)
                continue;
            /* the sequence's last token: finish its vector, free its slot */
            if (pooling == HR_POOLING_MEAN) {
                const double *sum = e->sum + (size_t)bt->seq * ne;
                for (uint32_t k = 0; k < ne; k++)
                    dst[k] = (float)(sum[k] / seqs[s].n_tokens);
            }
            if (normalize)
                l2_normalize(dst, ne);
            hr_kv_seq_release(e->kv, bt->seq);
        }
    }
    return 0;
fail:
    for (uint32_t slot = 0; slot < HR_EMBED_BATCH; slot++)
        hr_kv_seq_release(e->kv, slot);
    return rc;
}
