/* Jinja statement parser: if/elif/else, for (with else, inline if, loop variables), set
 * (names, namespace attributes, blocks), macro, filter blocks, do, break/continue and
 * generation markers, built on the expression parser (jinja_parse.c). Any thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "jinja_parser.h"


static bool end_tag(struct parser *p)
{
    if (hr_jinja__p_peek(p)->kind != T_BLOCK_END) {
        hr_jinja__p_perr(p, "expected the end of the tag");
        return false;
    }
    hr_jinja__p_next(p);
    return true;
}

/* Parses statements until a block tag named in `stop` (not consumed) or the end. */
static struct jnode *parse_block(struct parser *p, const char *const *stop);

static bool at_stop(struct parser *p, const char *const *stop)
{
    if (hr_jinja__p_peek(p)->kind != T_BLOCK_BEGIN || p->i + 1 >= p->n)
        return false;
    const struct jtoken *name = &p->t[p->i + 1];
    for (size_t i = 0; stop && stop[i]; i++)
        if (hr_jinja__p_is_name(name, stop[i]))
            return true;
    return false;
}

/* Consumes `{% name` ... for the tag the block stopped at; returns its name or NULL. */
static const char *take_tag(struct parser *p)
{
    hr_jinja__p_next(p);
    return hr_jinja__p_next(p)->text;
}

