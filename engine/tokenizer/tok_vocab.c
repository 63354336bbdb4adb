/* Building a tokenizer from GGUF `tokenizer.ggml.*` metadata: pieces, scores and types copied
 * and validated, special ids range-checked, a hash map from piece to id, byte-fallback ids, and
 * the list of special tokens for partitioning (longest first, as llama.cpp matches them).
 * Any thread; the result is immutable. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "tok_int.h"

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int32_t hr_tok__lookup(const struct hr_tok *t, const char *s, size_t len)
{
    uint32_t mask = t->map_cap - 1;
    for (uint32_t i = hash(s, len) & mask;; i = (i + 1) & mask) {
        int32_t id = t->map[i];
        if (id < 0)
            return -1;
        if (t->tokens[id].len == len && memcmp(t->tokens[id].text, s, len) == 0)
            return id;
    }
}

int32_t hr_tok_find(const struct hr_tok *t, const char *piece, size_t len)
{
    return hr_tok__lookup(t, piece, len);
}

static int special_id(const struct hr_gguf *g, const struct hr_tok *t, const char *key,
                      int32_t *out, struct hr_diag *d)
{
    uint32_t v;
    struct hr_diag inner = {{0}};
    int rc = hr_gguf_get_u32(g, key, &v, &inner);
    if (rc == HR_ENOTFOUND)
        return 0;
    if (rc) {
        hr_diag_set(d, "%s", inner.msg);
        return HR_EFORMAT;
    }
    if (v >= (uint32_t)t->n_vocab) {
        hr_diag_set(d, "key '%s': token id %u is outside the vocabulary of %d", key, v,
                    t->n_vocab);
        return HR_EFORMAT;
    }
    *out = (int32_t)v;
    return 0;
}

static int get_flag(const struct hr_gguf *g, const char *key, bool *out, struct hr_diag *d)
{
    struct hr_diag inner = {{0}};
    int rc = hr_gguf_get_bool(g, key, out, &inner);
    if (rc == HR_ENOTFOUND)
        return 0;
    if (rc)
        hr_diag_set(d, "%s", inner.msg);
    return rc ? HR_EFORMAT : 0;
}

static int cmp_special(const void *a, const void *b, void *ud)
{
    const struct hr_tok *t = ud;
    uint32_t la = t->tokens[*(const int32_t *)a].len, lb = t->tokens[*(const int32_t *)b].len;
    if (la != lb)
        return la > lb ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

static bool is_eog_text(const char *s)
{
    static const char *names[] = {"<|im_end|>",    "<|eot_id|>", "<|end|>", "<|endoftext|>",
                                  "<end_of_turn>", "<|eom_id|>", "<EOT>",   "_<EOT>"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return false;
}

static int load_pieces(struct hr_tok *t, const struct hr_gguf *g, struct hr_diag *d)
{
    const struct hr_gguf_kv *toks = NULL, *scores = NULL, *types = NULL;
    struct hr_diag inner = {{0}};
    int rc = hr_gguf_get_arr(g, "tokenizer.ggml.tokens", HR_GGUF_STRING, &toks, &inner);
    if (rc) {
        hr_diag_set(d, "%s", rc == HR_ENOTFOUND ? "key 'tokenizer.ggml.tokens' is missing"
                                                 : inner.msg);
        return HR_EFORMAT;
    }
    if (toks->arr_n == 0 || toks->arr_n > HR_TOK_MAX_VOCAB) {
        hr_diag_set(d, "key 'tokenizer.ggml.tokens': %llu tokens (expected 1..%u)",
                    (unsigned long long)toks->arr_n, HR_TOK_MAX_VOCAB);
        return HR_EFORMAT;
    }
    t->n_vocab = (int32_t)toks->arr_n;
    rc = hr_gguf_get_arr(g, "tokenizer.ggml.scores", HR_GGUF_F32, &scores, &inner);
    if (rc && rc != HR_ENOTFOUND) {
        hr_diag_set(d, "%s", inner.msg);
        return HR_EFORMAT;
    }
    rc = hr_gguf_get_arr(g, "tokenizer.ggml.token_type", HR_GGUF_I32, &types, &inner);
    if (rc && rc != HR_ENOTFOUND) {
        hr_diag_set(d, "%s", inner.msg);
        return HR_EFORMAT;
    }
    if ((scores && scores->arr_n != toks->arr_n) || (types && types->arr_n != toks->arr_n)) {
        hr_diag_set(d, "key '%s': %llu entries for %llu tokens",
                    scores && scores->arr_n != toks->arr_n ? "tokenizer.ggml.scores"
                                                           : "tokenizer.ggml.token_type",
                    (unsigned long long)(scores && scores->arr_n != toks->arr_n
                                             ? scores->arr_n
                                             : types->arr_n),
                    (unsigned long long)toks->arr_n);
        return HR_EFORMAT;
    }
    t->tokens = calloc((size_t)t->n_vocab, sizeof *t->tokens);
    if (!t->tokens)
        return HR_ENOMEM;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        struct hr_tok_entry *e = &t->tokens[i];
        const struct hr_str *s = &toks->strs[i];
        if (s->len > HR_TOK_MAX_PIECE || memchr(s->ptr, '\0', s->len)) {
            hr_diag_set(d, "key 'tokenizer.ggml.tokens': token %d is longer than %u bytes or "
                           "contains NUL", i, HR_TOK_MAX_PIECE);
            return HR_EFORMAT;
        }
        e->text = malloc(s->len + 1);
        if (!e->text)
            return HR_ENOMEM;
        memcpy(e->text, s->ptr, s->len);
        e->text[s->len] = '\0';
        e->len = (uint32_t)s->len;
        if (scores)
            memcpy(&e->score, scores->data + (size_t)i * 4, 4);
        int32_t ty = HR_TOK_NORMAL;
        if (types)
            memcpy(&ty, types->data + (size_t)i * 4, 4);
        /* Unknown type numbers count as undefined, as in llama.cpp. */
        e->type = (ty >= HR_TOK_UNDEFINED && ty <= HR_TOK_BYTE) ? (uint8_t)ty : HR_TOK_UNDEFINED;
    }
    return 0;
}

