/* Jinja parser: tokens to a syntax tree, with jinja2's operator precedence (or < and < not <
 * comparisons < + - < ~ < * / // % < ** < unary < postfix, filters and tests). Errors name the
 * line and the construct. Any thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "jinja_int.h"

struct parser {
    const struct jtoken *t;
    size_t n, i;
    struct hr_diag *d;
    bool failed;
    int depth;
};

#define MAX_PARSE_DEPTH 200

static const struct jtoken *peek(struct parser *p)
{
    return &p->t[p->i < p->n ? p->i : p->n - 1];
}

static const struct jtoken *next(struct parser *p)
{
    const struct jtoken *t = peek(p);
    if (p->i < p->n - 1)
        p->i++;
    return t;
}

static bool is_op(const struct jtoken *t, const char *op)
{
    return t->kind == T_OP && strcmp(t->text, op) == 0;
}

static bool is_name(const struct jtoken *t, const char *name)
{
    return t->kind == T_NAME && strcmp(t->text, name) == 0;
}

static void *perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void *perr(struct parser *p, const char *fmt, ...)
{
    if (!p->failed) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        hr_diag_set(p->d, "line %d: %s", peek(p)->line, msg);
    }
    p->failed = true;
    return NULL;
}

static struct jnode *node(struct parser *p, uint8_t kind)
{
    struct jnode *n = calloc(1, sizeof *n);
    if (!n)
        return perr(p, "out of memory");
    n->kind = kind;
    n->line = peek(p)->line;
    return n;
}

static bool add_kid(struct parser *p, struct jnode *n, struct jnode *kid)
{
    struct jnode **k = realloc(n->kids, (n->n_kids + 1) * sizeof *k);
    if (!k) {
        hr_jnode__free(kid);
        perr(p, "out of memory");
        return false;
    }
    n->kids = k;
    n->kids[n->n_kids++] = kid;
    return true;
}

static bool add_name(struct parser *p, struct jnode *n, const char *name)
{
    char **k = realloc(n->names, (n->n_names + 1) * sizeof *k);
    char *copy = name ? strdup(name) : NULL;
    if (!k || (name && !copy)) {
        free(k ? NULL : copy);
        if (k)
            n->names = k;
        perr(p, "out of memory");
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

static bool expect_op(struct parser *p, const char *op)
{
    if (!is_op(peek(p), op)) {
        perr(p, "expected '%s'", op);
        return false;
    }
    next(p);
    return true;
}

static struct jnode *parse_expr(struct parser *p);
static struct jnode *parse_or(struct parser *p);
static struct jnode *parse_unary(struct parser *p);

/* ( args ) after the '(' : positional and keyword arguments. */
static bool parse_args(struct parser *p, struct jnode *n)
{
    while (!p->failed && !is_op(peek(p), ")")) {
        const char *kw = NULL;
        if (peek(p)->kind == T_NAME && p->i + 1 < p->n && is_op(&p->t[p->i + 1], "=")) {
            kw = next(p)->text;
            next(p);
        }
        struct jnode *a = parse_expr(p);
        if (!a || !add_kid(p, n, a) || !add_name(p, n, kw))
            return false;
        if (!is_op(peek(p), ","))
            break;
        next(p);
    }
    return expect_op(p, ")");
}

