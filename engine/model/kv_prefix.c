/* The prefix cache over the paged KV cache. A full block's K/V rows depend only on the tokens
 * up to its end (the forward pass is batch- and chunk-invariant), so a block registered under
 * the chain hash of those tokens can be lent to any later sequence with the same prefix: its
 * bytes are exactly what that sequence would compute. Matches are exact, not probabilistic:
 * the hash finds candidates, then the block's own tokens and its parent block are compared.
 * Shared blocks are never written again (sequences write only past their shared prefix), so
 * no copy-on-write is needed. Blocks nobody holds stay cached until a sequence needs the
 * space, oldest released first. Engine thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "model_int.h"

int hr_kv__prefix_init(struct hr_kv *kv)
{
    uint32_t cap = 16;
    while (cap < 2 * kv->n_blocks)
        cap *= 2;
    kv->refs = calloc(kv->n_blocks, sizeof *kv->refs);
    kv->info = calloc(kv->n_blocks, sizeof *kv->info);
    kv->ht = malloc((size_t)cap * sizeof *kv->ht);
    kv->n_committed = calloc(kv->max_seqs, sizeof *kv->n_committed);
    if (!kv->refs || !kv->info || !kv->ht || !kv->n_committed)
        return HR_ENOMEM;
    memset(kv->ht, 0xFF, (size_t)cap * sizeof *kv->ht);
    kv->ht_mask = cap - 1;
    kv->lru_head = kv->lru_tail = HR_KV_NONE;
    return 0;
}

void hr_kv__prefix_deinit(struct hr_kv *kv)
{
    free(kv->refs);
    free(kv->info);
    free(kv->ht);
    free(kv->n_committed);
}

/* The hash of a block's tokens chained onto its parent's (splitmix64 finaliser per token). */
static uint64_t chain_hash(uint64_t parent_hash, const int32_t *tokens)
{
    uint64_t h = parent_hash ^ 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < HR_KV_BLOCK; i++) {
        h ^= (uint32_t)tokens[i];
        h += 0x9E3779B97F4A7C15ull;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
        h ^= h >> 31;
    }
    return h;
}

static void lru_unlink(struct hr_kv *kv, uint32_t b)
{
    struct hr_kv_block *x = &kv->info[b];
    if (x->lru_prev != HR_KV_NONE)
        kv->info[x->lru_prev].lru_next = x->lru_next;
    else
        kv->lru_head = x->lru_next;
    if (x->lru_next != HR_KV_NONE)
        kv->info[x->lru_next].lru_prev = x->lru_prev;
    else
        kv->lru_tail = x->lru_prev;
    kv->n_lru--;
}

static void lru_append(struct hr_kv *kv, uint32_t b)
{
    struct hr_kv_block *x = &kv->info[b];
    x->lru_prev = kv->lru_tail;
    x->lru_next = HR_KV_NONE;
    if (kv->lru_tail != HR_KV_NONE)
        kv->info[kv->lru_tail].lru_next = b;
    else
        kv->lru_head = b;
    kv->lru_tail = b;
    kv->n_lru++;
}

/* Linear probing; removal shifts later entries of the run back (no tombstones). */
static void ht_remove(struct hr_kv *kv, uint32_t b)
{
    uint32_t i = (uint32_t)kv->info[b].hash & kv->ht_mask;
    while (kv->ht[i] != b)
        i = (i + 1) & kv->ht_mask;
    uint32_t hole = i;
    for (;;) {
        i = (i + 1) & kv->ht_mask;
        uint32_t c = kv->ht[i];
        if (c == HR_KV_NONE)
            break;
        uint32_t home = (uint32_t)kv->info[c].hash & kv->ht_mask;
        /* c may fill the hole when its home is not cyclically in (hole, i] */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            kv->ht[hole] = c;
            hole = i;
        }
    }
    kv->ht[hole] = HR_KV_NONE;
    kv->info[b].registered = false;
}

static void ht_insert(struct hr_kv *kv, uint32_t b)
{
    uint32_t i = (uint32_t)kv->info[b].hash & kv->ht_mask;
    while (kv->ht[i] != HR_KV_NONE)
        i = (i + 1) & kv->ht_mask;
    kv->ht[i] = b;
    kv->info[b].registered = true;
}

