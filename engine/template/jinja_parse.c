/* Jinja expression parser: tokens to a syntax tree, with jinja2's operator precedence (or < and < not <
 * comparisons < + - < ~ < * / // % < ** < unary < postfix, filters and tests). Errors name the
 * line and the construct. Any thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "jinja_parser.h"


const struct jtoken *hr_jinja__p_peek(struct parser *p)
{
    return &p->t[p->i < p->n ? p->i : p->n - 1];
}

const struct jtoken *hr_jinja__p_next(struct parser *p)
{
    const struct jtoken *t = hr_jinja__p_peek(p);
    if (p->i < p->n - 1)
        p->i++;
    return t;
}

bool hr_jinja__p_is_op(const struct jtoken *t, const char *op)
{
    return t->kind == T_OP && strcmp(t->text, op) == 0;
}

bool hr_jinja__p_is_name(const struct jtoken *t, const char *name)
{
    return t->kind == T_NAME && strcmp(t->text, name) == 0;
}

void *hr_jinja__p_perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *hr_jinja__p_perr(struct parser *p, const char *fmt, ...)
{
    if (!p->failed) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        hr_diag_set(p->d, "line %d: %s", hr_jinja__p_peek(p)->line, msg);
    }
    p->failed = true;
    return NULL;
}

struct jnode *hr_jinja__p_node(struct parser *p, uint8_t kind)
{
    struct jnode *n = calloc(1, sizeof *n);
    if (!n)
        return hr_jinja__p_perr(p, "out of memory");
    n->kind = kind;
    n->line = hr_jinja__p_peek(p)->line;
    return n;
}

bool hr_jinja__p_add_kid(struct parser *p, struct jnode *n, struct jnode *kid)
{
    struct jnode **k = realloc(n->kids, (n->n_kids + 1) * sizeof *k);
    if (!k) {
        hr_jnode__free(kid);
        hr_jinja__p_perr(p, "out of memory");
        return false;
    }
    n->kids = k;
    n->kids[n->n_kids++] = kid;
    return true;
}

bool hr_jinja__p_add_name(struct parser *p, struct jnode *n, const char *name)
{
    char **k = realloc(n->names, (n->n_names + 1) * sizeof *k);
    char *copy = name ? strdup(name) : NULL;
    if (!k || (name && !copy)) {
        free(k ? NULL : copy);
        if (k)
            n->names = k;
        hr_jinja__p_perr(p, "out of memory");
        return false;
    }
    n->names = k;
    n->names[n->n_names++] = copy;
    return true;
}

void hr_jnode__free(struct jnode *n)
{
    if (!n)
        return;
    free(n->str);
    for (size_t i = 0; i < n->n_kids; i++)
        hr_jnode__free(n->kids[i]);
    free(n->kids);
    for (size_t i = 0; i < n->n_names; i++)
        free(n->names[i]);
    free(n->names);
    hr_jnode__free(n->body);
    hr_jnode__free(n->else_body);
    free(n);
}

bool hr_jinja__p_expect_op(struct parser *p, const char *op)
{
    if (!hr_jinja__p_is_op(hr_jinja__p_peek(p), op)) {
        hr_jinja__p_perr(p, "expected '%s'", op);
        return false;
    }
    hr_jinja__p_next(p);
    return true;
}

struct jnode *hr_jinja__p_parse_expr(struct parser *p);
struct jnode *hr_jinja__p_parse_or(struct parser *p);
static struct jnode *parse_unary(struct parser *p);

/* ( args ) after the '(' : positional and keyword arguments. */
static bool parse_args(struct parser *p, struct jnode *n)
{
    while (!p->failed && !hr_jinja__p_is_op(hr_jinja__p_peek(p), ")")) {
        const char *kw = NULL;
        if (hr_jinja__p_peek(p)->kind == T_NAME && p->i + 1 < p->n && hr_jinja__p_is_op(&p->t[p->i + 1], "=")) {
            kw = hr_jinja__p_next(p)->text;
            hr_jinja__p_next(p);
        }
        struct jnode *a = hr_jinja__p_parse_expr(p);
        if (!a || !hr_jinja__p_add_kid(p, n, a) || !hr_jinja__p_add_name(p, n, kw))
            return false;
        if (!hr_jinja__p_is_op(hr_jinja__p_peek(p), ","))
            break;
        hr_jinja__p_next(p);
    }
    return hr_jinja__p_expect_op(p, ")");
}