static struct jnode *parse_primary(struct parser *p)
{
    const struct jtoken *t = next(p);
    struct jnode *n = NULL;
    switch (t->kind) {
    case T_STRING:
        n = node(p, J_STR);
        if (n) {
            n->str = malloc(t->len + 1);
            if (n->str)
                memcpy(n->str, t->text, t->len + 1);
            n->slen = t->len;
        }
        /* adjacent string literals concatenate, as in Python */
        while (n && peek(p)->kind == T_STRING) {
            const struct jtoken *u = next(p);
            char *s = realloc(n->str, n->slen + u->len + 1);
            if (!s)
                return perr(p, "out of memory");
            memcpy(s + n->slen, u->text, u->len + 1);
            n->str = s;
            n->slen += u->len;
        }
        return n;
    case T_INT:
        n = node(p, J_INT);
        if (n)
            n->ival = t->ival;
        return n;
    case T_FLOAT:
        n = node(p, J_FLOAT);
        if (n)
            n->fval = t->fval;
        return n;
    case T_NAME:
        if (!strcmp(t->text, "true") || !strcmp(t->text, "True") || !strcmp(t->text, "false") ||
            !strcmp(t->text, "False")) {
            n = node(p, J_BOOL);
            if (n)
                n->ival = t->text[0] == 't' || t->text[0] == 'T';
            return n;
        }
        if (!strcmp(t->text, "none") || !strcmp(t->text, "None"))
            return node(p, J_NONE);
        n = node(p, J_NAME);
        if (n)
            n->str = strdup(t->text);
        return n;
    case T_OP:
        if (!strcmp(t->text, "(")) {
            if (is_op(peek(p), ")")) {
                next(p);
                return node(p, J_TUPLE);
            }
            struct jnode *e = parse_expr(p);
            if (!e || !is_op(peek(p), ",")) {
                if (e && !expect_op(p, ")")) {
                    hr_jnode__free(e);
                    return NULL;
                }
                return e;
            }
            n = node(p, J_TUPLE);
            if (!n || !add_kid(p, n, e))
                return NULL;
            while (is_op(peek(p), ",")) {
                next(p);
                if (is_op(peek(p), ")"))
                    break;
                struct jnode *k = parse_expr(p);
                if (!k || !add_kid(p, n, k))
                    break;
            }
            if (!expect_op(p, ")"))
                return hr_jnode__free(n), NULL;
            return n;
        }
        if (!strcmp(t->text, "[")) {
            n = node(p, J_LIST);
            while (n && !p->failed && !is_op(peek(p), "]")) {
                struct jnode *k = parse_expr(p);
                if (!k || !add_kid(p, n, k))
                    break;
                if (!is_op(peek(p), ","))
                    break;
                next(p);
            }
            if (!n || !expect_op(p, "]"))
                return hr_jnode__free(n), NULL;
            return n;
        }
        if (!strcmp(t->text, "{")) {
            n = node(p, J_DICT);
            while (n && !p->failed && !is_op(peek(p), "}")) {
                struct jnode *k = parse_expr(p);
                if (!k || !add_kid(p, n, k) || !expect_op(p, ":"))
                    break;
                struct jnode *v = parse_expr(p);
                if (!v || !add_kid(p, n, v))
                    break;
                if (!is_op(peek(p), ","))
                    break;
                next(p);
            }
            if (!n || !expect_op(p, "}"))
                return hr_jnode__free(n), NULL;
            return n;
        }
        break;
    default:
        break;
    }
    p->i--;
    return perr(p, "unexpected %s in an expression",
                t->kind == T_VAR_END || t->kind == T_BLOCK_END ? "end of tag" : "token");
}

