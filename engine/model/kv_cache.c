/* The paged KV cache (see model.h): a pool of fixed blocks, a free list, and a block table per
 * sequence; blocks are handed out as a sequence grows and returned when it ends (shared and
 * cached blocks: kv_prefix.c). Engine thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "model_int.h"

int hr_kv_new(struct hr_kv **out, const struct hr_model *m, enum hr_kv_type type,
              uint32_t n_blocks, uint32_t max_seqs, uint32_t max_tokens_per_seq)
{
    *out = NULL;
    if (n_blocks == 0 || max_seqs == 0 || max_tokens_per_seq == 0)
        return HR_EINVAL;
    if (type == HR_KV_Q8_0 && m->head_dim % 32)
        return HR_EUNSUPPORTED;
    struct hr_kv *kv = calloc(1, sizeof *kv);
    if (!kv)
        return HR_ENOMEM;
    kv->m = m;
    kv->type = type;
    kv->dtype = type == HR_KV_F32 ? HR_TYPE_F32 : type == HR_KV_F16 ? HR_TYPE_F16 : HR_TYPE_Q8_0;
    kv->kv_dim = m->n_head_kv * m->head_dim;
    uint64_t hb = 0;
    hr_dtype_row_bytes(kv->dtype, m->head_dim, &hb);
    kv->head_bytes = hb;
    kv->row_bytes = hb * m->n_head_kv;
    kv->n_blocks = n_blocks;
    kv->max_seqs = max_seqs;
    kv->max_blocks_per_seq = (max_tokens_per_seq + HR_KV_BLOCK - 1) / HR_KV_BLOCK;
    size_t bytes = (size_t)n_blocks * m->n_layer * HR_KV_BLOCK * kv->row_bytes;
    kv->k = malloc(bytes);
    kv->v = malloc(bytes);
    kv->free_list = malloc((size_t)n_blocks * sizeof *kv->free_list);
    kv->tables = calloc((size_t)max_seqs * kv->max_blocks_per_seq, sizeof *kv->tables);
    kv->n_seq_blocks = calloc(max_seqs, sizeof *kv->n_seq_blocks);
    if (!kv->k || !kv->v || !kv->free_list || !kv->tables || !kv->n_seq_blocks ||
        hr_kv__prefix_init(kv) != 0) {
        hr_kv_free(kv);
        return HR_ENOMEM;
    }
    /* hand out low block ids first */
    for (uint32_t i = 0; i < n_blocks; i++)
        kv->free_list[i] = n_blocks - 1 - i;
    kv->n_free = n_blocks;
    *out = kv;
    return 0;
}

void hr_kv_free(struct hr_kv *kv)
{
    if (!kv)
        return;
    free(kv->k);
    free(kv->v);
    free(kv->free_list);
    free(kv->tables);
    free(kv->n_seq_blocks);
    hr_kv__prefix_deinit(kv);
    free(kv);
}

int hr_kv_seq_reserve(struct hr_kv *kv, uint32_t seq, uint32_t n_tokens)
{
    if (seq >= kv->max_seqs)
        return HR_ERANGE;
    uint32_t need = (n_tokens + HR_KV_BLOCK - 1) / HR_KV_BLOCK;
    if (need > kv->max_blocks_per_seq)
        return HR_ECONTEXT;
    uint32_t have = kv->n_seq_blocks[seq];
    if (need <= have)
        return 0;
    if (need - have > kv->n_free + kv->n_lru)
        return HR_EFULL;
    uint32_t *table = kv->tables + (size_t)seq * kv->max_blocks_per_seq;
    for (uint32_t b = have; b < need; b++)
        table[b] = hr_kv__take_block(kv);
    kv->n_seq_blocks[seq] = need;
    return 0;
}

void hr_kv_seq_release(struct hr_kv *kv, uint32_t seq)
{
    if (seq >= kv->max_seqs)
        return;
    uint32_t *table = kv->tables + (size_t)seq * kv->max_blocks_per_seq;
    /* last block first: a shared prefix goes back to the cache last, so it is evicted last */
    for (uint32_t b = kv->n_seq_blocks[seq]; b > 0; b--)
        hr_kv__put_block(kv, table[b - 1]);
    kv->n_seq_blocks[seq] = 0;
    kv->n_committed[seq] = 0;
}

uint32_t hr_kv_free_blocks(const struct hr_kv *kv)
{
    return kv->n_free + kv->n_lru;
}

uint32_t hr_kv_total_blocks(const struct hr_kv *kv)
{
    return kv->n_blocks;
}

uint64_t hr_kv_bytes(const struct hr_kv *kv)
{
    return 2ull * kv->n_blocks * kv->m->n_layer * HR_KV_BLOCK * kv->row_bytes;
}
