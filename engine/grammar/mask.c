/* Token masks: the vocabulary as a trie of token bytes in preorder (built once per model),
 * walked with the grammar's DFA so that a prefix shared by many tokens is stepped once and a
 * dead prefix prunes its whole subtree; the resulting bitmap is cached per DFA state, so a
 * state seen before costs one copy over the logits. End-of-generation tokens are allowed
 * exactly where the grammar may end; tokens without bytes (control tokens) never.
 * Vocab: any thread, then immutable. Masks: the state's thread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "grammar_int.h"

struct piece {
    const uint8_t *p;
    uint32_t n;
    int32_t id;
};

static int cmp_piece(const void *a, const void *b)
{
    const struct piece *x = a, *y = b;
    uint32_t n = x->n < y->n ? x->n : y->n;
    int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c)
        return c;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Preorder construction over the sorted pieces: [lo, hi) share their first `depth` bytes;
 * those exactly `depth` long end at the current node (they sort first). Iterative, since a
 * piece may be HR_TOK_MAX_PIECE bytes long. */
static int build_trie(struct hr_grammar_vocab *v, const struct piece *pc, uint32_t n)
{
    struct level {
        uint32_t lo, hi, depth, node;
    } *st = malloc(((size_t)v->max_len + 2) * sizeof *st);
    if (!st)
        return HR_ENOMEM;
    uint32_t sp = 0, node = 0;
    st[sp++] = (struct level){0, n, 0, UINT32_MAX};
    uint32_t i = 0; /* next piece to place */
    while (sp) {
        struct level *l = &st[sp - 1];
        while (l->lo < l->hi && pc[l->lo].n == l->depth) {
            l->lo++;
            i++;
        }
        if (l->lo >= l->hi) {
            if (l->node != UINT32_MAX)
                v->skip[l->node] = node;
            sp--;
            continue;
        }
        uint8_t b = pc[l->lo].p[l->depth];
        uint32_t j = l->lo;
        while (j < l->hi && pc[j].p[l->depth] == b)
            j++;
        v->byte[node] = b;
        v->tok_begin[node] = i;
        uint32_t child_lo = l->lo, depth = l->depth + 1;
        l->lo = j;
        st[sp++] = (struct level){child_lo, j, depth, node};
        node++;
    }
    v->tok_begin[node] = i;
    v->n_nodes = node;
    free(st);
    return 0;
}

int hr_grammar_vocab_new_raw(struct hr_grammar_vocab **out, int32_t n,
                             const char *const *bytes, const uint32_t *lens,
                             const bool *is_eog)
{
    *out = NULL;
    if (n < 1 || (uint32_t)n > HR_TOK_MAX_VOCAB)
        return HR_EINVAL;
    struct hr_grammar_vocab *v = calloc(1, sizeof *v);
    struct piece *pc = malloc((size_t)n * sizeof *pc);
    uint64_t total = 0;
    uint32_t np = 0, ne = 0;
    if (!v || !pc)
        goto nomem;
    v->n_vocab = n;
    for (int32_t i = 0; i < n; i++) {
        if (is_eog && is_eog[i]) {
            ne++;
            continue;
        }
        if (lens[i] == 0)
            continue;
        pc[np++] = (struct piece){(const uint8_t *)bytes[i], lens[i], i};
        total += lens[i];
        if (lens[i] > v->max_len)
            v->max_len = lens[i];
    }
    qsort(pc, np, sizeof *pc, cmp_piece);
    /* at most one node per byte of all pieces */
    v->byte = malloc(total + 1);
    v->skip = malloc((total + 1) * sizeof *v->skip);
    v->tok_begin = malloc((total + 2) * sizeof *v->tok_begin);
    v->sorted_ids = malloc(((size_t)np + 1) * sizeof *v->sorted_ids);
    v->eog = malloc(((size_t)ne + 1) * sizeof *v->eog);
    v->tok_bytes = malloc(total + 1);
    v->tok_off = malloc(((size_t)n + 1) * sizeof *v->tok_off);
    if (!v->byte || !v->skip || !v->tok_begin || !v->sorted_ids || !v->eog || !v->tok_bytes ||
        !v->tok_off)
        goto nomem;
    uint32_t o = 0;
    for (int32_t i = 0; i < n; i++) {
        v->tok_off[i] = o;
        if (!(is_eog && is_eog[i]) && lens[i]) {
            memcpy(v->tok_bytes + o, bytes[i], lens[i]);
            o += lens[i];
        }
    }
    v->tok_off[n] = o;
    for (uint32_t i = 0; i < np; i++)
        v->sorted_ids[i] = pc[i].id;
    for (int32_t i = 0; i < n; i++)
        if (is_eog && is_eog[i])
            v->eog[v->n_eog++] = i;
    if (build_trie(v, pc, np) != 0)
        goto nomem;
    free(pc);
    *out = v;
    return 0;
nomem:
    free(pc);
    hr_grammar_vocab_free(v);
    return HR_ENOMEM;
}