static int build_map(struct hr_tok *t)
{
    t->map_cap = 16;
    while (t->map_cap < (uint32_t)t->n_vocab * 2)
        t->map_cap *= 2;
    t->map = malloc(t->map_cap * sizeof *t->map);
    if (!t->map)
        return HR_ENOMEM;
    memset(t->map, 0xFF, t->map_cap * sizeof *t->map);
    uint32_t mask = t->map_cap - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const struct hr_tok_entry *e = &t->tokens[id];
        uint32_t i = hash(e->text, e->len) & mask;
        /* The last id of a duplicated piece wins, as llama.cpp's token_to_id[text] = id does
         * when it loads the pieces in order. */
        while (t->map[i] >= 0 && !(t->tokens[t->map[i]].len == e->len &&
                                   memcmp(t->tokens[t->map[i]].text, e->text, e->len) == 0))
            i = (i + 1) & mask;
        t->map[i] = id;
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_ids[b] = hr_tok__lookup(t, name, 6);
    }
    return 0;
}

/* Whether s[0..n) contains needle (lower case ASCII), ignoring ASCII case. */
static bool contains_nocase(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && tolower((unsigned char)s[i + j]) == needle[j])
            j++;
        if (j == k)
            return true;
    }
    return false;
}

static void set_rstrip(struct hr_tok *t, const char *piece, bool on)
{
    int32_t id = hr_tok__lookup(t, piece, strlen(piece));
    if (id >= 0)
        t->tokens[id].rstrip = on;
}

/* Strip flags are not stored in GGUF: llama.cpp derives them from general.name, and a prompt
 * only tokenizes as it does if the same rule applies. Phi-3's special tokens swallow the
 * whitespace that follows them, except <unk>, <s> and <|endoftext|>. */
static void set_strip_flags(struct hr_tok *t, const struct hr_gguf *g)
{
    struct hr_str name;
    if (hr_gguf_get_str(g, "general.name", &name, NULL) != 0)
        return;
    if (!contains_nocase(name.ptr, name.len, "phi-3") &&
        !contains_nocase(name.ptr, name.len, "phi3"))
        return;
    for (int32_t i = 0; i < t->n_specials; i++)
        t->tokens[t->specials[i]].rstrip = true;
    set_rstrip(t, "</s>", true);
    set_rstrip(t, "<unk>", false);
    set_rstrip(t, "<s>", false);
    set_rstrip(t, "<|endoftext|>", false);
}

