/* Byte-level BPE (`tokenizer.ggml.model = "gpt2"`), as llama.cpp does it: the pre-tokenizer
 * regexes named by tokenizer.ggml.pre split the text into words; each word's bytes become
 * GPT-2's byte code points, one symbol per byte; adjacent symbols merge by rank from
 * tokenizer.ggml.merges (lowest first, ties leftmost); each final symbol is a token. Any
 * thread (building: once, at load). */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "tok_int.h"
#include "unicode.h"

static uint32_t fnv(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Rank of merging l with r, or -1. */
static int32_t merge_rank(const struct hr_tok *t, const char *l, size_t ll, const char *r,
                          size_t rl)
{
    if (!t->merge_cap)
        return -1;
    uint32_t h = fnv(fnv(fnv(2166136261u, l, ll), " ", 1), r, rl);
    uint32_t mask = t->merge_cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        int32_t id = t->merge_map[i];
        if (id < 0)
            return -1;
        const struct hr_tok_merge *m = &t->merges[id];
        if (m->split == ll && m->len == ll + 1 + rl && memcmp(m->text, l, ll) == 0 &&
            memcmp(m->text + ll + 1, r, rl) == 0)
            return id;
    }
}

int hr_tok__bpe_init(struct hr_tok *t, const struct hr_gguf *g, struct hr_diag *d)
{
    t->kind = HR_TOK_KIND_BPE;
    t->add_space_prefix = false;
    struct hr_str pre = {"default", 7};
    struct hr_gguf_kv const *kv = hr_gguf_find(g, "tokenizer.ggml.pre");
    if (kv && kv->type == HR_GGUF_STRING)
        pre = (struct hr_str){(const char *)kv->data, (size_t)kv->n_bytes};
    const struct hr_pretok_def *def = hr_tok__pretok_find(pre.ptr, pre.len);
    if (!def) {
        hr_diag_set(d, "pre-tokenizer '%.*s' (tokenizer.ggml.pre) is not supported",
                    (int)(pre.len < 64 ? pre.len : 64), pre.ptr);
        return HR_EUNSUPPORTED;
    }
    t->ignore_merges = def->ignore_merges;
    for (int i = 0; i < HR_PRETOK_MAX && def->patterns[i]; i++) {
        int rc = hr_regex_compile(&t->pretok[i], def->patterns[i], d);
        if (rc)
            return rc;
        t->n_pretok = i + 1;
    }
    const struct hr_gguf_kv *merges = NULL;
    struct hr_diag inner = {{0}};
    int rc = hr_gguf_get_arr(g, "tokenizer.ggml.merges", HR_GGUF_STRING, &merges, &inner);
    if (rc) {
        hr_diag_set(d, "%s", rc == HR_ENOTFOUND ? "key 'tokenizer.ggml.merges' is missing"
                                                 : inner.msg);
        return HR_EFORMAT;
    }
    t->n_merges = (uint32_t)merges->arr_n;
    t->merges = calloc(t->n_merges ? t->n_merges : 1, sizeof *t->merges);
    t->merge_cap = 16;
    while (t->merge_cap < t->n_merges * 2)
        t->merge_cap *= 2;
    t->merge_map = malloc(t->merge_cap * sizeof *t->merge_map);
    if (!t->merges || !t->merge_map)
        return HR_ENOMEM;
    memset(t->merge_map, 0xFF, t->merge_cap * sizeof *t->merge_map);
    for (uint32_t i = 0; i < t->n_merges; i++) {
        const struct hr_str *s = &merges->strs[i];
        const char *sp = s->len > 1 ? memchr(s->ptr + 1, ' ', s->len - 1) : NULL;
        if (!sp || s->len > 2 * HR_TOK_MAX_PIECE) {
            hr_diag_set(d, "key 'tokenizer.ggml.merges': entry %u is not 'left right'", i);
            return HR_EFORMAT;
        }
        struct hr_tok_merge *m = &t->merges[i];
        m->text = malloc(s->len + 1);
        if (!m->text)
            return HR_ENOMEM;
        memcpy(m->text, s->ptr, s->len);
        m->text[s->len] = '\0';
        m->len = (uint32_t)s->len;
        m->split = (uint32_t)(sp - s->ptr);
        uint32_t mask = t->merge_cap - 1;
        uint32_t h = fnv(2166136261u, m->text, m->len);
        uint32_t k = h & mask;
        while (t->merge_map[k] >= 0) {
            const struct hr_tok_merge *o = &t->merges[t->merge_map[k]];
            if (o->len == m->len && memcmp(o->text, m->text, m->len) == 0)
                break; /* a repeated merge keeps its first (best) rank */
            k = (k + 1) & mask;
        }
        if (t->merge_map[k] < 0)
            t->merge_map[k] = (int32_t)i;
    }
    return 0;
}

