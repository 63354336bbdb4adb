/* Shared by the Jinja parser's two files: expressions (jinja_parse.c) and statements
 * (jinja_stmt.c). Nothing else includes this. */
#ifndef HR_JINJA_PARSER_H
#define HR_JINJA_PARSER_H

#include "jinja_int.h"

struct parser {
    const struct jtoken *t;
    size_t n, i;
    struct hr_diag *d;
    bool failed;
    int depth;
};

#define MAX_PARSE_DEPTH 200

const struct jtoken *hr_jinja__p_peek(struct parser *p);
const struct jtoken *hr_jinja__p_next(struct parser *p);
bool hr_jinja__p_is_op(const struct jtoken *t, const char *op);
bool hr_jinja__p_is_name(const struct jtoken *t, const char *name);
/* Records the first syntax error, with the line; returns NULL for chaining. */
void *hr_jinja__p_perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct jnode *hr_jinja__p_node(struct parser *p, uint8_t kind);
bool hr_jinja__p_add_kid(struct parser *p, struct jnode *n, struct jnode *kid);
bool hr_jinja__p_add_name(struct parser *p, struct jnode *n, const char *name);
bool hr_jinja__p_expect_op(struct parser *p, const char *op);
struct jnode *hr_jinja__p_wrap(struct parser *p, uint8_t kind, struct jnode *inner);
struct jnode *hr_jinja__p_parse_expr(struct parser *p);
struct jnode *hr_jinja__p_parse_or(struct parser *p);
struct jnode *hr_jinja__p_parse_primary(struct parser *p);

#endif
