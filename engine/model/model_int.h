/* Shared by the model's forward-pass files (kv_cache.c, model_forward.c). Nothing outside
 * engine/model includes this. */
#ifndef HR_MODEL_INT_H
#define HR_MODEL_INT_H

#include "model.h"

/* What the prefix cache knows of a block (kv_prefix.c). A registered block is full, its
 * contents are fixed by its tokens and its parent's, and it may be shared. */
struct hr_kv_block {
    uint64_t hash;    /* chain hash of every token up to the end of this block */
    int32_t parent;   /* the block before it in its sequence, -1 for the first */
    uint32_t parent_gen; /* that block's gen when this one was registered */
    uint32_t gen;     /* bumped whenever the block is handed out anew: children registered
                         under an earlier use of it no longer match */
    bool registered;  /* in the hash table: findable by later sequences */
    uint32_t lru_prev, lru_next;
    int32_t tokens[HR_KV_BLOCK];
};

/* Paged KV cache: sequences own fixed blocks of HR_KV_BLOCK positions through a block table.
 * Storage per block: n_layer x HR_KV_BLOCK x kv_dim floats, for K and for V. A block is free,
 * held by one or more sequences (refs > 0), or cached: registered, held by none, evictable
 * in least-recently-released order. */
struct hr_kv {
    const struct hr_model *m;
    enum hr_kv_type type;
    uint32_t dtype;     /* HR_TYPE_F32, F16 or Q8_0 */
    uint64_t row_bytes; /* one position's K (or V) row of one layer */
    uint64_t head_bytes;
    uint32_t kv_dim;
    uint32_t n_blocks;
    uint32_t max_seqs;
    uint32_t max_blocks_per_seq;
    uint8_t *k, *v;
    uint32_t *free_list; /* n_free block ids */
    uint32_t n_free;
    uint32_t *tables;    /* max_seqs x max_blocks_per_seq */
    uint32_t *n_seq_blocks;
    /* prefix cache */
    uint32_t *refs;             /* per block: sequences holding it */
    struct hr_kv_block *info;   /* per block */
    uint32_t lru_head, lru_tail, n_lru; /* cached blocks, oldest first */
    uint32_t *ht;               /* open addressing, ht_mask + 1 slots of block ids */
    uint32_t ht_mask;
    uint32_t *n_committed;      /* per sequence: leading blocks registered or shared */
};

#define HR_KV_NONE UINT32_MAX

/* weight_pack.c: w's packed copy, made now with the pool if it has none and the kernel set
 * wants one; NULL when it reads the file's layout. Freeing: at hr_model_free. */
const void *hr_weight__packed(const struct hr_weight *w, struct hr_pool *pool);
void hr_weight__free_packed(struct hr_weight *w);

/* kv_prefix.c: a block for a sequence (free list first, then the oldest cached block, which
 * leaves the hash table), or HR_KV_NONE; and giving one back. */
uint32_t hr_kv__take_block(struct hr_kv *kv);
void hr_kv__put_block(struct hr_kv *kv, uint32_t b);
int hr_kv__prefix_init(struct hr_kv *kv);
void hr_kv__prefix_deinit(struct hr_kv *kv);

/* K (or V) row of (layer, seq, pos), in the cache's type; pos must lie in a reserved block. */
static inline uint8_t *hr_kv__row(const struct hr_kv *kv, uint8_t *base, uint32_t layer,
                                  uint32_t seq, uint32_t pos)
{
    uint32_t block = kv->tables[(size_t)seq * kv->max_blocks_per_seq + pos / HR_KV_BLOCK];
    size_t slot = ((size_t)block * kv->m->n_layer + layer) * HR_KV_BLOCK + pos % HR_KV_BLOCK;
    return base + slot * kv->row_bytes;
}

/* Head h of a row as floats: the row itself for F32, else decoded into tmp (head_dim). */
static inline const float *hr_kv__head(const struct hr_kv *kv, const uint8_t *row, uint32_t h,
                                       float *tmp)
{
    const uint8_t *p = row + (size_t)h * kv->head_bytes;
    if (kv->type == HR_KV_F32)
        return (const float *)(const void *)p;
    hr_dequant_row(kv->dtype, p, tmp, kv->m->head_dim);
    return tmp;
}

/* Like hr_runner_eval, but for each flagged token writes its final hidden state after
 * output_norm (n_embd floats, the embedding before pooling) instead of logits, and never runs
 * the classifier. Same checks, same bit-identity whatever the batch. */
int hr_runner__eval_hidden(struct hr_runner *r, struct hr_kv *kv, const struct hr_batch_tok *toks,
                           uint32_t n, float *hidden, struct hr_pool *pool);

/* Reads <arch>.pooling_type and <arch>.attention.causal into m (load time). HR_EFORMAT for a
 * pooling type outside llama.cpp's enum, HR_EUNSUPPORTED for bidirectional attention; the
 * diag names the key. */
int hr_model__read_embed_meta(struct hr_model *m, struct hr_diag *d);

#endif