static struct jnode *wrap(struct parser *p, uint8_t kind, struct jnode *inner)
{
    struct jnode *n = node(p, kind);
    if (!n || !add_kid(p, n, inner)) {
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
        const struct jtoken *t = peek(p);
        if (is_op(t, ".")) {
            next(p);
            const struct jtoken *a = next(p);
            if (a->kind != T_NAME && a->kind != T_INT)
                return hr_jnode__free(n), perr(p, "expected an attribute name after '.'");
            n = wrap(p, J_ATTR, n);
            if (n) {
                char num[32];
                snprintf(num, sizeof num, "%lld", (long long)a->ival);
                n->str = strdup(a->kind == T_NAME ? a->text : num);
                n->ival = a->kind == T_INT;
            }
        } else if (is_op(t, "[")) {
            next(p);
            struct jnode *parts[3] = {NULL, NULL, NULL};
            bool slice = false;
            for (int k = 0; k < 3 && !p->failed; k++) {
                if (!is_op(peek(p), ":") && !is_op(peek(p), "]"))
                    parts[k] = parse_expr(p);
                if (!is_op(peek(p), ":"))
                    break;
                slice = true;
                next(p);
            }
            if (!slice && !parts[0] && !p->failed)
                perr(p, "expected an index inside []");
            if (p->failed || !expect_op(p, "]")) {
                for (int k = 0; k < 3; k++)
                    hr_jnode__free(parts[k]);
                return hr_jnode__free(n), NULL;
            }
            n = wrap(p, slice ? J_SLICE : J_INDEX, n);
            for (int k = 0; n && k < (slice ? 3 : 1); k++)
                add_kid(p, n, parts[k]);
        } else if (is_op(t, "(")) {
            next(p);
            n = wrap(p, J_CALL, n);
            if (n)
                add_name(p, n, NULL); /* names[0] pairs with the callee */
            if (n && !parse_args(p, n))
                return hr_jnode__free(n), NULL;
        } else if (is_op(t, "|")) {
            next(p);
            const struct jtoken *f = next(p);
            if (f->kind != T_NAME)
                return hr_jnode__free(n), perr(p, "expected a filter name after '|'");
            n = wrap(p, J_FILTER, n);
            if (n) {
                n->str = strdup(f->text);
                add_name(p, n, NULL);
            }
            if (n && is_op(peek(p), "(")) {
                next(p);
                if (!parse_args(p, n))
                    return hr_jnode__free(n), NULL;
            }
        } else if (is_name(t, "is")) {
            next(p);
            bool neg = is_name(peek(p), "not");
            if (neg)
                next(p);
            const struct jtoken *f = next(p);
            if (f->kind != T_NAME)
                return hr_jnode__free(n), perr(p, "expected a test name after 'is'");
            n = wrap(p, J_TEST, n);
            if (!n)
                return NULL;
            n->str = strdup(f->text);
            n->ival = neg;
            add_name(p, n, NULL);
            const struct jtoken *a = peek(p);
            if (is_op(a, "(")) {
                next(p);
                if (!parse_args(p, n))
                    return hr_jnode__free(n), NULL;
            } else if (a->kind == T_STRING || a->kind == T_INT || a->kind == T_FLOAT ||
                       is_name(a, "none") || is_name(a, "None") || is_name(a, "true") ||
                       is_name(a, "false") || is_name(a, "True") || is_name(a, "False")) {
                struct jnode *arg = parse_primary(p);
                if (!arg || !add_kid(p, n, arg) || !add_name(p, n, NULL))
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
        return perr(p, "expression nested too deeply");
    struct jnode *n;
    if (is_op(peek(p), "-") || is_op(peek(p), "+")) {
        bool neg = is_op(next(p), "-");
        struct jnode *inner = parse_unary(p);
        n = inner ? wrap(p, neg ? J_NEG : J_POS, inner) : NULL;
    } else {
        n = parse_postfix(p, parse_primary(p));
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
    struct jnode *n = node(p, J_BINOP);
    if (!n || !add_kid(p, n, l)) {
        hr_jnode__free(r);
        if (!n)
            hr_jnode__free(l);
        hr_jnode__free(n);
        return NULL;
    }
    if (!add_kid(p, n, r)) {
        hr_jnode__free(n);
        return NULL;
    }
    n->str = strdup(op);
    return n;
}

static struct jnode *parse_pow(struct parser *p)
{
    struct jnode *l = parse_unary(p);
    while (l && is_op(peek(p), "**")) {
        next(p);
        l = binop(p, "**", l, parse_unary(p));
    }
    return l;
}

static struct jnode *parse_math2(struct parser *p)
{
    struct jnode *l = parse_pow(p);
    while (l && (is_op(peek(p), "*") || is_op(peek(p), "/") || is_op(peek(p), "//") ||
                 is_op(peek(p), "%"))) {
        const char *op = next(p)->text;
        l = binop(p, op, l, parse_pow(p));
    }
    return l;
}

static struct jnode *parse_concat(struct parser *p)
{
    struct jnode *l = parse_math2(p);
    while (l && is_op(peek(p), "~")) {
        next(p);
        l = binop(p, "~", l, parse_math2(p));
    }
    return l;
}

static struct jnode *parse_math1(struct parser *p)
{
    struct jnode *l = parse_concat(p);
    while (l && (is_op(peek(p), "+") || is_op(peek(p), "-"))) {
        const char *op = next(p)->text;
        l = binop(p, op, l, parse_concat(p));
    }
    return l;
}

static struct jnode *parse_compare(struct parser *p)
{
    struct jnode *l = parse_math1(p);
    for (;;) {
        const struct jtoken *t = peek(p);
        const char *op = NULL;
        if (t->kind == T_OP && (!strcmp(t->text, "==") || !strcmp(t->text, "!=") ||
                                !strcmp(t->text, "<") || !strcmp(t->text, ">") ||
                                !strcmp(t->text, "<=") || !strcmp(t->text, ">=")))
            op = t->text;
        else if (is_name(t, "in"))
            op = "in";
        else if (is_name(t, "not") && p->i + 1 < p->n && is_name(&p->t[p->i + 1], "in")) {
            next(p);
            op = "notin";
        }
        if (!op || !l)
            return l;
        next(p);
        l = binop(p, op, l, parse_math1(p));
    }
}

static struct jnode *parse_not(struct parser *p)
{
    if (is_name(peek(p), "not")) {
        next(p);
        if (++p->depth > MAX_PARSE_DEPTH)
            return perr(p, "expression nested too deeply");
        struct jnode *inner = parse_not(p);
        p->depth--;
        return inner ? wrap(p, J_NOT, inner) : NULL;
    }
    return parse_compare(p);
}

static struct jnode *parse_and(struct parser *p)
{
    struct jnode *l = parse_not(p);
    while (l && is_name(peek(p), "and")) {
        next(p);
        struct jnode *r = parse_not(p);
        struct jnode *n = r ? node(p, J_AND) : NULL;
        if (!n || !add_kid(p, n, l) || !add_kid(p, n, r)) {
            hr_jnode__free(n ? NULL : l);
            hr_jnode__free(n ? NULL : r);
            hr_jnode__free(n);
            return NULL;
        }
        l = n;
    }
    return l;
}

static struct jnode *parse_or(struct parser *p)
{
    struct jnode *l = parse_and(p);
    while (l && is_name(peek(p), "or")) {
        next(p);
        struct jnode *r = parse_and(p);
        struct jnode *n = r ? node(p, J_OR) : NULL;
        if (!n || !add_kid(p, n, l) || !add_kid(p, n, r)) {
            hr_jnode__free(n ? NULL : l);
            hr_jnode__free(n ? NULL : r);
            hr_jnode__free(n);
            return NULL;
        }
        l = n;
    }
    return l;
}

static struct jnode *parse_expr(struct parser *p)
{
    if (++p->depth > MAX_PARSE_DEPTH)
        return perr(p, "expression nested too deeply");
    struct jnode *e = parse_or(p);
    while (e && is_name(peek(p), "if")) {
        next(p);
        struct jnode *cond = parse_or(p);
        struct jnode *other = NULL;
        if (cond && is_name(peek(p), "else")) {
            next(p);
            other = parse_expr(p);
            if (!other) {
                hr_jnode__free(cond);
                cond = NULL;
            }
        }
        struct jnode *n = cond ? node(p, J_COND) : NULL;
        if (!n) {
            hr_jnode__free(e);
            hr_jnode__free(cond);
            hr_jnode__free(other);
            e = NULL;
            break;
        }
        add_kid(p, n, cond);
        add_kid(p, n, e);
        add_kid(p, n, other); /* NULL: undefined when the condition fails */
        e = n;
    }
    p->depth--;
    return e;
}


/* ---- statements ---- */

static bool end_tag(struct parser *p)
{
    if (peek(p)->kind != T_BLOCK_END) {
        perr(p, "expected the end of the tag");
        return false;
    }
    next(p);
    return true;
}

/* Parses statements until a block tag named in `stop` (not consumed) or the end. */
static struct jnode *parse_block(struct parser *p, const char *const *stop);

static bool at_stop(struct parser *p, const char *const *stop)
{
    if (peek(p)->kind != T_BLOCK_BEGIN || p->i + 1 >= p->n)
        return false;
    const struct jtoken *name = &p->t[p->i + 1];
    for (size_t i = 0; stop && stop[i]; i++)
        if (is_name(name, stop[i]))
            return true;
    return false;
}

/* Consumes `{% name` ... for the tag the block stopped at; returns its name or NULL. */
static const char *take_tag(struct parser *p)
{
    next(p);
    return next(p)->text;
}

static struct jnode *parse_if(struct parser *p)
{
    static const char *const stop[] = {"elif", "else", "endif", NULL};
    struct jnode *n = node(p, J_IF);
    struct jnode *cond = n ? parse_expr(p) : NULL;
    if (!cond || !add_kid(p, n, cond) || !end_tag(p))
        return hr_jnode__free(n), NULL;
    for (;;) {
        struct jnode *body = parse_block(p, stop);
        if (!body || !add_kid(p, n, body))
            return hr_jnode__free(n), NULL;
        if (!at_stop(p, stop))
            return hr_jnode__free(n), perr(p, "missing {%% endif %%}");
        const char *tag = take_tag(p);
        if (!strcmp(tag, "elif")) {
            cond = parse_expr(p);
            if (!cond || !add_kid(p, n, cond) || !end_tag(p))
                return hr_jnode__free(n), NULL;
        } else if (!strcmp(tag, "else")) {
            static const char *const end[] = {"endif", NULL};
            if (!end_tag(p) || !(n->else_body = parse_block(p, end)) || !at_stop(p, end))
                return hr_jnode__free(n), perr(p, "missing {%% endif %%}");
            take_tag(p);
            return end_tag(p) ? n : (hr_jnode__free(n), NULL);
        } else {
            return end_tag(p) ? n : (hr_jnode__free(n), NULL);
        }
    }
}

static struct jnode *parse_for(struct parser *p)
{
    static const char *const stop[] = {"else", "endfor", NULL};
    static const char *const end[] = {"endfor", NULL};
    struct jnode *n = node(p, J_FOR);
    while (n && !p->failed) {
        const struct jtoken *t = next(p);
        if (t->kind != T_NAME)
            return hr_jnode__free(n), perr(p, "expected a loop variable name");
        add_name(p, n, t->text);
        if (!is_op(peek(p), ","))
            break;
        next(p);
    }
    if (!n || !is_name(peek(p), "in"))
        return hr_jnode__free(n), perr(p, "expected 'in' in a for loop");
    next(p);
    struct jnode *iter = parse_or(p);
    if (!iter || !add_kid(p, n, iter))
        return hr_jnode__free(n), NULL;
    struct jnode *cond = NULL;
    if (is_name(peek(p), "if")) {
        next(p);
        cond = parse_expr(p);
        if (!cond)
            return hr_jnode__free(n), NULL;
    }
    add_kid(p, n, cond);
    if (is_name(peek(p), "recursive"))
        return hr_jnode__free(n), perr(p, "recursive loops are not supported");
    if (!end_tag(p) || !(n->body = parse_block(p, stop)) || !at_stop(p, stop))
        return hr_jnode__free(n), perr(p, "missing {%% endfor %%}");
    if (!strcmp(take_tag(p), "else")) {
        if (!end_tag(p) || !(n->else_body = parse_block(p, end)) || !at_stop(p, end))
            return hr_jnode__free(n), perr(p, "missing {%% endfor %%}");
        take_tag(p);
    }
    return end_tag(p) ? n : (hr_jnode__free(n), NULL);
}

static struct jnode *parse_set(struct parser *p)
{
    static const char *const end[] = {"endset", NULL};
    struct jnode *target = parse_primary(p);
    if (target && target->kind == J_NAME && is_op(peek(p), ".")) {
        next(p);
        const struct jtoken *a = next(p);
        if (a->kind != T_NAME)
            return hr_jnode__free(target), perr(p, "expected an attribute name");
        target = wrap(p, J_ATTR, target);
        if (target)
            target->str = strdup(a->text);
    }
    if (!target || (target->kind != J_NAME && target->kind != J_ATTR))
        return hr_jnode__free(target), perr(p, "can only set a name or namespace attribute");
    struct jnode *n = node(p, J_SET);
    if (!n || !add_kid(p, n, target))
        return NULL;
    if (is_op(peek(p), "=")) {
        next(p);
        struct jnode *v = parse_expr(p);
        if (!v || !add_kid(p, n, v) || !end_tag(p))
            return hr_jnode__free(n), NULL;
        return n;
    }
    n->kind = J_SETBLOCK;
    if (!end_tag(p) || !(n->body = parse_block(p, end)) || !at_stop(p, end))
        return hr_jnode__free(n), perr(p, "missing {%% endset %%}");
    take_tag(p);
    return end_tag(p) ? n : (hr_jnode__free(n), NULL);
}

/* macro name(params) or, for call blocks, (params) with an empty name. */
static bool parse_params(struct parser *p, struct jnode *n)
{
    if (!expect_op(p, "("))
        return false;
    while (!p->failed && !is_op(peek(p), ")")) {
        const struct jtoken *t = next(p);
        if (t->kind != T_NAME) {
            perr(p, "expected a parameter name");
            return false;
        }
        add_name(p, n, t->text);
        struct jnode *dflt = NULL;
        if (is_op(peek(p), "=")) {
            next(p);
            if (!(dflt = parse_expr(p)))
                return false;
        }
        add_kid(p, n, dflt);
        if (!is_op(peek(p), ","))
            break;
        next(p);
    }
    return expect_op(p, ")");
}

static struct jnode *parse_macro(struct parser *p)
{
    static const char *const end[] = {"endmacro", NULL};
    const struct jtoken *name = next(p);
    if (name->kind != T_NAME)
        return perr(p, "expected a macro name");
    struct jnode *n = node(p, J_MACRO);
    if (!n)
        return NULL;
    n->str = strdup(name->text);
    if (!parse_params(p, n) || !end_tag(p) || !(n->body = parse_block(p, end)) ||
        !at_stop(p, end))
        return hr_jnode__free(n), perr(p, "missing {%% endmacro %%}");
    take_tag(p);
    if (peek(p)->kind == T_NAME)
        next(p); /* {% endmacro name %} */
    return end_tag(p) ? n : (hr_jnode__free(n), NULL);
}

static struct jnode *parse_stmt(struct parser *p)
{
    next(p); /* {% */
    const struct jtoken *t = next(p);
    if (t->kind != T_NAME)
        return perr(p, "expected a statement name after {%%");
    if (!strcmp(t->text, "if"))
        return parse_if(p);
    if (!strcmp(t->text, "for"))
        return parse_for(p);
    if (!strcmp(t->text, "set"))
        return parse_set(p);
    if (!strcmp(t->text, "macro"))
        return parse_macro(p);
    if (!strcmp(t->text, "break") || !strcmp(t->text, "continue")) {
        struct jnode *n = node(p, t->text[0] == 'b' ? J_BREAK : J_CONTINUE);
        return n && end_tag(p) ? n : (hr_jnode__free(n), NULL);
    }
    if (!strcmp(t->text, "do")) {
        struct jnode *e = parse_expr(p);
        struct jnode *n = e ? wrap(p, J_DO, e) : NULL;
        return n && end_tag(p) ? n : (hr_jnode__free(n), NULL);
    }
    if (!strcmp(t->text, "generation")) {
        /* Hugging Face's marker for assistant text: renders its body unchanged. */
        static const char *const end[] = {"endgeneration", NULL};
        struct jnode *body = end_tag(p) ? parse_block(p, end) : NULL;
        if (!body || !at_stop(p, end))
            return hr_jnode__free(body), perr(p, "missing {%% endgeneration %%}");
        take_tag(p);
        return end_tag(p) ? body : (hr_jnode__free(body), NULL);
    }
    if (!strcmp(t->text, "filter")) {
        static const char *const end[] = {"endfilter", NULL};
        const struct jtoken *f = next(p);
        struct jnode *n = f->kind == T_NAME ? node(p, J_FILTERBLOCK) : NULL;
        if (!n)
            return perr(p, "expected a filter name");
        n->str = strdup(f->text);
        if (!end_tag(p) || !(n->body = parse_block(p, end)) || !at_stop(p, end))
            return hr_jnode__free(n), perr(p, "missing {%% endfilter %%}");
        take_tag(p);
        return end_tag(p) ? n : (hr_jnode__free(n), NULL);
    }
    return perr(p, "unknown tag '%s'", t->text);
}

static struct jnode *parse_block(struct parser *p, const char *const *stop)
{
    if (++p->depth > MAX_PARSE_DEPTH)
        return perr(p, "blocks nested too deeply");
    struct jnode *b = node(p, J_BLOCK);
    while (b && !p->failed && peek(p)->kind != T_EOF && !at_stop(p, stop)) {
        const struct jtoken *t = peek(p);
        struct jnode *s = NULL;
        if (t->kind == T_TEXT) {
            next(p);
            s = node(p, J_TEXT);
            if (s) {
                s->str = malloc(t->len + 1);
                if (s->str)
                    memcpy(s->str, t->text, t->len + 1);
                s->slen = t->len;
            }
        } else if (t->kind == T_VAR_BEGIN) {
            next(p);
            struct jnode *e = parse_expr(p);
            if (e && peek(p)->kind != T_VAR_END) {
                hr_jnode__free(e);
                e = perr(p, "expected '}}'");
            }
            next(p);
            s = e ? wrap(p, J_OUTPUT, e) : NULL;
        } else if (t->kind == T_BLOCK_BEGIN) {
            if (p->i + 1 < p->n && p->t[p->i + 1].kind == T_NAME &&
                (!strncmp(p->t[p->i + 1].text, "end", 3) || !strcmp(p->t[p->i + 1].text, "else") ||
                 !strcmp(p->t[p->i + 1].text, "elif"))) {
                next(p);
                perr(p, "unexpected '%s'", p->t[p->i].text);
                break;
            }
            s = parse_stmt(p);
        } else {
            perr(p, "unexpected token");
            break;
        }
        if (!s || !add_kid(p, b, s))
            break;
    }
    p->depth--;
    if (p->failed) {
        hr_jnode__free(b);
        return NULL;
    }
    return b;
}

int hr_jinja__parse(const struct jtoken *toks, size_t n, struct jnode **out, struct hr_diag *d)
{
    struct parser p = {toks, n, 0, d, false, 0};
    *out = parse_block(&p, NULL);
    if (!*out || p.failed) {
        hr_jnode__free(*out);
        *out = NULL;
        if (!p.failed)
            hr_diag_set(d, "out of memory");
        return HR_EINVAL;
    }
    return 0;
}
