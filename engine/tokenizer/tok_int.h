/* Shared by the tokenizer's files (tok_vocab.c builds, tok_spm.c encodes, tok_decode.c
 * decodes); nothing outside the tokenizer includes this. Immutable after build. */
#ifndef HR_TOK_INT_H
#define HR_TOK_INT_H

#include "tok.h"

struct hr_tok_entry {
    char *text; /* NUL-terminated copy (pieces never contain NUL: checked at build) */
    uint32_t len;
    float score;
    uint8_t type; /* enum hr_tok_type */
    bool is_eog;
};

struct hr_tok {
    int32_t n_vocab;
    struct hr_tok_entry *tokens;
    int32_t *map; /* open addressing: map_cap slots of token ids, -1 empty */
    uint32_t map_cap;
    int32_t byte_ids[256]; /* <0xXX> token per byte, -1 when absent */
    int32_t bos, eos, unk, eot;
    bool add_bos, add_eos, add_space_prefix;
    int32_t *specials; /* control/user-defined/unknown ids, longest text first */
    int32_t n_specials;
};

int32_t hr_tok__lookup(const struct hr_tok *t, const char *s, size_t len);

#endif