void hr_tok__bpe_deinit(struct hr_tok *t)
{
    for (int i = 0; i < t->n_pretok; i++)
        hr_regex_free(t->pretok[i]);
    if (t->merges)
        for (uint32_t i = 0; i < t->n_merges; i++)
            free(t->merges[i].text);
    free(t->merges);
    free(t->merge_map);
}

static int try_pair(const struct hr_tok *t, struct hr_tok_heap *h, const struct hr_tok_sym *s,
                    int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return 0;
    int32_t rank = merge_rank(t, s[l].text, s[l].n, s[r].text, s[r].n);
    if (rank < 0)
        return 0;
    struct hr_tok_bigram b = {-(float)rank, l, r, s[l].n + s[r].n};
    return hr_tok__heap_push(h, b);
}

/* Merges one byte-mapped word and emits its tokens. */
static int bpe_word(const struct hr_tok *t, const char *w, size_t n, struct hr_tok_out *o)
{
    if (t->ignore_merges) {
        int32_t id = hr_tok__lookup(t, w, n);
        if (id >= 0)
            return hr_tok__emit(o, id);
    }
    struct hr_tok_sym *s = malloc(n * sizeof *s);
    struct hr_tok_heap h = {0};
    if (!s)
        return HR_ENOMEM;
    int32_t n_sym = 0;
    for (size_t off = 0; off < n;) {
        size_t len;
        hr_utf8_decode(w + off, n - off, &len);
        s[n_sym] = (struct hr_tok_sym){n_sym - 1, -1, w + off, len};
        if (n_sym)
            s[n_sym - 1].next = n_sym;
        n_sym++;
        off += len;
    }
    int rc = hr_tok__merge_all(t, s, n_sym, &h, try_pair);
    for (int32_t i = 0; !rc && n_sym > 0 && i >= 0; i = s[i].next) {
        int32_t id = hr_tok__lookup(t, s[i].text, s[i].n);
        if (id >= 0) {
            rc = hr_tok__emit(o, id);
            continue;
        }
        /* Not a token (a vocabulary without every byte): each character that is one. */
        for (size_t k = 0; k < s[i].n && !rc;) {
            size_t len;
            hr_utf8_decode(s[i].text + k, s[i].n - k, &len);
            int32_t bid = hr_tok__lookup(t, s[i].text + k, len);
            if (bid >= 0)
                rc = hr_tok__emit(o, bid);
            k += len;
        }
    }
    free(s);
    free(h.a);
    return rc;
}

int hr_tok__bpe_encode(const struct hr_tok *t, const char *text, size_t len,
                       struct hr_tok_out *o)
{
    if (len == 0)
        return 0;
    uint32_t *cps = malloc(len * sizeof *cps);
    uint32_t *offs = malloc((len + 1) * sizeof *offs); /* byte offset of each code point */
    char *word = malloc(len * 2 + 1);                    /* a mapped byte is <= 2 UTF-8 bytes */
    struct hr_span *spans = malloc(sizeof *spans);
    int rc = cps && offs && word && spans ? 0 : HR_ENOMEM;
    size_t n_cp = 0;
    for (size_t i = 0; !rc && i < len;) {
        size_t l;
        cps[n_cp] = hr_utf8_decode(text + i, len - i, &l);
        offs[n_cp++] = (uint32_t)i;
        i += l;
    }
    if (!rc)
        offs[n_cp] = (uint32_t)len;
    size_t n_spans = 1;
    if (!rc)
        spans[0] = (struct hr_span){0, (uint32_t)n_cp};
    for (int i = 0; !rc && i < t->n_pretok; i++) {
        struct hr_span *next = NULL;
        size_t n_next = 0;
        rc = hr_regex_split(t->pretok[i], cps, spans, n_spans, &next, &n_next);
        if (!rc) {
            free(spans);
            spans = next;
            n_spans = n_next;
        }
    }
    for (size_t i = 0; !rc && i < n_spans; i++) {
        if (spans[i].len == 0)
            continue;
        uint32_t b0 = offs[spans[i].start], b1 = offs[spans[i].start + spans[i].len];
        size_t wn = 0;
        for (uint32_t b = b0; b < b1; b++)
            wn += hr_utf8_encode(hr_byte_to_cp((uint8_t)text[b]), word + wn);
        rc = bpe_word(t, word, wn, o);
    }
    free(cps);
    free(offs);
    free(word);
    free(spans);
    return rc;
}