struct jnode *hr_jinja__p_parse_primary(struct parser *p)
{
    const struct jtoken *t = hr_jinja__p_next(p);
    struct jnode *n = NULL;
    switch (t->kind) {
    case T_STRING:
        n = hr_jinja__p_node(p, J_STR);
        if (n) {
            n->str = malloc(t->len + 1);
            if (n->str)
                memcpy(n->str, t->text, t->len + 1);
            n->slen = t->len;
        }
        /* adjacent string literals concatenate, as in Python */
        while (n && hr_jinja__p_peek(p)->kind == T_STRING) {
            const struct jtoken *u = hr_jinja__p_next(p);
            char *s = realloc(n->str, n->slen + u->len + 1);
            if (!s)
                return hr_jinja__p_perr(p, "out of memory");
            memcpy(s + n->slen, u->text, u->len + 1);
            n->str = s;
            n->slen += u->len;
        }
        return n;
    case T_INT:
        n = hr_jinja__p_node(p, J_INT);
        if (n)
            n->ival = t->ival;
        return n;
    case T_FLOAT:
        n = hr_jinja__p_node(p, J_FLOAT);
        if (n)
            n->fval = t->fval;
        return n;
    case T_NAME:
        if (!strcmp(t->text, "true") || !strcmp(t->text, "True") || !strcmp(t->text, "false") ||
            !strcmp(t->text, "False")) {
            n = hr_jinja__p_node(p, J_BOOL);
            if (n)
                n->ival = t->text[0] == 't' || t->text[0] == 'T';
            return n;
        }
        if (!strcmp(t->text, "none") || !strcmp(t->text, "None"))
            return hr_jinja__p_node(p, J_NONE);
        n = hr_jinja__p_node(p, J_NAME);
        if (n)
            n->str = strdup(t->text);
        return n;
    case T_OP:
        if (!strcmp(t->text, "(")) {
            if (hr_jinja__p_is_op(hr_jinja__p_peek(p), ")")) {
                hr_jinja__p_next(p);
                return hr_jinja__p_node(p, J_TUPLE);
            }
            struct jnode *e = hr_jinja__p_parse_expr(p);
            if (!e || !hr_jinja__p_is_op(hr_jinja__p_peek(p), ",")) {
                if (e && !hr_jinja__p_expect_op(p, ")")) {
                    hr_jnode__free(e);
                    return NULL;
                }
                return e;
            }
            n = hr_jinja__p_node(p, J_TUPLE);
            if (!n || !hr_jinja__p_add_kid(p, n, e))
                return NULL;
            while (hr_jinja__p_is_op(hr_jinja__p_peek(p), ",")) {
                hr_jinja__p_next(p);
                if (hr_jinja__p_is_op(hr_jinja__p_peek(p), ")"))
                    break;
                struct jnode *k = hr_jinja__p_parse_expr(p);
                if (!k || !hr_jinja__p_add_kid(p, n, k))
                    break;
            }
            if (!hr_jinja__p_expect_op(p, ")"))
                return hr_jnode__free(n), NULL;
            return n;
        }
        if (!strcmp(t->text, "[")) {
            n = hr_jinja__p_node(p, J_LIST);
            while (n && !p->failed && !hr_jinja__p_is_op(hr_jinja__p_peek(p), "]")) {
                struct jnode *k = hr_jinja__p_parse_expr(p);
                if (!k || !hr_jinja__p_add_kid(p, n, k))
                    break;
                if (!hr_jinja__p_is_op(hr_jinja__p_peek(p), ","))
                    break;
                hr_jinja__p_next(p);
            }
            if (!n || !hr_jinja__p_expect_op(p, "]"))
                return hr_jnode__free(n), NULL;
            return n;
        }
        if (!strcmp(t->text, "{")) {
            n = hr_jinja__p_node(p, J_DICT);
            while (n && !p->failed && !hr_jinja__p_is_op(hr_jinja__p_peek(p), "}")) {
                struct jnode *k = hr_jinja__p_parse_expr(p);
                if (!k || !hr_jinja__p_add_kid(p, n, k) || !hr_jinja__p_expect_op(p, ":"))
                    break;
                struct jnode *v = hr_jinja__p_parse_expr(p);
                if (!v || !hr_jinja__p_add_kid(p, n, v))
                    break;
                if (!hr_jinja__p_is_op(hr_jinja__p_peek(p), ","))
                    break;
                hr_jinja__p_next(p);
            }
            if (!n || !hr_jinja__p_expect_op(p, "}"))
                return hr_jnode__free(n), NULL;
            return n;
        }
        break;
    default:
        break;
    }
    p->i--;
    return hr_jinja__p_perr(p, "unexpected %s in an expression",
                t->kind == T_VAR_END || t->kind == T_BLOCK_END ? "end of tag" : "token");
}

