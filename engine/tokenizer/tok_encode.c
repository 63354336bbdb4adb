/* Encoding entry point for every vocabulary kind: special-token partitioning (special texts
 * split the input, longest token first, as llama.cpp matches them; user-defined tokens always,
 * control and unknown ones only with parse_special; whitespace beside a token dropped where
 * the vocabulary marks it lstrip/rstrip), BOS/EOS, and each raw fragment handed to the kind's
 * encoder (tok_spm.c, tok_bpe.c, tok_wpm.c). Any thread. */
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

struct frags {
    struct frag *a;
    size_t n, cap;
};

static int push(struct frags *f, int32_t token, size_t off, size_t len)
{
    if (f->n == f->cap) {
        size_t cap = f->cap * 2 + 16;
        struct frag *p = realloc(f->a, cap * sizeof *p);
        if (!p)
            return HR_ENOMEM;
        f->a = p;
        f->cap = cap;
    }
    f->a[f->n++] = (struct frag){token, off, len};
    return 0;
}

/* isspace() in the C locale, which llama.cpp's strip rules use. */
static bool is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* One pass for one special token: copies the fragments of in to out with every occurrence in
 * raw text cut out as that token; *hit false (and out untouched) when there is none. A new
 * list per pass keeps a pass linear in the fragments (splitting in place would move the tail
 * at every hit: quadratic on hostile prompts). */
static int split_on(const struct hr_tok *t, int32_t id, const char *text, const struct frags *in,
                    struct frags *out, bool *hit_any)
{
    const struct hr_tok_entry *sp = &t->tokens[id];
    size_t first = 0;
    while (first < in->n) {
        const struct frag *f = &in->a[first];
        if (f->token < 0 && f->len >= sp->len &&
            memmem(text + f->off, f->len, sp->text, sp->len))
            break;
        first++;
    }
    *hit_any = first < in->n;
    if (!*hit_any)
        return 0;
    int rc = 0;
    out->n = 0;
    for (size_t i = 0; i < first && !rc; i++)
        rc = push(out, in->a[i].token, in->a[i].off, in->a[i].len);
    for (size_t i = first; i < in->n && !rc; i++) {
        struct frag f = in->a[i];
        if (f.token >= 0 || f.len < sp->len) {
            rc = push(out, f.token, f.off, f.len);
            continue;
        }
        size_t off = f.off, end = f.off + f.len;
        while (!rc) {
            const char *hit = memmem(text + off, end - off, sp->text, sp->len);
            if (!hit) {
                if (end > off)
                    rc = push(out, -1, off, end - off);
                break;
            }
            size_t at = (size_t)(hit - text), left = at - off;
            if (sp->lstrip)
                while (left && is_space(text[off + left - 1]))
                    left--;
            if (left)
                rc = push(out, -1, off, left);
            if (!rc)
                rc = push(out, id, at, sp->len);
            off = at + sp->len;
            if (sp->rstrip)
                while (off < end && is_space(text[off]))
                    off++;
        }
    }
    return rc;
}

/* Which byte pairs occur in the text: a special token with a pair the text lacks cannot
 * occur, so its pass is skipped. Vocabularies carry thousands of special tokens (reserved,
 * unused, markup) and each pass scans the whole text. */
struct pairs {
    uint64_t bits[65536 / 64];
};

static void pairs_init(struct pairs *p, const char *text, size_t len)
{
    memset(p->bits, 0, sizeof p->bits);
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned v = (unsigned)(uint8_t)text[i] << 8 | (uint8_t)text[i + 1];
        p->bits[v >> 6] |= 1ull << (v & 63);
    }
}

static bool pairs_may_hold(const struct pairs *p, const struct hr_tok_entry *e)
{
    for (uint32_t i = 0; i + 1 < e->len; i++) {
        unsigned v = (unsigned)(uint8_t)e->text[i] << 8 | (uint8_t)e->text[i + 1];
        if (!(p->bits[v >> 6] & 1ull << (v & 63)))
            return false;
    }
    return true;
}

/* Splits text into raw fragments and special tokens (in order) in *res. */
static int partition(const struct hr_tok *t, const char *text, size_t len, bool parse_special,
                     struct frags *res)
{
    struct frags a = {0}, b = {0};
    struct pairs *seen = malloc(sizeof *seen);
    if (!seen)
        return HR_ENOMEM;
    pairs_init(seen, text, len);
    int rc = push(&a, -1, 0, len);
    for (int32_t i = 0; i < t->n_specials && !rc; i++) {
        int32_t id = t->specials[i];
        if (!parse_special && t->tokens[id].type != HR_TOK_USER_DEFINED)
            continue;
        if (t->tokens[id].len > len || !pairs_may_hold(seen, &t->tokens[id]))
            continue;
        bool hit = false;
        rc = split_on(t, id, text, &a, &b, &hit);
        if (hit) {
            struct frags tmp = a;
            a = b;
            b = tmp;
        }
    }
    free(b.a);
    free(seen);
    if (rc) {
        free(a.a);
        return rc;
    }
    *res = a;
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
    struct frags fr = {0};
    if (!rc && len)
        rc = partition(t, text, len, parse_special, &fr);
    /* SentencePiece: the dummy prefix goes before the first fragment and after each special
     * token, as llama.cpp does. */
    bool prev_special = true;
    for (size_t i = 0; i < fr.n && !rc; i++) {
        const struct frag *f = &fr.a[i];
        if (f->token >= 0) {
            rc = hr_tok__emit(&o, f->token);
            prev_special = true;
            continue;
        }
        if (t->kind == HR_TOK_KIND_BPE)
            rc = hr_tok__bpe_encode(t, text + f->off, f->len, &o);
        else if (t->kind == HR_TOK_KIND_WPM)
            rc = hr_tok__wpm_encode(t, text + f->off, f->len, &o);
        else
            rc = hr_tok__spm_encode(t, text + f->off, f->len,
                                    t->add_space_prefix && prev_special, &o);
        prev_special = false;
    }
    free(fr.a);
    if (!rc && add_special && t->add_eos && t->eos >= 0)
        rc = hr_tok__emit(&o, t->eos);
    *n_out = o.n;
    return rc;
}

/* A raw fragment of k bytes needs at most 3k + 3 ids (every byte a space falling back to the
 * three bytes of U+2581, plus the dummy prefix); a prefix comes only first or after a special
 * token of at least one byte (one id). So 4 ids per byte, plus the first prefix, BOS and EOS,
 * always suffice. */
size_t hr_tok_max_tokens(size_t len)
{
    return 4 * len + 6;
}
