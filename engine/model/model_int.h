/* Shared by the model's forward-pass files (kv_cache.c, model_forward.c). Nothing outside
 * engine/model includes this. */
#ifndef HR_MODEL_INT_H
#define HR_MODEL_INT_H

#include "model.h"

/* Paged KV cache: sequences own fixed blocks of HR_KV_BLOCK positions through a block table.
 * Storage per block: n_layer x HR_KV_BLOCK x kv_dim floats, for K and for V. */
struct hr_kv {
    const struct hr_model *m;
    uint32_t kv_dim;
    uint32_t n_blocks;
    uint32_t max_seqs;
    uint32_t max_blocks_per_seq;
    float *k, *v;
    uint32_t *free_list; /* n_free block ids */
    uint32_t n_free;
    uint32_t *tables;    /* max_seqs x max_blocks_per_seq */
    uint32_t *n_seq_blocks;
};

/* K (or V) row of (layer, seq, pos); pos must lie in a reserved block. */
static inline float *hr_kv__row(const struct hr_kv *kv, float *base, uint32_t layer, uint32_t seq,
                                uint32_t pos)
{
    uint32_t block = kv->tables[(size_t)seq * kv->max_blocks_per_seq + pos / HR_KV_BLOCK];
    size_t slot = ((size_t)block * kv->m->n_layer + layer) * HR_KV_BLOCK + pos % HR_KV_BLOCK;
    return base + slot * kv->kv_dim;
}

#endif
