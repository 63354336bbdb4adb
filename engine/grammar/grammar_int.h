/* Shared by the grammar module's files; nothing outside engine/grammar includes this.
 *
 * A compiled grammar is flat. syms[] holds every alternative of every rule, each ended by
 * SYM_END; a symbol is (kind | payload << 2): SYM_TERM(payload = index of a 256-bit byte set
 * in sets[]), SYM_REF(payload = rule id). Rule r's alternatives start at
 * syms[alts[rule_alt[r]] .. alts[rule_alt[r + 1] - 1]]. Character classes are compiled to
 * UTF-8 byte sequences at parse time, so the automaton only ever matches bytes. */
#ifndef HR_GRAMMAR_INT_H
#define HR_GRAMMAR_INT_H

#include <stdatomic.h>

#include "grammar.h"

enum { SYM_END = 0, SYM_TERM = 1, SYM_REF = 2 };

#define SYM_KIND(s) ((s) & 3u)
#define SYM_ARG(s) ((s) >> 2)
#define SYM_MAKE(kind, arg) ((uint32_t)(kind) | ((uint32_t)(arg) << 2))

struct hr_grammar {
    atomic_int refs;
    uint32_t root;
    uint32_t n_rules;
    uint32_t *rule_alt; /* n_rules + 1 */
    uint32_t *alts;     /* start positions in syms */
    uint32_t *syms;
    uint32_t n_syms;
    uint64_t (*sets)[4]; /* byte sets: bit b of word b / 64 */
    uint32_t n_sets;
};

static inline bool hr_grammar__set_has(const uint64_t *set, unsigned b)
{
    return (set[b >> 6] >> (b & 63)) & 1u;
}

/* A growable byte string with a maximum, for the schema compiler's output. */
struct hr_gbuf {
    char *p;
    size_t n, cap, max;
    bool failed; /* allocation failed or max reached; later appends are ignored */
};

