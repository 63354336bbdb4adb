/* Encoding entry point for every vocabulary kind: special-token partitioning (special texts
 * split the input, longest token first, as llama.cpp matches them; user-defined tokens always,
 * control and unknown ones only with parse_special), BOS/EOS, and each raw fragment handed to
 * the kind's encoder (tok_spm.c, tok_bpe.c). Any thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "tok_int.h"

int hr_tok__emit(struct hr_tok_out *o, int32_t id)
{
    if (o->n == o->cap)
        return HR_ERANGE;
    o->ids[o->n++] = id;
    return 0;
}

struct frag {
    int32_t token; /* -1: raw text */
    size_t off, len;
};

/* Splits the raw fragments on every occurrence of one special token. */
static int split_on(const struct hr_tok *t, int32_t id, const char *text, struct frag **fr,
                    size_t *n_fr, size_t *cap_fr)
{
    const struct hr_tok_entry *sp = &t->tokens[id];
    for (size_t i = 0; i < *n_fr; i++) {
        struct frag f = (*fr)[i];
        if (f.token >= 0 || f.len < sp->len)
            continue;
        const char *hit = memmem(text + f.off, f.len, sp->text, sp->len);
        if (!hit)
            continue;
        size_t at = (size_t)(hit - text);
        if (*n_fr + 2 > *cap_fr) {
            size_t cap = *cap_fr * 2 + 8;
            struct frag *p = realloc(*fr, cap * sizeof *p);
            if (!p)
                return HR_ENOMEM;
            *fr = p;
            *cap_fr = cap;
        }
        struct frag before = {-1, f.off, at - f.off};
        struct frag tok = {id, at, sp->len};
        struct frag after = {-1, at + sp->len, f.off + f.len - at - sp->len};
        /* Replace fragment i by the non-empty pieces; rescan "after" at its new index. */
        struct frag pieces[3];
        size_t k = 0;
        if (before.len)
            pieces[k++] = before;
        pieces[k++] = tok;
        if (after.len)
            pieces[k++] = after;
        memmove(*fr + i + k, *fr + i + 1, (*n_fr - i - 1) * sizeof **fr);
        memcpy(*fr + i, pieces, k * sizeof *pieces);
        *n_fr += k - 1;
        i += k - 1 - (after.len ? 1 : 0);
    }
    return 0;
}

int hr_tok_encode(const struct hr_tok *t, const char *text, size_t len, bool add_special,
                  bool parse_special, int32_t *out, size_t cap, size_t *n_out)
{
    struct hr_tok_out o = {out, 0, cap};
    *n_out = 0;
    int rc = 0;
    if (add_special && t->add_bos && t->bos >= 0)
        rc = hr_tok__emit(&o, t->bos);
    size_t n_fr = 0, cap_fr = 8;
    struct frag *fr = NULL;
    if (!rc && len) {
        fr = malloc(cap_fr * sizeof *fr);
        if (!fr)
            return HR_ENOMEM;
        fr[n_fr++] = (struct frag){-1, 0, len};
        for (int32_t i = 0; i < t->n_specials && !rc; i++) {
            int32_t id = t->specials[i];
            if (!parse_special && t->tokens[id].type != HR_TOK_USER_DEFINED)
                continue;
            rc = split_on(t, id, text, &fr, &n_fr, &cap_fr);
        }
    }
    bool prev_special = true;
    for (size_t i = 0; i < n_fr && !rc; i++) {
        if (fr[i].token >= 0) {
            rc = hr_tok__emit(&o, fr[i].token);
            prev_special = true;
        } else {
            if (t->kind == HR_TOK_KIND_BPE)
                rc = hr_tok__bpe_encode(t, text + fr[i].off, fr[i].len, &o);
            else if (t->kind == HR_TOK_KIND_WPM)
                rc = hr_tok__wpm_encode(t, text + fr[i].off, fr[i].len, &o);
            else
                rc = hr_tok__spm_encode(t, text + fr[i].off, fr[i].len,
                                        t->add_space_prefix && prev_special, &o);
            prev_special = false;
        }
    }
    free(fr);
    if (!rc && add_special && t->add_eos && t->eos >= 0)
        rc = hr_tok__emit(&o, t->eos);
    *n_out = o.n;
    return rc;
}

size_t hr_tok_max_tokens(size_t len)
{
    return 3 * len + 6;
}
