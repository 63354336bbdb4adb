/* SentencePiece-style encoding of one raw fragment, as llama.cpp does it for `llama`
 * vocabularies: the dummy space prefix when asked, spaces as U+2581, UTF-8 characters as
 * symbols, merges of the adjacent pair whose concatenation is a piece with the highest score
 * first (ties: leftmost) through a priority queue, and byte fallback (<0xXX>) for symbols
 * that are not pieces. Special-token partitioning is tok_encode.c's. Any thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "tok_int.h"

/* a ranks above b: higher score, then the leftmost. */
static bool above(const struct hr_tok_bigram *a, const struct hr_tok_bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

int hr_tok__heap_push(struct hr_tok_heap *h, struct hr_tok_bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct hr_tok_bigram *p = realloc(h->a, cap * sizeof *p);
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

struct hr_tok_bigram hr_tok__heap_pop(struct hr_tok_heap *h)
{
    struct hr_tok_bigram top = h->a[0], last = h->a[--h->n];
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

int hr_tok__merge_all(const struct hr_tok *t, struct hr_tok_sym *s, int32_t n_sym,
                      struct hr_tok_heap *h, hr_tok_pair_fn try_pair)
{
    int rc = 0;
    for (int32_t i = 1; i < n_sym && !rc; i++)
        rc = try_pair(t, h, s, i - 1, i);
    while (!rc && h->n) {
        struct hr_tok_bigram b = hr_tok__heap_pop(h);
        struct hr_tok_sym *l = &s[b.left], *r = &s[b.right];
        /* Stale entry: one side was merged since this pair was queued. */
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size || l->next != b.right)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = b.left;
        rc = try_pair(t, h, s, l->prev, b.left);
        if (!rc)
            rc = try_pair(t, h, s, b.left, l->next);
    }
    return rc;
}

static int try_bigram(const struct hr_tok *t, struct hr_tok_heap *h, const struct hr_tok_sym *s,
                      int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return 0;
    size_t n = s[l].n + s[r].n;
    int32_t id = hr_tok__lookup(t, s[l].text, n);
    if (id < 0)
        return 0;
    struct hr_tok_bigram b = {t->tokens[id].score, l, r, n};
    return hr_tok__heap_push(h, b);
}

static size_t utf8_len(uint8_t c)
{
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

/* Encodes one escaped fragment (spaces already U+2581). */
static int encode_piece(const struct hr_tok *t, const char *text, size_t len, struct hr_tok_out *o)
{
    if (len == 0)
        return 0;
    struct hr_tok_sym *s = malloc(len * sizeof *s);
    struct hr_tok_heap h = {0};
    if (!s)
        return HR_ENOMEM;
    int32_t n_sym = 0;
    for (size_t off = 0; off < len;) {
        size_t n = utf8_len((uint8_t)text[off]);
        if (n > len - off)
            n = len - off;
        s[n_sym] = (struct hr_tok_sym){n_sym - 1, -1, text + off, n};
        if (n_sym > 0)
            s[n_sym - 1].next = n_sym;
        n_sym++;
        off += n;
    }
    int rc = hr_tok__merge_all(t, s, n_sym, &h, try_bigram);
    for (int32_t i = 0; !rc && i >= 0 && n_sym > 0; i = s[i].next) {
        int32_t id = hr_tok__lookup(t, s[i].text, s[i].n);
        if (id >= 0) {
            rc = hr_tok__emit(o, id);
            continue;
        }
        for (size_t k = 0; k < s[i].n && !rc; k++) {
            int32_t b = t->byte_ids[(uint8_t)s[i].text[k]];
            rc = hr_tok__emit(o, b >= 0 ? b : t->unk);
        }
    }
    free(s);
    free(h.a);
    return rc;
}

/* Escapes and encodes text[0..len) with an optional leading dummy space. */
int hr_tok__spm_encode(const struct hr_tok *t, const char *text, size_t len, bool prefix,
                      struct hr_tok_out *o)
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

