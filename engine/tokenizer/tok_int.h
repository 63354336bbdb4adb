/* Shared by the tokenizer's files (tok_vocab.c builds, tok_spm.c encodes, tok_decode.c
 * decodes); nothing outside the tokenizer includes this. Immutable after build. */
#ifndef HR_TOK_INT_H
#define HR_TOK_INT_H

#include "regex.h"
#include "tok.h"

#define HR_PRETOK_MAX 6

/* A pre-tokenizer: the regexes applied in order before BPE. */
struct hr_pretok_def {
    const char *name; /* tokenizer.ggml.pre */
    const char *patterns[HR_PRETOK_MAX];
    bool ignore_merges; /* a whole word that is a token is taken as is (Llama 3) */
};

const struct hr_pretok_def *hr_tok__pretok_find(const char *name, size_t len);

enum hr_tok_kind {
    HR_TOK_KIND_SPM, /* "llama" */
    HR_TOK_KIND_BPE, /* "gpt2": byte-level BPE */
    HR_TOK_KIND_WPM, /* "bert": WordPiece */
};

struct hr_tok_merge {
    char *text; /* "left right" as stored in tokenizer.ggml.merges */
    uint32_t len;
    uint32_t split; /* offset of the separating space */
};

/* Output of an encoder: ids written into a caller buffer with a cap. */
struct hr_tok_out {
    int32_t *ids;
    size_t n, cap;
};

int hr_tok__emit(struct hr_tok_out *o, int32_t id);

/* Merge machinery shared by SPM and BPE: symbols in a linked list over the text, candidate
 * pairs in a max-heap by score (BPE uses -rank), ties to the leftmost pair. */
struct hr_tok_sym {
    int32_t prev, next;
    const char *text;
    size_t n; /* 0: merged away */
};

struct hr_tok_bigram {
    float score;
    int32_t left, right;
    size_t size;
};

struct hr_tok_heap {
    struct hr_tok_bigram *a;
    size_t n, cap;
};

int hr_tok__heap_push(struct hr_tok_heap *h, struct hr_tok_bigram b);
/* Queues the pair (l, r) if the vocabulary can merge it (score: SPM's, or -rank for BPE). */
typedef int (*hr_tok_pair_fn)(const struct hr_tok *t, struct hr_tok_heap *h,
                              const struct hr_tok_sym *s, int32_t l, int32_t r);
/* Merges adjacent symbols best pair first until no pair merges; s is the linked list. */
int hr_tok__merge_all(const struct hr_tok *t, struct hr_tok_sym *s, int32_t n_sym,
                      struct hr_tok_heap *h, hr_tok_pair_fn try_pair);
struct hr_tok_bigram hr_tok__heap_pop(struct hr_tok_heap *h);
/* Encodes one raw (non-special) fragment. */
int hr_tok__spm_encode(const struct hr_tok *t, const char *text, size_t len, bool prefix,
                       struct hr_tok_out *o);
int hr_tok__bpe_encode(const struct hr_tok *t, const char *text, size_t len,
                       struct hr_tok_out *o);
int hr_tok__wpm_encode(const struct hr_tok *t, const char *text, size_t len,
                       struct hr_tok_out *o);
/* Builds the BPE parts (merges, pre-tokenizer) of t from g. */
int hr_tok__bpe_init(struct hr_tok *t, const struct hr_gguf *g, struct hr_diag *d);
void hr_tok__bpe_deinit(struct hr_tok *t);

struct hr_tok_entry {
    char *text; /* NUL-terminated copy (pieces never contain NUL: checked at build) */
    uint32_t len;
    float score;
    uint8_t type; /* enum hr_tok_type */
    bool is_eog;
    /* Whitespace before (lstrip) / after (rstrip) this special token is dropped when it is
     * matched in text; llama.cpp keys these on the model's name (see tok_vocab.c). */
    bool lstrip, rstrip;
};

struct hr_tok {
    enum hr_tok_kind kind;
    int32_t n_vocab;
    struct hr_tok_entry *tokens;
    int32_t *map; /* open addressing: map_cap slots of token ids, -1 empty */
    uint32_t map_cap;
    int32_t byte_ids[256]; /* <0xXX> token per byte, -1 when absent */
    int32_t bos, eos, unk, eot;
    bool add_bos, add_eos, add_space_prefix;
    int32_t *specials; /* control/user-defined/unknown ids, longest text first */
    int32_t n_specials;
    /* byte-level BPE */
    struct hr_tok_merge *merges; /* rank = index */
    uint32_t n_merges;
    int32_t *merge_map; /* open addressing over merges, merge_cap slots, -1 empty */
    uint32_t merge_cap;
    struct hr_regex *pretok[HR_PRETOK_MAX];
    int n_pretok;
    bool ignore_merges;
    size_t max_piece; /* longest piece in bytes (WordPiece's search window) */
};

int32_t hr_tok__lookup(const struct hr_tok *t, const char *s, size_t len);

#endif