struct jnode *hr_jinja__p_wrap(struct parser *p, uint8_t kind, struct jnode *inner)
{
    struct jnode *n = hr_jinja__p_node(p, kind);
    if (!n || !hr_jinja__p_add_kid(p, n, inner)) {
        if (!n)
            hr_jnode__free(inner);
        hr_jnode__free(n);
        return NULL;
    }
    return n;
}

static struct jnode *parse_postfix(struct parser *p, struct jnode *n)
{
    while (n && !p->failed) {
        const struct jtoken *t = hr_jinja__p_peek(p);
        if (hr_jinja__p_is_op(t, ".")) {
            hr_jinja__p_next(p);
            const struct jtoken *a = hr_jinja__p_next(p);
            if (a->kind != T_NAME && a->kind != T_INT)
                return hr_jnode__free(n), hr_jinja__p_perr(p, "expected an attribute name after '.'");
            n = hr_jinja__p_wrap(p, J_ATTR, n);
            if (n) {
                char num[32];
                snprintf(num, sizeof num, "%lld", (long long)a->ival);
                n->str = strdup(a->kind == T_NAME ? a->text : num);
                n->ival = a->kind == T_INT;
            }
        } else if (hr_jinja__p_is_op(t, "[")) {
            hr_jinja__p_next(p);
            struct jnode *parts[3] = {NULL, NULL, NULL};
            bool slice = false;
            for (int k = 0; k < 3 && !p->failed; k++) {
                if (!hr_jinja__p_is_op(hr_jinja__p_peek(p), ":") && !hr_jinja__p_is_op(hr_jinja__p_peek(p), "]"))
                    parts[k] = hr_jinja__p_parse_expr(p);
                if (!hr_jinja__p_is_op(hr_jinja__p_peek(p), ":"))
                    break;
                slice = true;
                hr_jinja__p_next(p);
            }
            if (!slice && !parts[0] && !p->failed)
                hr_jinja__p_perr(p, "expected an index inside []");
            if (p->failed || !hr_jinja__p_expect_op(p, "]")) {
                for (int k = 0; k < 3; k++)
                    hr_jnode__free(parts[k]);
                return hr_jnode__free(n), NULL;
            }
            n = hr_jinja__p_wrap(p, slice ? J_SLICE : J_INDEX, n);
            for (int k = 0; n && k < (slice ? 3 : 1); k++)
                hr_jinja__p_add_kid(p, n, parts[k]);
        } else if (hr_jinja__p_is_op(t, "(")) {
            hr_jinja__p_next(p);
            n = hr_jinja__p_wrap(p, J_CALL, n);
            if (n)
                hr_jinja__p_add_name(p, n, NULL); /* names[0] pairs with the callee */
            if (n && !parse_args(p, n))
                return hr_jnode__free(n), NULL;
        } else if (hr_jinja__p_is_op(t, "|")) {
            hr_jinja__p_next(p);
            const struct jtoken *f = hr_jinja__p_next(p);
            if (f->kind != T_NAME)
                return hr_jnode__free(n), hr_jinja__p_perr(p, "expected a filter name after '|'");
            n = hr_jinja__p_wrap(p, J_FILTER, n);
            if (n) {
                n->str = strdup(f->text);
                hr_jinja__p_add_name(p, n, NULL);
            }
            if (n && hr_jinja__p_is_op(hr_jinja__p_peek(p), "(")) {
                hr_jinja__p_next(p);
                if (!parse_args(p, n))
                    return hr_jnode__free(n), NULL;
            }
        } else if (hr_jinja__p_is_name(t, "is")) {
            hr_jinja__p_next(p);
            bool neg = hr_jinja__p_is_name(hr_jinja__p_peek(p), "not");
            if (neg)
                hr_jinja__p_next(p);
            const struct jtoken *f = hr_jinja__p_next(p);
            if (f->kind != T_NAME)
                return hr_jnode__free(n), hr_jinja__p_perr(p, "expected a test name after 'is'");
            n = hr_jinja__p_wrap(p, J_TEST, n);
            if (!n)
                return NULL;
            n->str = strdup(f->text);
            n->ival = neg;
            hr_jinja__p_add_name(p, n, NULL);
            const struct jtoken *a = hr_jinja__p_peek(p);
            if (hr_jinja__p_is_op(a, "(")) {
                hr_jinja__p_next(p);
                if (!parse_args(p, n))
                    return hr_jnode__free(n), NULL;
            } else if (a->kind == T_STRING || a->kind == T_INT || a->kind == T_FLOAT ||
                       hr_jinja__p_is_name(a, "none") || hr_jinja__p_is_name(a, "None") || hr_jinja__p_is_name(a, "true") ||
                       hr_jinja__p_is_name(a, "false") || hr_jinja__p_is_name(a, "True") || hr_jinja__p_is_name(a, "False")) {
                struct jnode *arg = hr_jinja__p_parse_primary(p);
                if (!arg || !hr_jinja__p_add_kid(p, n, arg) || !hr_jinja__p_add_name(p, n, NULL))
                    return hr_jnode__free(n), NULL;
            }
        } else {
            break;
        }
    }
    return n;
}

