/* SentencePiece-style encoding as llama.cpp does it for `llama` vocabularies:
 *  1. Special-token partition: text is split on occurrences of special-token texts, longest
 *     token first (user-defined tokens always; control and unknown only with parse_special).
 *  2. Each raw fragment gets the dummy space prefix when it follows a special token or starts
 *     the text (add_space_prefix), spaces become U+2581, and it is split into UTF-8 chars.
 *  3. Adjacent symbols whose concatenation is a vocabulary piece are merged, highest score
 *     first (ties: leftmost), through a priority queue.
 *  4. A final symbol that is not a piece falls back to its bytes as <0xXX> tokens.
 * Any thread: reads only the immutable tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "tok_int.h"

struct sym {
    int32_t prev, next;
    const char *text;
    size_t n; /* 0: merged away */
};

struct bigram {
    float score;
    int32_t left, right;
    size_t size;
};

struct heap {
    struct bigram *a;
    size_t n, cap;
};

/* a ranks above b: higher score, then the leftmost. */
static bool above(const struct bigram *a, const struct bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(struct heap *h, struct bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct bigram *p = realloc(h->a, cap * sizeof *p);
        if (!p)
            return HR_ENOMEM;
        h->a = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && above(&b, &h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = b;
    return 0;
}

static struct bigram heap_pop(struct heap *h)
{
    struct bigram top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && above(&h->a[c + 1], &h->a[c]))
            c++;
        if (!above(&h->a[c], &last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n)
        h->a[i] = last;
    return top;
}

struct out {
    int32_t *ids;
    size_t n, cap;
};

static int emit(struct out *o, int32_t id)
{
    if (o->n == o->cap)
        return HR_ERANGE;
    o->ids[o->n++] = id;
    return 0;
}

static int try_bigram(const struct hr_tok *t, struct heap *h, const struct sym *s, int32_t l,
                      int32_t r)
{
    if (l < 0 || r < 0)
        return 0;
    size_t n = s[l].n + s[r].n;
    int32_t id = hr_tok__lookup(t, s[l].text, n);
    if (id < 0)
        return 0;
    struct bigram b = {t->tokens[id].score, l, r, n};
    return heap_push(h, b);
}

static size_t utf8_len(uint8_t c)
{
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

/* Encodes one escaped fragment (spaces already U+2581). */
static int encode_piece(const struct hr_tok *t, const char *text, size_t len, struct out *o)
{
    if (len == 0)
        return 0;
    struct sym *s = malloc(len * sizeof *s);
    struct heap h = {0};
    if (!s)
        return HR_ENOMEM;
    int32_t n_sym = 0;
    for (size_t off = 0; off < len;) {
        size_t n = utf8_len((uint8_t)text[off]);
        if (n > len - off)
            n = len - off;
        s[n_sym] = (struct sym){n_sym - 1, -1, text + off, n};
        if (n_sym > 0)
            s[n_sym - 1].next = n_sym;
        n_sym++;
        off += n;
    }
    int rc = 0;
    for (int32_t i = 1; i < n_sym && !rc; i++)
        rc = try_bigram(t, &h, s, i - 1, i);
    while (!rc && h.n) {
        struct bigram b = heap_pop(&h);
        struct sym *l = &s[b.left], *r = &s[b.right];
        /* Stale entry: one side was merged since this pair was queued. */
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size || l->next != b.right)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = b.left;
        rc = try_bigram(t, &h, s, l->prev, b.left);
        if (!rc)
            rc = try_bigram(t, &h, s, b.left, l->next);
    }
    for (int32_t i = 0; !rc && i >= 0 && n_sym > 0; i = s[i].next) {
        int32_t id = hr_tok__lookup(t, s[i].text, s[i].n);
        if (id >= 0) {
            rc = emit(o, id);
            continue;
        }
        for (size_t k = 0; k < s[i].n && !rc; k++) {
            int32_t b = t->byte_ids[(uint8_t)s[i].text[k]];
            rc = emit(o, b >= 0 ? b : t->unk);
        }
    }
    free(s);
    free(h.a);
    return rc;
}

/* Escapes and encodes text[0..len) with an optional leading dummy space. */
static int encode_raw(const struct hr_tok *t, const char *text, size_t len, bool prefix,
                      struct out *o)
{
    size_t n_spaces = prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        n_spaces += text[i] == ' ';
    size_t cap = len + n_spaces * 2 + 1;
    char *esc = malloc(cap);
    if (!esc)
        return HR_ENOMEM;
    size_t e = 0;
    if (prefix) {
        memcpy(esc, "\xE2\x96\x81", 3);
        e = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(esc + e, "\xE2\x96\x81", 3);
            e += 3;
        } else {
            esc[e++] = text[i];
        }
    }
    int rc = encode_piece(t, esc, e, o);
    free(esc);
    return rc;
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
    struct out o = {out, 0, cap};
    *n_out = 0;
    int rc = 0;
    if (add_special && t->add_bos && t->bos >= 0)
        rc = emit(&o, t->bos);
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
            rc = emit(&o, fr[i].token);
            prev_special = true;
        } else {
            rc = encode_raw(t, text + fr[i].off, fr[i].len, t->add_space_prefix && prev_special,
                            &o);
            prev_special = false;
        }
    }
    free(fr);
    if (!rc && add_special && t->add_eos && t->eos >= 0)
        rc = emit(&o, t->eos);
    *n_out = o.n;
    return rc;
}
