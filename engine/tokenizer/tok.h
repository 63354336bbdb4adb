/* Tokenizers built from GGUF metadata (`tokenizer.ggml.*`). This slice implements the
 * SentencePiece-style model (`tokenizer.ggml.model = "llama"`): score-driven merges over the
 * text with U+2581 for spaces, an optional dummy space prefix, byte fallback (<0xNN> tokens)
 * and special-token matching when asked. A tokenizer is immutable once built: any thread may
 * encode and decode concurrently. */
#ifndef HR_TOK_H
#define HR_TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/diag.h"
#include "../gguf/gguf.h"

/* GGUF tokenizer.ggml.token_type values. */
enum hr_tok_type {
    HR_TOK_UNDEFINED = 0,
    HR_TOK_NORMAL = 1,
    HR_TOK_UNKNOWN = 2,
    HR_TOK_CONTROL = 3,
    HR_TOK_USER_DEFINED = 4,
    HR_TOK_UNUSED = 5,
    HR_TOK_BYTE = 6,
};

struct hr_tok;

/* Builds the tokenizer from a model's metadata. Copies what it needs: the reader may be closed
 * afterwards. HR_EUNSUPPORTED (diag names the tokenizer.ggml.model value) for models other
 * than "llama"; HR_EFORMAT (diag names the key) for missing or inconsistent arrays.
 * Caller frees with hr_tok_free. */
int hr_tok_new_from_gguf(struct hr_tok **out, const struct hr_gguf *g, struct hr_diag *d);
void hr_tok_free(struct hr_tok *t);

int32_t hr_tok_n_vocab(const struct hr_tok *t);
int32_t hr_tok_bos(const struct hr_tok *t);      /* -1 when the vocabulary has none */
int32_t hr_tok_eos(const struct hr_tok *t);      /* -1 when none */
bool hr_tok_add_bos(const struct hr_tok *t);     /* tokenizer.ggml.add_bos_token */
bool hr_tok_add_eos(const struct hr_tok *t);     /* tokenizer.ggml.add_eos_token */
/* End of generation: eos, eot (<|im_end|>, <|eot_id|>, <|end|>...) as the vocab marks them. */
bool hr_tok_is_eog(const struct hr_tok *t, int32_t id);
enum hr_tok_type hr_tok_token_type(const struct hr_tok *t, int32_t id);
/* The vocabulary's text for an id ("▁Hello", "<0x0A>", "<s>"); NULL when out of range. */
const char *hr_tok_piece(const struct hr_tok *t, int32_t id, size_t *len);
/* Id of an exact piece, or -1. */
int32_t hr_tok_find(const struct hr_tok *t, const char *piece, size_t len);

/* Encodes text. add_special: prepend BOS / append EOS as the vocab says. parse_special: text
 * that spells a control or user-defined token becomes that token (else it is plain text).
 * Writes at most cap ids to out and the count to *n_out; HR_ERANGE when cap is too small
 * (hr_tok_max_tokens(len) always suffices). */
int hr_tok_encode(const struct hr_tok *t, const char *text, size_t len, bool add_special,
                  bool parse_special, int32_t *out, size_t cap, size_t *n_out);

/* Ids that text of len bytes can need at most: a space that falls back to bytes becomes the
 * three byte tokens of U+2581, and a dummy prefix can follow every special token, plus BOS
 * and EOS (4 * len + 6). */
size_t hr_tok_max_tokens(size_t len);

/* The bytes a token stands for ("▁" -> " ", <0x0A> -> "\n"; control and unknown tokens -> ""
 * unless render_special; unused/undefined ones -> "", as llama.cpp prints them). Returns the
 * byte count (may be > cap: then nothing useful was written). */
size_t hr_tok_token_bytes(const struct hr_tok *t, int32_t id, bool render_special, char *buf,
                          size_t cap);

/* Streaming detokenizer: holds back an incomplete UTF-8 sequence until a later token completes
 * it, so a client never sees a broken character. Caller's storage; one per sequence. */
struct hr_detok {
    char pending[8];
    size_t n_pending;
};

void hr_detok_init(struct hr_detok *s);
/* Appends token id's text; writes complete UTF-8 to out (cap >= HR_TOK_MAX_PIECE + 8 holds any
 * valid piece) and returns the byte count, never more than cap: a garbage piece whose U+FFFD
 * replacements would not fit is cut at a character boundary. */
size_t hr_detok_push(struct hr_detok *s, const struct hr_tok *t, int32_t id, char *out,
                     size_t cap);
/* At the end of a sequence: whatever is still held back, invalid bytes replaced by U+FFFD. */
size_t hr_detok_flush(struct hr_detok *s, char *out, size_t cap);

#endif