static struct jnode *parse_unary(struct parser *p)
{
    if (++p->depth > MAX_PARSE_DEPTH)
        return hr_jinja__p_perr(p, "expression nested too deeply");
    struct jnode *n;
    if (hr_jinja__p_is_op(hr_jinja__p_peek(p), "-") || hr_jinja__p_is_op(hr_jinja__p_peek(p), "+")) {
        bool neg = hr_jinja__p_is_op(hr_jinja__p_next(p), "-");
        struct jnode *inner = parse_unary(p);
        n = inner ? hr_jinja__p_wrap(p, neg ? J_NEG : J_POS, inner) : NULL;
    } else {
        n = parse_postfix(p, hr_jinja__p_parse_primary(p));
    }
    p->depth--;
    return n;
}

static struct jnode *binop(struct parser *p, const char *op, struct jnode *l, struct jnode *r)
{
    if (!l || !r) {
        hr_jnode__free(l);
        hr_jnode__free(r);
        return NULL;
    }
    struct jnode *n = hr_jinja__p_node(p, J_BINOP);
    if (!n || !hr_jinja__p_add_kid(p, n, l)) {
        hr_jnode__free(r);
        if (!n)
            hr_jnode__free(l);
        hr_jnode__free(n);
        return NULL;
    }
    if (!hr_jinja__p_add_kid(p, n, r)) {
        hr_jnode__free(n);
        return NULL;
    }
    n->str = strdup(op);
    return n;
}

static struct jnode *parse_pow(struct parser *p)
{
    struct jnode *l = parse_unary(p);
    while (l && hr_jinja__p_is_op(hr_jinja__p_peek(p), "**")) {
        hr_jinja__p_next(p);
        l = binop(p, "**", l, parse_unary(p));
    }
    return l;
}

static struct jnode *parse_math2(struct parser *p)
{
    struct jnode *l = parse_pow(p);
    while (l && (hr_jinja__p_is_op(hr_jinja__p_peek(p), "*") || hr_jinja__p_is_op(hr_jinja__p_peek(p), "/") || hr_jinja__p_is_op(hr_jinja__p_peek(p), "//") ||
                 hr_jinja__p_is_op(hr_jinja__p_peek(p), "%"))) {
        const char *op = hr_jinja__p_next(p)->text;
        l = binop(p, op, l, parse_pow(p));
    }
    return l;
}

static struct jnode *parse_concat(struct parser *p)
{
    struct jnode *l = parse_math2(p);
    while (l && hr_jinja__p_is_op(hr_jinja__p_peek(p), "~")) {
        hr_jinja__p_next(p);
        l = binop(p, "~", l, parse_math2(p));
    }
    return l;
}