static struct jnode *parse_if(struct parser *p)
{
    static const char *const stop[] = {"elif", "else", "endif", NULL};
    struct jnode *n = hr_jinja__p_node(p, J_IF);
    struct jnode *cond = n ? hr_jinja__p_parse_expr(p) : NULL;
    if (!cond || !hr_jinja__p_add_kid(p, n, cond) || !end_tag(p))
        return hr_jnode__free(n), NULL;
    for (;;) {
        struct jnode *body = parse_block(p, stop);
        if (!body || !hr_jinja__p_add_kid(p, n, body))
            return hr_jnode__free(n), NULL;
        if (!at_stop(p, stop))
            return hr_jnode__free(n), hr_jinja__p_perr(p, "missing {%% endif %%}");
        const char *tag = take_tag(p);
        if (!strcmp(tag, "elif")) {
            cond = hr_jinja__p_parse_expr(p);
            if (!cond || !hr_jinja__p_add_kid(p, n, cond) || !end_tag(p))
                return hr_jnode__free(n), NULL;
        } else if (!strcmp(tag, "else")) {
            static const char *const end[] = {"endif", NULL};
            if (!end_tag(p) || !(n->else_body = parse_block(p, end)) || !at_stop(p, end))
                return hr_jnode__free(n), hr_jinja__p_perr(p, "missing {%% endif %%}");
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
    struct jnode *n = hr_jinja__p_node(p, J_FOR);
    while (n && !p->failed) {
        const struct jtoken *t = hr_jinja__p_next(p);
        if (t->kind != T_NAME)
            return hr_jnode__free(n), hr_jinja__p_perr(p, "expected a loop variable name");
        hr_jinja__p_add_name(p, n, t->text);
        if (!hr_jinja__p_is_op(hr_jinja__p_peek(p), ","))
            break;
        hr_jinja__p_next(p);
    }
    if (!n || !hr_jinja__p_is_name(hr_jinja__p_peek(p), "in"))
        return hr_jnode__free(n), hr_jinja__p_perr(p, "expected 'in' in a for loop");
    hr_jinja__p_next(p);
    struct jnode *iter = hr_jinja__p_parse_or(p);
    if (!iter || !hr_jinja__p_add_kid(p, n, iter))
        return hr_jnode__free(n), NULL;
    struct jnode *cond = NULL;
    if (hr_jinja__p_is_name(hr_jinja__p_peek(p), "if")) {
        hr_jinja__p_next(p);
        cond = hr_jinja__p_parse_expr(p);
        if (!cond)
            return hr_jnode__free(n), NULL;
    }
    hr_jinja__p_add_kid(p, n, cond);
    if (hr_jinja__p_is_name(hr_jinja__p_peek(p), "recursive"))
        return hr_jnode__free(n), hr_jinja__p_perr(p, "recursive loops are not supported");
    if (!end_tag(p) || !(n->body = parse_block(p, stop)) || !at_stop(p, stop))
        return hr_jnode__free(n), hr_jinja__p_perr(p, "missing {%% endfor %%}");
    if (!strcmp(take_tag(p), "else")) {
        if (!end_tag(p) || !(n->else_body = parse_block(p, end)) || !at_stop(p, end))
            return hr_jnode__free(n), hr_jinja__p_perr(p, "missing {%% endfor %%}");
        take_tag(p);
    }
    return end_tag(p) ? n : (hr_jnode__free(n), NULL);
}

static struct jnode *parse_set(struct parser *p)
{
    static const char *const end[] = {"endset", NULL};
    struct jnode *target = hr_jinja__p_parse_primary(p);
    if (target && target->kind == J_NAME && hr_jinja__p_is_op(hr_jinja__p_peek(p), ".")) {
        hr_jinja__p_next(p);
        const struct jtoken *a = hr_jinja__p_next(p);
        if (a->kind != T_NAME)
            return hr_jnode__free(target), hr_jinja__p_perr(p, "expected an attribute name");
        target = hr_jinja__p_wrap(p, J_ATTR, target);
        if (target)
            target->str = strdup(a->text);
    }
    if (!target || (target->kind != J_NAME && target->kind != J_ATTR))
        return hr_jnode__free(target), hr_jinja__p_perr(p, "can only set a name or namespace attribute");
    struct jnode *n = hr_jinja__p_node(p, J_SET);
    if (!n || !hr_jinja__p_add_kid(p, n, target))
        return NULL;
    if (hr_jinja__p_is_op(hr_jinja__p_peek(p), "=")) {
        hr_jinja__p_next(p);
        struct jnode *v = hr_jinja__p_parse_expr(p);
        if (!v || !hr_jinja__p_add_kid(p, n, v) || !end_tag(p))
            return hr_jnode__free(n), NULL;
        return n;
    }
    n->kind = J_SETBLOCK;
    if (!end_tag(p) || !(n->body = parse_block(p, end)) || !at_stop(p, end))
        return hr_jnode__free(n), hr_jinja__p_perr(p, "missing {%% endset %%}");
    take_tag(p);
    return end_tag(p) ? n : (hr_jnode__free(n), NULL);
}

/* macro name(params) or, for call blocks, (params) with an empty name. */
static bool parse_params(struct parser *p, struct jnode *n)
{
    if (!hr_jinja__p_expect_op(p, "("))
        return false;
    while (!p->failed && !hr_jinja__p_is_op(hr_jinja__p_peek(p), ")")) {
        const struct jtoken *t = hr_jinja__p_next(p);
        if (t->kind != T_NAME) {
            hr_jinja__p_perr(p, "expected a parameter name");
            return false;
        }
        hr_jinja__p_add_name(p, n, t->text);
        struct jnode *dflt = NULL;
        if (hr_jinja__p_is_op(hr_jinja__p_peek(p), "=")) {
            hr_jinja__p_next(p);
            if (!(dflt = hr_jinja__p_parse_expr(p)))
                return false;
        }
        hr_jinja__p_add_kid(p, n, dflt);
        if (!hr_jinja__p_is_op(hr_jinja__p_peek(p), ","))
            break;
        hr_jinja__p_next(p);
    }
    return hr_jinja__p_expect_op(p, ")");
}

static struct jnode *parse_macro(struct parser *p)
{
    static const char *const end[] = {"endmacro", NULL};
    const struct jtoken *name = hr_jinja__p_next(p);
    if (name->kind != T_NAME)
        return hr_jinja__p_perr(p, "expected a macro name");
    struct jnode *n = hr_jinja__p_node(p, J_MACRO);
    if (!n)
        return NULL;
    n->str = strdup(name->text);
    if (!parse_params(p, n) || !end_tag(p) || !(n->body = parse_block(p, end)) ||
        !at_stop(p, end))
        return hr_jnode__free(n), hr_jinja__p_perr(p, "missing {%% endmacro %%}");
    take_tag(p);
    if (hr_jinja__p_peek(p)->kind == T_NAME)
        hr_jinja__p_next(p); /* {% endmacro name %} */
    return end_tag(p) ? n : (hr_jnode__free(n), NULL);
}

static struct jnode *parse_stmt(struct parser *p)
{
    hr_jinja__p_next(p); /* {% */
    const struct jtoken *t = hr_jinja__p_next(p);
    if (t->kind != T_NAME)
        return hr_jinja__p_perr(p, "expected a statement name after {%%");
    if (!strcmp(t->text, "if"))
        return parse_if(p);
    if (!strcmp(t->text, "for"))
        return parse_for(p);
    if (!strcmp(t->text, "set"))
        return parse_set(p);
    if (!strcmp(t->text, "macro"))
        return parse_macro(p);
    if (!strcmp(t->text, "break") || !strcmp(t->text, "continue")) {
        struct jnode *n = hr_jinja__p_node(p, t->text[0] == 'b' ? J_BREAK : J_CONTINUE);
        return n && end_tag(p) ? n : (hr_jnode__free(n), NULL);
    }
    if (!strcmp(t->text, "do")) {
        struct jnode *e = hr_jinja__p_parse_expr(p);
        struct jnode *n = e ? hr_jinja__p_wrap(p, J_DO, e) : NULL;
        return n && end_tag(p) ? n : (hr_jnode__free(n), NULL);
    }
    if (!strcmp(t->text, "generation")) {
        /* Hugging Face's marker for assistant text: renders its body unchanged. */
        static const char *const end[] = {"endgeneration", NULL};
        struct jnode *body = end_tag(p) ? parse_block(p, end) : NULL;
        if (!body || !at_stop(p, end))
            return hr_jnode__free(body), hr_jinja__p_perr(p, "missing {%% endgeneration %%}");
        take_tag(p);
        return end_tag(p) ? body : (hr_jnode__free(body), NULL);
    }
    if (!strcmp(t->text, "filter")) {
        static const char *const end[] = {"endfilter", NULL};
        const struct jtoken *f = hr_jinja__p_next(p);
        struct jnode *n = f->kind == T_NAME ? hr_jinja__p_node(p, J_FILTERBLOCK) : NULL;
        if (!n)
            return hr_jinja__p_perr(p, "expected a filter name");
        n->str = strdup(f->text);
        if (!end_tag(p) || !(n->body = parse_block(p, end)) || !at_stop(p, end))
            return hr_jnode__free(n), hr_jinja__p_perr(p, "missing {%% endfilter %%}");
        take_tag(p);
        return end_tag(p) ? n : (hr_jnode__free(n), NULL);
    }
    return hr_jinja__p_perr(p, "unknown tag '%s'", t->text);
}

static struct jnode *parse_block(struct parser *p, const char *const *stop)
{
    if (++p->depth > MAX_PARSE_DEPTH)
        return hr_jinja__p_perr(p, "blocks nested too deeply");
    struct jnode *b = hr_jinja__p_node(p, J_BLOCK);
    while (b && !p->failed && hr_jinja__p_peek(p)->kind != T_EOF && !at_stop(p, stop)) {
        const struct jtoken *t = hr_jinja__p_peek(p);
        struct jnode *s = NULL;
        if (t->kind == T_TEXT) {
            hr_jinja__p_next(p);
            s = hr_jinja__p_node(p, J_TEXT);
            if (s) {
                s->str = malloc(t->len + 1);
                if (s->str)
                    memcpy(s->str, t->text, t->len + 1);
                s->slen = t->len;
            }
        } else if (t->kind == T_VAR_BEGIN) {
            hr_jinja__p_next(p);
            struct jnode *e = hr_jinja__p_parse_expr(p);
            if (e && hr_jinja__p_peek(p)->kind != T_VAR_END) {
                hr_jnode__free(e);
                e = hr_jinja__p_perr(p, "expected '}}'");
            }
            hr_jinja__p_next(p);
            s = e ? hr_jinja__p_wrap(p, J_OUTPUT, e) : NULL;
        } else if (t->kind == T_BLOCK_BEGIN) {
            if (p->i + 1 < p->n && p->t[p->i + 1].kind == T_NAME &&
                (!strncmp(p->t[p->i + 1].text, "end", 3) || !strcmp(p->t[p->i + 1].text, "else") ||
                 !strcmp(p->t[p->i + 1].text, "elif"))) {
                hr_jinja__p_next(p);
                hr_jinja__p_perr(p, "unexpected '%s'", p->t[p->i].text);
                break;
            }
            s = parse_stmt(p);
        } else {
            hr_jinja__p_perr(p, "unexpected token");
            break;
        }
        if (!s || !hr_jinja__p_add_kid(p, b, s))
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