void hr_grammar__buf_put(struct hr_gbuf *b, const char *s, size_t n);
void hr_grammar__buf_puts(struct hr_gbuf *b, const char *s);
void hr_grammar__buf_printf(struct hr_gbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The integers in [lo, hi] (a bound absent when its has_ flag is false) as a GBNF group into
 * b: HR_EINVAL when empty, HR_EUNSUPPORTED beyond 18 digits (schema_num.c). */
int hr_grammar__int_range(struct hr_gbuf *b, bool has_lo, int64_t lo, bool has_hi, int64_t hi);

struct hr_grammar_vocab {
    int32_t n_vocab;
    /* trie in preorder: node i has byte[i], its subtree ends before skip[i]; the tokens
       whose bytes end at node i are sorted_ids[tok_begin[i] .. tok_begin[i + 1]) */
    uint32_t n_nodes;
    uint8_t *byte;
    uint32_t *skip;
    uint32_t *tok_begin; /* n_nodes + 1 */
    int32_t *sorted_ids;
    uint32_t max_len;    /* longest token, bounds the walk's depth */
    int32_t *eog;        /* end-of-generation ids */
    uint32_t n_eog;
    char *tok_bytes;     /* every token's bytes, token i at tok_off[i] .. tok_off[i + 1] */
    uint32_t *tok_off;   /* n_vocab + 1; EOG and control tokens are empty */
};

/* gbnf_build.c: makes room for need elements of elem bytes in *p (capacity *cap, doubling from
 * first). HR_ENOMEM leaves *p as it was. */
int hr_grammar__grow(void **p, uint32_t *cap, uint32_t need, size_t elem, uint32_t first);

#endif

/* ---- the GBNF builder, shared by gbnf.c (syntax) and gbnf_build.c (checks, layout) ---- */

struct hr_galt {
    uint32_t *s;
    uint32_t n, cap;
};

struct hr_grule {
    const char *name; /* into the source; NULL for rules the parser generates */
    size_t name_len;
    const char *owner; /* generated rules: the named rule they belong to, for messages */
    size_t owner_len;
    struct hr_galt *alts;
    uint32_t n_alts, cap_alts;
    bool defined;
    size_t off; /* source offset of the definition, or of the first reference while undefined */
};

struct hr_gbuild {
    struct hr_grule *rules;
    uint32_t n_rules, cap_rules;
    uint64_t (*sets)[4];
    uint32_t n_sets, cap_sets;
    int32_t single[256]; /* set id of each one-byte set, -1 until made */
    size_t n_syms;       /* over all alternatives, for the cap */
    struct hr_diag *d;
    const char *src; /* the GBNF text, for line and column in messages */
};

int hr_grammar__add_sym(struct hr_gbuild *b, uint32_t rule, uint32_t alt, uint32_t sym);
int hr_grammar__new_rule(struct hr_gbuild *b, uint32_t *id);
int hr_grammar__new_alt(struct hr_gbuild *b, uint32_t rule, uint32_t *alt);
int hr_grammar__new_set(struct hr_gbuild *b, const uint64_t set[4], uint32_t *id);
int hr_grammar__byte_sym(struct hr_gbuild *b, unsigned byte, uint32_t *sym);
/* A symbol matching one code point of the sorted, merged ranges lo[i]..hi[i] (surrogates
 * never match): a byte set when all are ASCII, else a generated rule of UTF-8 sequences. */
int hr_grammar__class_sym(struct hr_gbuild *b, const uint32_t *lo, const uint32_t *hi,
                          size_t n, uint32_t owner_rule, uint32_t *sym);
/* Checks (undefined rules, root, left recursion) and lays the grammar out flat. */
int hr_grammar__finish(struct hr_gbuild *b, struct hr_grammar **out);
void hr_grammar__build_free(struct hr_gbuild *b);
/* Line and column (from 1) of a source offset. */
void hr_grammar__where(const struct hr_gbuild *b, size_t off, uint32_t *line, uint32_t *col);

/* ---- the matcher (matcher.c: states and transitions; mask.c: the vocabulary walk) ----
 *
 * A parse stack is a chain of frames; frame.pos is a position in syms: the top frame's is a
 * SYM_TERM still to match, the others' the positions to return to. Frames are hash-consed,
 * so a stack is identified by its top frame's id and equal stacks share one id. A DFA state
 * is the sorted set of live stacks plus "the empty stack is live" (accepting); states are
 * interned too, and transitions (state, byte) -> state are computed once and cached, as are
 * masks per state. When the tables pass their soft caps, they are rebuilt holding only the
 * current state (RE2's DFA cache does the same). */

#define GS_TRANS_UNKNOWN (-2)
#define GS_DEAD (-1)

struct gs_frame {
    uint32_t pos;
    int32_t parent; /* frame id or -1 */
    uint32_t depth;
};

struct gs_dstate {
    uint32_t first, n; /* frame ids in items[first .. first + n) */
    uint32_t hash;
    bool accepting;
    int32_t mask; /* slot in masks or -1 */
};

struct gs_work {
    uint32_t pos;
    int32_t parent;
};

struct hr_grammar_state {
    struct hr_grammar *g;
    const struct hr_grammar_vocab *v;
    struct gs_frame *frames;
    uint32_t n_frames, cap_frames;
    int32_t *frame_hash; /* open addressing, -1 empty */
    uint32_t frame_hash_cap;
    struct gs_dstate *states;
    uint32_t n_states, cap_states;
    int32_t *items;
    uint32_t n_items, cap_items;
    int32_t *state_hash;
    uint32_t state_hash_cap;
    int32_t *trans; /* cap_states x 256 */
    uint64_t *masks; /* max_masks x words */
    int32_t *mask_state;
    uint32_t n_masks, max_masks, words;
    int32_t cur;
    /* scratch of one transition */
    int32_t *out;
    uint32_t n_out, cap_out;
    struct gs_work *work;
    uint32_t n_work, cap_work;
    uint64_t *visited; /* (pos, parent) keys stamped with gen */
    uint32_t *visited_gen;
    uint32_t gen;
    int err; /* sticky: the first cap or allocation failure */
    /* expansions left for the current call (mask or accept): a hostile grammar whose every
       byte makes new states cannot stall the engine thread for long */
    uint64_t budget;
    uint64_t max_used; /* the most one call used, for benchmarks and tests */
};

/* The state reached from st by byte b: a state id or GS_DEAD (also on a cap or allocation
 * failure, which s->err then holds). Cached. */
int32_t hr_grammar__step(struct hr_grammar_state *s, int32_t st, unsigned b);
/* Brackets one public call (mask, accept) for the expansion budget. */
void hr_grammar__call_begin(struct hr_grammar_state *s);
void hr_grammar__call_end(struct hr_grammar_state *s);
/* Between steps: rebuilds the tables around the current state when past their soft caps. */
int hr_grammar__maybe_rebuild(struct hr_grammar_state *s);