int hr_grammar_vocab_new(struct hr_grammar_vocab **out, const struct hr_tok *tok)
{
    *out = NULL;
    int32_t n = hr_tok_n_vocab(tok);
    if (n < 1)
        return HR_EINVAL;
    char **bytes = calloc((size_t)n, sizeof *bytes);
    uint32_t *lens = calloc((size_t)n, sizeof *lens);
    bool *eog = calloc((size_t)n, sizeof *eog);
    char buf[HR_TOK_MAX_PIECE * 4 + 16];
    int rc = bytes && lens && eog ? 0 : HR_ENOMEM;
    for (int32_t i = 0; i < n && rc == 0; i++) {
        eog[i] = hr_tok_is_eog(tok, i);
        size_t k = hr_tok_token_bytes(tok, i, false, buf, sizeof buf);
        if (k > sizeof buf)
            k = 0; /* no real token is this long; never choosable */
        if (k && !(bytes[i] = malloc(k)))
            rc = HR_ENOMEM;
        else if (k)
            memcpy(bytes[i], buf, k);
        lens[i] = (uint32_t)k;
    }
    if (rc == 0)
        rc = hr_grammar_vocab_new_raw(out, n, (const char *const *)bytes, lens, eog);
    for (int32_t i = 0; bytes && i < n; i++)
        free(bytes[i]);
    free(bytes);
    free(lens);
    free(eog);
    return rc;
}

void hr_grammar_vocab_free(struct hr_grammar_vocab *v)
{
    if (!v)
        return;
    free(v->byte);
    free(v->skip);
    free(v->tok_begin);
    free(v->sorted_ids);
    free(v->eog);
    free(v->tok_bytes);
    free(v->tok_off);
    free(v);
}

int32_t hr_grammar_vocab_n(const struct hr_grammar_vocab *v)
{
    return v->n_vocab;
}

/* The allowed tokens of DFA state st into bits (s->words words). */
static int compute_mask(struct hr_grammar_state *s, int32_t st, uint64_t *bits)
{
    const struct hr_grammar_vocab *v = s->v;
    memset(bits, 0, (size_t)s->words * sizeof *bits);
    struct level {
        uint32_t end;
        int32_t state;
    } stack[64], *lv = stack;
    if (v->max_len + 2 > 64 && !(lv = malloc(((size_t)v->max_len + 2) * sizeof *lv)))
        return HR_ENOMEM;
    uint32_t d = 0, i = 0;
    lv[0] = (struct level){v->n_nodes, st};
    for (;;) {
        if (i >= lv[d].end) {
            if (d == 0)
                break;
            d--;
            continue;
        }
        int32_t t = s->trans[(size_t)lv[d].state * 256 + v->byte[i]];
        if (t == GS_TRANS_UNKNOWN)
            t = hr_grammar__step(s, lv[d].state, v->byte[i]);
        if (t < 0) {
            if (s->err)
                break;
            i = v->skip[i];
            continue;
        }
        for (uint32_t k = v->tok_begin[i]; k < v->tok_begin[i + 1]; k++) {
            int32_t id = v->sorted_ids[k];
            bits[id >> 6] |= 1ull << (id & 63);
        }
        if (v->skip[i] > i + 1)
            lv[++d] = (struct level){v->skip[i], t};
        i++;
    }
    if (lv != stack)
        free(lv);
    if (s->err)
        return s->err;
    if (s->states[st].accepting)
        for (uint32_t k = 0; k < v->n_eog; k++)
            bits[v->eog[k] >> 6] |= 1ull << (v->eog[k] & 63);
    return 0;
}

int hr_grammar_mask(struct hr_grammar_state *s, const uint64_t **bits)
{
    *bits = NULL;
    if (!s->v)
        return HR_EINVAL;
    if (s->err)
        return s->err;
    int rc = hr_grammar__maybe_rebuild(s);
    if (rc)
        return rc;
    int32_t m = s->states[s->cur].mask;
    if (m >= 0 && s->mask_state[m] == s->cur) {
        *bits = s->masks + (size_t)m * s->words;
        return 0;
    }
    if (!s->masks && !(s->masks = malloc((size_t)s->max_masks * s->words * sizeof *s->masks)))
        return HR_ENOMEM;
    if (s->n_masks >= s->max_masks) {
        /* full: start over; states keep stale slots, which mask_state disowns */
        for (uint32_t k = 0; k < s->n_masks; k++)
            s->states[s->mask_state[k]].mask = -1;
        s->n_masks = 0;
    }
    uint32_t slot = s->n_masks;
    uint64_t *b = s->masks + (size_t)slot * s->words;
    int32_t cur = s->cur;
    hr_grammar__call_begin(s);
    rc = compute_mask(s, cur, b);
    hr_grammar__call_end(s);
    if (rc)
        return rc;
    s->n_masks++;
    s->mask_state[slot] = cur;
    s->states[cur].mask = (int32_t)slot;
    *bits = b;
    return 0;
}

int hr_grammar_apply_mask(struct hr_grammar_state *s, float *logits)
{
    const uint64_t *bits;
    int rc = hr_grammar_mask(s, &bits);
    if (rc)
        return rc;
    int32_t n = s->v->n_vocab;
    for (int32_t w = 0; w * 64 < n; w++) {
        uint64_t m = bits[w];
        if (m == UINT64_MAX)
            continue;
        int32_t end = w * 64 + 64 < n ? w * 64 + 64 : n;
        for (int32_t t = w * 64; t < end; t++)
            if (!((m >> (t & 63)) & 1))
                logits[t] = -INFINITY;
    }
    return 0;
}

int hr_grammar_accept_token(struct hr_grammar_state *s, int32_t id)
{
    const struct hr_grammar_vocab *v = s->v;
    if (!v || id < 0 || id >= v->n_vocab)
        return HR_EINVAL;
    for (uint32_t k = 0; k < v->n_eog; k++)
        if (v->eog[k] == id)
            return s->err ? s->err : hr_grammar_is_accepting(s) ? 0 : HR_EINVAL;
    uint32_t n = v->tok_off[id + 1] - v->tok_off[id];
    if (n == 0)
        return HR_EINVAL; /* a control token never continues a grammar */
    return hr_grammar_accept_bytes(s, v->tok_bytes + v->tok_off[id], n);
}