/* The registered block holding these tokens after parent (-1: at the start), or HR_KV_NONE. */
static uint32_t ht_find(const struct hr_kv *kv, uint64_t hash, int32_t parent,
                        const int32_t *tokens)
{
    uint32_t parent_gen = parent >= 0 ? kv->info[parent].gen : 0;
    for (uint32_t i = (uint32_t)hash & kv->ht_mask; kv->ht[i] != HR_KV_NONE;
         i = (i + 1) & kv->ht_mask) {
        const struct hr_kv_block *x = &kv->info[kv->ht[i]];
        if (x->hash == hash && x->parent == parent && x->parent_gen == parent_gen &&
            memcmp(x->tokens, tokens, sizeof x->tokens) == 0)
            return kv->ht[i];
    }
    return HR_KV_NONE;
}

uint32_t hr_kv__take_block(struct hr_kv *kv)
{
    uint32_t b;
    if (kv->n_free) {
        b = kv->free_list[--kv->n_free];
    } else if (kv->lru_head != HR_KV_NONE) {
        b = kv->lru_head;
        lru_unlink(kv, b);
        ht_remove(kv, b);
    } else {
        return HR_KV_NONE;
    }
    kv->refs[b] = 1;
    kv->info[b].gen++;
    return b;
}

void hr_kv__put_block(struct hr_kv *kv, uint32_t b)
{
    if (--kv->refs[b])
        return;
    if (kv->info[b].registered)
        lru_append(kv, b);
    else
        kv->free_list[kv->n_free++] = b;
}

uint32_t hr_kv_seq_attach_prefix(struct hr_kv *kv, uint32_t seq, const int32_t *tokens,
                                 uint32_t n_tokens)
{
    if (seq >= kv->max_seqs || kv->n_seq_blocks[seq] != 0 || n_tokens == 0)
        return 0;
    uint32_t *table = kv->tables + (size_t)seq * kv->max_blocks_per_seq;
    /* at least the last token is always evaluated: its logits start the answer */
    uint32_t max = (n_tokens - 1) / HR_KV_BLOCK;
    if (max > kv->max_blocks_per_seq)
        max = kv->max_blocks_per_seq;
    uint64_t hash = 0;
    int32_t parent = -1;
    uint32_t i = 0;
    for (; i < max; i++) {
        const int32_t *t = tokens + (size_t)i * HR_KV_BLOCK;
        hash = chain_hash(hash, t);
        uint32_t b = ht_find(kv, hash, parent, t);
        if (b == HR_KV_NONE)
            break;
        if (kv->refs[b]++ == 0)
            lru_unlink(kv, b);
        table[i] = b;
        parent = (int32_t)b;
    }
    kv->n_seq_blocks[seq] = i;
    kv->n_committed[seq] = i;
    return i * HR_KV_BLOCK;
}

void hr_kv_seq_commit(struct hr_kv *kv, uint32_t seq, const int32_t *tokens, uint32_t n_valid)
{
    if (seq >= kv->max_seqs)
        return;
    uint32_t *table = kv->tables + (size_t)seq * kv->max_blocks_per_seq;
    uint32_t full = n_valid / HR_KV_BLOCK;
    if (full > kv->n_seq_blocks[seq])
        full = kv->n_seq_blocks[seq];
    for (uint32_t i = kv->n_committed[seq]; i < full; i++) {
        const int32_t *t = tokens + (size_t)i * HR_KV_BLOCK;
        int32_t parent = i ? (int32_t)table[i - 1] : -1;
        uint64_t hash = chain_hash(i ? kv->info[table[i - 1]].hash : 0, t);
        /* The same prefix computed by another sequence at the same time is already there:
         * ours stays private, and so must every later block of ours (they hang off it). */
        if (ht_find(kv, hash, parent, t) != HR_KV_NONE)
            return;
        struct hr_kv_block *x = &kv->info[table[i]];
        x->hash = hash;
        x->parent = parent;
        x->parent_gen = parent >= 0 ? kv->info[parent].gen : 0;
        memcpy(x->tokens, t, sizeof x->tokens);
        ht_insert(kv, table[i]);
        kv->n_committed[seq] = i + 1;
    }
}

uint32_t hr_kv_cached_blocks(const struct hr_kv *kv)
{
    return kv->n_lru;
}