int hr_tok_new_from_gguf(struct hr_tok **out, const struct hr_gguf *g, struct hr_diag *d)
{
    *out = NULL;
    struct hr_str model;
    if (hr_gguf_get_str(g, "tokenizer.ggml.model", &model, NULL) != 0) {
        hr_diag_set(d, "key 'tokenizer.ggml.model' is missing or not a string");
        return HR_EFORMAT;
    }
    bool spm = model.len == 5 && memcmp(model.ptr, "llama", 5) == 0;
    bool bpe = model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0;
    bool wpm = model.len == 4 && memcmp(model.ptr, "bert", 4) == 0;
    if (!spm && !bpe && !wpm) {
        hr_diag_set(d, "tokenizer model '%.*s' is not supported yet (supported: llama, gpt2, "
                       "bert)",
                    (int)(model.len < 32 ? model.len : 32), model.ptr);
        return HR_EUNSUPPORTED;
    }
    struct hr_tok *t = calloc(1, sizeof *t);
    if (!t)
        return HR_ENOMEM;
    t->bos = t->eos = t->unk = t->eot = -1;
    t->add_bos = true;
    t->add_space_prefix = true;
    int rc = load_pieces(t, g, d);
    if (!rc)
        rc = build_map(t);
    if (!rc && bpe)
        rc = hr_tok__bpe_init(t, g, d);
    if (!rc && wpm) {
        t->kind = HR_TOK_KIND_WPM;
        t->add_space_prefix = false;
        for (int32_t i = 0; i < t->n_vocab; i++)
            if (t->tokens[i].len > t->max_piece)
                t->max_piece = t->tokens[i].len;
    }
    if (!rc) {
        if (spm) {
            /* SentencePiece defaults when the file names none. */
            t->bos = t->n_vocab > 1 ? 1 : -1;
            t->eos = t->n_vocab > 2 ? 2 : -1;
            t->unk = 0;
        }
        rc = special_id(g, t, "tokenizer.ggml.bos_token_id", &t->bos, d);
    }
    rc = rc ? rc : special_id(g, t, "tokenizer.ggml.eos_token_id", &t->eos, d);
    rc = rc ? rc : special_id(g, t, "tokenizer.ggml.unknown_token_id", &t->unk, d);
    rc = rc ? rc : special_id(g, t, "tokenizer.ggml.eot_token_id", &t->eot, d);
    rc = rc ? rc : get_flag(g, "tokenizer.ggml.add_bos_token", &t->add_bos, d);
    rc = rc ? rc : get_flag(g, "tokenizer.ggml.add_eos_token", &t->add_eos, d);
    rc = rc ? rc : get_flag(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, d);
    if (rc) {
        hr_tok_free(t);
        return rc;
    }
    int32_t n_sp = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        struct hr_tok_entry *e = &t->tokens[i];
        e->is_eog = i == t->eos || i == t->eot;
        /* A turn-ending token mislabelled as normal or user-defined would let generation run
         * on and print it: llama.cpp makes these control tokens, and so do we. */
        if (is_eog_text(e->text)) {
            e->is_eog = true;
            e->type = HR_TOK_CONTROL;
        }
        uint8_t ty = e->type;
        if (ty == HR_TOK_CONTROL || ty == HR_TOK_USER_DEFINED || ty == HR_TOK_UNKNOWN)
            n_sp += e->len > 0;
    }
    t->specials = malloc((size_t)(n_sp ? n_sp : 1) * sizeof *t->specials);
    if (!t->specials) {
        hr_tok_free(t);
        return HR_ENOMEM;
    }
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->tokens[i].type;
        if ((ty == HR_TOK_CONTROL || ty == HR_TOK_USER_DEFINED || ty == HR_TOK_UNKNOWN) &&
            t->tokens[i].len > 0)
            t->specials[t->n_specials++] = i;
    }
    qsort_r(t->specials, (size_t)t->n_specials, sizeof *t->specials, cmp_special, t);
    set_strip_flags(t, g);
    *out = t;
    return 0;
}

void hr_tok_free(struct hr_tok *t)
{
    if (!t)
        return;
    if (t->tokens)
        for (int32_t i = 0; i < t->n_vocab; i++)
            free(t->tokens[i].text);
    free(t->tokens);
    free(t->map);
    free(t->specials);
    hr_tok__bpe_deinit(t);
    free(t);
}

int32_t hr_tok_n_vocab(const struct hr_tok *t)
{
    return t->n_vocab;
}

int32_t hr_tok_bos(const struct hr_tok *t)
{
    return t->bos;
}

int32_t hr_tok_eos(const struct hr_tok *t)
{
    return t->eos;
}

bool hr_tok_add_bos(const struct hr_tok *t)
{
    return t->add_bos;
}

bool hr_tok_add_eos(const struct hr_tok *t)
{
    return t->add_eos;
}

bool hr_tok_is_eog(const struct hr_tok *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && t->tokens[id].is_eog;
}

enum hr_tok_type hr_tok_token_type(const struct hr_tok *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? (enum hr_tok_type)t->tokens[id].type : HR_TOK_UNDEFINED;
}

const char *hr_tok_piece(const struct hr_tok *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->n_vocab)
        return NULL;
    if (len)
        *len = t->tokens[id].len;
    return t->tokens[id].text;
}
