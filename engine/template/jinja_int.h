/* Shared by the Jinja interpreter's files: values (jinja_value.c), the lexer and parser
 * (jinja_lex.c, jinja_parse.c), the evaluator (jinja_eval.c) and the built-in filters, tests,
 * methods and functions (jinja_builtins.c). Nothing outside engine/template includes this. */
#ifndef HR_JINJA_INT_H
#define HR_JINJA_INT_H

#include "jinja.h"

struct hr_jkv {
    char *key;
    size_t klen;
    struct hr_jval *val;
};

struct jnode;

struct hr_jval {
    int refs;
    uint8_t kind;
    bool generator; /* a list made by map/select...: Python has a generator there, which
                       json.dumps and len() refuse; `| list` makes a real list */
    bool markup;    /* a string marked |safe: Python's Markup, whose `+` HTML-escapes the
                       other operand */
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            char *p;
            size_t n;
        } s;
        struct {
            struct hr_jval **items;
            size_t n, cap;
        } list;
        struct {
            struct hr_jkv *items;
            size_t n, cap;
        } dict; /* also a namespace's attributes */
        const struct jnode *macro;
    } u;
};

/* Lookups: a borrowed reference or NULL. */
struct hr_jval *hr_jv__dict_get(const struct hr_jval *d, const char *key, size_t klen);
bool hr_jv__truthy(const struct hr_jval *v);
bool hr_jv__equal(const struct hr_jval *a, const struct hr_jval *b);
/* Appends v as Jinja prints it ("True", "None", Python float repr...) to the builder. */
struct sbuf {
    char *p;
    size_t n, cap, max;
    bool overflow; /* max reached or out of memory */
};
void hr_sb__put(struct sbuf *b, const char *s, size_t n);
void hr_jv__print(struct sbuf *b, const struct hr_jval *v);
/* Python repr of v (strings quoted), as str() of a list shows its items. */
void hr_jv__repr(struct sbuf *b, const struct hr_jval *v);
/* JSON as Python's json.dumps(ensure_ascii=False): indent < 0 for one line. */
void hr_jv__json(struct sbuf *b, const struct hr_jval *v, int indent, int level);
const char *hr_jv__kind_name(const struct hr_jval *v);
size_t hr_utf8__count(const char *s, size_t n);

/* ---- syntax tree ---- */

enum jkind {
    /* statements */
    J_BLOCK, J_TEXT, J_OUTPUT, J_IF, J_FOR, J_SET, J_SETBLOCK, J_MACRO, J_DO, J_CALLBLOCK,
    J_FILTERBLOCK, J_BREAK, J_CONTINUE,
    /* expressions */
    J_STR, J_INT, J_FLOAT, J_BOOL, J_NONE, J_NAME, J_LIST, J_DICT, J_TUPLE, J_ATTR, J_INDEX,
    J_SLICE, J_CALL, J_FILTER, J_TEST, J_NOT, J_NEG, J_POS, J_BINOP, J_AND, J_OR, J_COND,
};

struct jnode {
    uint8_t kind;
    int line;
    char *str;  /* text, name, attribute, filter/test name, operator */
    size_t slen;
    int64_t ival;
    double fval;
    struct jnode **kids; /* children; NULL entries allowed (absent slice bounds...) */
    size_t n_kids;
    char **names;        /* call: keyword per argument (NULL = positional); macro params;
                            for/set targets */
    size_t n_names;
    struct jnode *body, *else_body;
};

void hr_jnode__free(struct jnode *n);

/* ---- lexer ---- */

enum jtok {
    T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END, T_NAME, T_STRING, T_INT,
    T_FLOAT, T_OP, T_EOF,
};

struct jtoken {
    uint8_t kind;
    int line;
    char *text; /* T_TEXT, T_NAME, T_STRING (unescaped), T_OP */
    size_t len;
    int64_t ival;
    double fval;
};

int hr_jinja__lex(const char *src, size_t len, struct jtoken **out, size_t *n_out,
                  struct hr_diag *d);
void hr_jinja__free_tokens(struct jtoken *t, size_t n);
int hr_jinja__parse(const struct jtoken *toks, size_t n, struct jnode **out, struct hr_diag *d);

/* ---- evaluation ---- */

struct jctx;
/* Built-ins, called by the evaluator with evaluated arguments (borrowed). kw[i] is the
 * keyword of args[i] or NULL. Return a new reference, or NULL with an error set on ctx. */
struct hr_jval *hr_jinja__filter(struct jctx *c, const struct jnode *at, const char *name,
                                 struct hr_jval *subject, struct hr_jval **args, char **kw,
                                 size_t n);
int hr_jinja__test(struct jctx *c, const struct jnode *at, const char *name,
                   struct hr_jval *subject, struct hr_jval **args, size_t n); /* 1/0/-1 */
struct hr_jval *hr_jinja__method(struct jctx *c, const struct jnode *at, struct hr_jval *obj,
                                 const char *name, struct hr_jval **args, char **kw, size_t n);
struct hr_jval *hr_jinja__global(struct jctx *c, const struct jnode *at, const char *name,
                                 struct hr_jval **args, char **kw, size_t n, bool *found);
/* Sets the render error (first one wins) naming the node's line. */
void hr_jinja__error(struct jctx *c, const struct jnode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int64_t hr_jinja__now(const struct jctx *c);
bool hr_jinja__failed(const struct jctx *c);
/* Applies a filter by name to one value (map, selectattr with a test...). */
struct hr_jval *hr_jinja__apply_filter(struct jctx *c, const struct jnode *at,
                                       const char *name, struct hr_jval *v);
int hr_jinja__count_iteration(struct jctx *c, const struct jnode *at);
/* Loop control ({% break %}, {% continue %}): set by the statement, consumed by the loop. */
void hr_jinja__loop_control(struct jctx *c, int what); /* 1 break, 2 continue */
/* jinja_ops.c: operators. New references, or NULL with an error set. */
size_t hr_jinja__cp_offset(const char *s, size_t n, size_t i); /* byte offset of code point i */
struct hr_jval *hr_jinja__index(struct jctx *c, const struct jnode *at, struct hr_jval *obj,
                                struct hr_jval *key);
struct hr_jval *hr_jinja__arith(struct jctx *c, const struct jnode *n, const char *op,
                                struct hr_jval *a, struct hr_jval *b);
int hr_jinja__compare(struct jctx *c, const struct jnode *n, struct hr_jval *a,
                      struct hr_jval *b, int *out);
bool hr_jinja__contains(struct hr_jval *hay, struct hr_jval *needle);
/* HTML-escapes s as markupsafe does (& < > " '). New reference. */
struct hr_jval *hr_jinja__escape(const struct hr_jval *s);
/* Python str.split: sep NULL splits on whitespace runs; maxsplit < 0: no limit. */
struct hr_jval *hr_jinja__split(const struct hr_jval *s, const struct hr_jval *sep,
                                int64_t maxsplit);

#endif
