/* Grammar-constrained generation: a GBNF grammar (llama.cpp's syntax) or a JSON Schema is
 * compiled into an immutable, reference-counted struct hr_grammar; a struct hr_grammar_state
 * follows one sequence's output through it byte by byte (a pushdown automaton over the
 * grammar, memoised as a lazily built DFA) and masks the logits of every token that cannot
 * continue a valid output. struct hr_grammar_vocab is the model's vocabulary as a token trie,
 * built once per model, so shared prefixes are checked once per mask.
 * Threads: compiling, vocab building — any thread; a grammar and a vocab are immutable and
 * may be shared; a state belongs to one thread at a time (the engine thread). */
#ifndef HR_GRAMMAR_H
#define HR_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/diag.h"
#include "../base/limits.h"
#include "../tokenizer/tok.h"

/* Caps on what a hostile grammar or schema may make us do. */
#define HR_GRAMMAR_MAX_SOURCE (1u << 20)   /* bytes of GBNF or schema text */
#define HR_GRAMMAR_MAX_RULES 16384         /* rules, generated ones included */
#define HR_GRAMMAR_MAX_SYMS (1u << 20)     /* symbols after expanding repetitions */
#define HR_GRAMMAR_MAX_NEST 64             /* nested groups / schema levels */
#define HR_GRAMMAR_MAX_REPEAT 1000         /* m and n of x{m,n} */
#define HR_GRAMMAR_MAX_STACKS 1024         /* parallel parses of an ambiguous grammar */
#define HR_GRAMMAR_MAX_DEPTH 1024          /* frames of one parse stack (nesting of output) */

struct hr_grammar;

/* Parses GBNF source (rules `name ::= ...`, `|`, groups, `* + ?`, `{m}`, `{m,}`, `{m,n}`,
 * "literals", [classes], [^negated], `.`, `#` comments; the start rule is `root`). Undefined
 * rules, left recursion, malformed syntax and caps give HR_EINVAL with a diag naming the line,
 * column and construct. Caller frees with hr_grammar_unref. */
int hr_grammar_parse(struct hr_grammar **out, const char *src, size_t n, struct hr_diag *d);

/* Compiles a JSON Schema (JSON text) into GBNF text (*gbnf malloc'd, NUL-terminated; caller
 * frees). strict: OpenAI's strict mode (every property required, no additional properties
 * whatever the schema says). A keyword that would constrain output in a way not built is
 * refused (HR_EUNSUPPORTED) with a diag naming it and its JSON pointer; malformed schemas are
 * HR_EINVAL. */
int hr_grammar_schema_to_gbnf(const char *json, size_t n, bool strict, char **gbnf,
                              struct hr_diag *d);
/* hr_grammar_schema_to_gbnf then hr_grammar_parse. */
int hr_grammar_from_schema(struct hr_grammar **out, const char *json, size_t n, bool strict,
                           struct hr_diag *d);
/* Any JSON object (OpenAI's {"type": "json_object"}). */
int hr_grammar_json_object(struct hr_grammar **out, struct hr_diag *d);
/* The GBNF source of the json_object grammar (static). */
const char *hr_grammar_json_object_gbnf(void);

struct hr_grammar *hr_grammar_ref(struct hr_grammar *g);
void hr_grammar_unref(struct hr_grammar *g); /* NULL is fine; any thread (atomic) */

/* A vocabulary as a trie of token bytes. Tokens with no bytes (control tokens) can never be
 * chosen under a grammar; end-of-generation tokens only where the grammar may end. */
struct hr_grammar_vocab;

/* From a tokenizer: hr_tok_token_bytes of each id, hr_tok_is_eog. Caller frees. */
int hr_grammar_vocab_new(struct hr_grammar_vocab **out, const struct hr_tok *tok);
/* From raw pieces (benchmarks, tests): n tokens, bytes[i] of lens[i] bytes, is_eog[i]. */
int hr_grammar_vocab_new_raw(struct hr_grammar_vocab **out, int32_t n,
                             const char *const *bytes, const uint32_t *lens,
                             const bool *is_eog);
void hr_grammar_vocab_free(struct hr_grammar_vocab *v);
int32_t hr_grammar_vocab_n(const struct hr_grammar_vocab *v);

/* One sequence's position in a grammar. Takes a reference on g; v is borrowed and must
 * outlive the state. Caller frees with hr_grammar_state_free. */
struct hr_grammar_state;

int hr_grammar_state_new(struct hr_grammar_state **out, struct hr_grammar *g,
                         const struct hr_grammar_vocab *v);
void hr_grammar_state_free(struct hr_grammar_state *s);
/* Feeds output bytes: 0, HR_EINVAL when they cannot continue a valid output (the state is
 * then unchanged), HR_ERANGE when the grammar is too ambiguous (HR_GRAMMAR_MAX_STACKS). */
int hr_grammar_accept_bytes(struct hr_grammar_state *s, const char *bytes, size_t n);
/* Feeds a token (its bytes; an end-of-generation token is accepted only where the grammar
 * may end). Same errors. */
int hr_grammar_accept_token(struct hr_grammar_state *s, int32_t id);
/* Whether the output so far is a complete sentence of the grammar. */
bool hr_grammar_is_accepting(const struct hr_grammar_state *s);
/* Accepting and nothing may follow: only end-of-generation remains. */
bool hr_grammar_is_complete(const struct hr_grammar_state *s);
/* Sets logits[t] = -INFINITY for every token t of the vocabulary that cannot come next.
 * Returns 0 or HR_ERANGE (ambiguity cap) / HR_ENOMEM; on error logits are untouched. */
int hr_grammar_apply_mask(struct hr_grammar_state *s, float *logits);
/* The allowed-token bitmap itself (bit t of word t / 64), valid until the next call on s. */
int hr_grammar_mask(struct hr_grammar_state *s, const uint64_t **bits);

#endif