static struct jnode *parse_math1(struct parser *p)
{
    struct jnode *l = parse_concat(p);
    while (l && (hr_jinja__p_is_op(hr_jinja__p_peek(p), "+") || hr_jinja__p_is_op(hr_jinja__p_peek(p), "-"))) {
        const char *op = hr_jinja__p_next(p)->text;
        l = binop(p, op, l, parse_concat(p));
    }
    return l;
}

static struct jnode *parse_compare(struct parser *p)
{
    struct jnode *l = parse_math1(p);
    for (;;) {
        const struct jtoken *t = hr_jinja__p_peek(p);
        const char *op = NULL;
        if (t->kind == T_OP && (!strcmp(t->text, "==") || !strcmp(t->text, "!=") ||
                                !strcmp(t->text, "<") || !strcmp(t->text, ">") ||
                                !strcmp(t->text, "<=") || !strcmp(t->text, ">=")))
            op = t->text;
        else if (hr_jinja__p_is_name(t, "in"))
            op = "in";
        else if (hr_jinja__p_is_name(t, "not") && p->i + 1 < p->n && hr_jinja__p_is_name(&p->t[p->i + 1], "in")) {
            hr_jinja__p_next(p);
            op = "notin";
        }
        if (!op || !l)
            return l;
        hr_jinja__p_next(p);
        l = binop(p, op, l, parse_math1(p));
    }
}

static struct jnode *parse_not(struct parser *p)
{
    if (hr_jinja__p_is_name(hr_jinja__p_peek(p), "not")) {
        hr_jinja__p_next(p);
        if (++p->depth > MAX_PARSE_DEPTH)
            return hr_jinja__p_perr(p, "expression nested too deeply");
        struct jnode *inner = parse_not(p);
        p->depth--;
        return inner ? hr_jinja__p_wrap(p, J_NOT, inner) : NULL;
    }
    return parse_compare(p);
}

/* `and` / `or` chains: left-associative, each operand from the next tighter level. */
static struct jnode *parse_logic(struct parser *p, const char *word, uint8_t kind,
                                 struct jnode *(*operand)(struct parser *))
{
    struct jnode *l = operand(p);
    while (l && hr_jinja__p_is_name(hr_jinja__p_peek(p), word)) {
        hr_jinja__p_next(p);
        struct jnode *r = operand(p);
        struct jnode *n = r ? hr_jinja__p_node(p, kind) : NULL;
        if (!n || !hr_jinja__p_add_kid(p, n, l) || !hr_jinja__p_add_kid(p, n, r)) {
            hr_jnode__free(n ? NULL : l);
            hr_jnode__free(n ? NULL : r);
            hr_jnode__free(n);
            return NULL;
        }
        l = n;
    }
    return l;
}

static struct jnode *parse_and(struct parser *p)
{
    return parse_logic(p, "and", J_AND, parse_not);
}

struct jnode *hr_jinja__p_parse_or(struct parser *p)
{
    return parse_logic(p, "or", J_OR, parse_and);
}

struct jnode *hr_jinja__p_parse_expr(struct parser *p)
{
    if (++p->depth > MAX_PARSE_DEPTH)
        return hr_jinja__p_perr(p, "expression nested too deeply");
    struct jnode *e = hr_jinja__p_parse_or(p);
    while (e && hr_jinja__p_is_name(hr_jinja__p_peek(p), "if")) {
        hr_jinja__p_next(p);
        struct jnode *cond = hr_jinja__p_parse_or(p);
        struct jnode *other = NULL;
        if (cond && hr_jinja__p_is_name(hr_jinja__p_peek(p), "else")) {
            hr_jinja__p_next(p);
            other = hr_jinja__p_parse_expr(p);
            if (!other) {
                hr_jnode__free(cond);
                cond = NULL;
            }
        }
        struct jnode *n = cond ? hr_jinja__p_node(p, J_COND) : NULL;
        if (!n) {
            hr_jnode__free(e);
            hr_jnode__free(cond);
            hr_jnode__free(other);
            e = NULL;
            break;
        }
        hr_jinja__p_add_kid(p, n, cond);
        hr_jinja__p_add_kid(p, n, e);
        hr_jinja__p_add_kid(p, n, other); /* NULL: undefined when the condition fails */
        e = n;
    }
    p->depth--;
    return e;
}


