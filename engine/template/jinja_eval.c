/* Jinja evaluator: walks the syntax tree with scopes (the template's top level, one per for
 * loop and per macro call), writing output into a capped buffer. Depth, iterations and output
 * size are capped; the first error (with its line) ends the render. One thread per render;
 * the compiled tree is never modified, so renders may run concurrently. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "jinja_int.h"

struct hr_jinja {
    struct jnode *root;
};

struct frame {
    struct hr_jval *vars; /* dict */
    struct frame *parent;
};

struct jctx {
    struct sbuf *out;
    const struct hr_jval *globals;
    struct frame *top;
    struct frame *root;
    int depth;
    uint64_t iterations;
    int64_t now;
    int loop_control; /* 1: break, 2: continue pending */
    bool failed;
    int err_code;
    struct hr_diag *d;
};

void hr_jinja__error(struct jctx *c, const struct jnode *at, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    c->err_code = HR_EINVAL;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hr_diag_set(c->d, "template line %d: %s", at ? at->line : 0, msg);
}

void hr_jinja__loop_control(struct jctx *c, int what)
{
    c->loop_control = what;
}

bool hr_jinja__failed(const struct jctx *c)
{
    return c->failed;
}

int64_t hr_jinja__now(const struct jctx *c)
{
    return c->now;
}

int hr_jinja__count_iteration(struct jctx *c, const struct jnode *at)
{
    if (++c->iterations > HR_JINJA_MAX_ITERATIONS) {
        hr_jinja__error(c, at, "more than %d loop iterations", HR_JINJA_MAX_ITERATIONS);
        c->err_code = HR_ERANGE;
        return -1;
    }
    return 0;
}

static struct hr_jval *lookup(struct jctx *c, const char *name)
{
    size_t n = strlen(name);
    for (struct frame *f = c->top; f; f = f->parent) {
        struct hr_jval *v = hr_jv__dict_get(f->vars, name, n);
        if (v)
            return v;
    }
    return hr_jv__dict_get(c->globals, name, n);
}

static struct hr_jval *eval(struct jctx *c, const struct jnode *n);
static int exec(struct jctx *c, const struct jnode *n);

static bool is_builtin(const char *name)
{
    static const char *names[] = {"range", "namespace", "dict", "raise_exception",
                                  "strftime_now"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return true;
    return false;
}

static struct hr_jval *oom(struct jctx *c, const struct jnode *at)
{
    hr_jinja__error(c, at, "out of memory");
    c->err_code = HR_ENOMEM;
    return NULL;
}

/* A slice bound; negative ones count from the end unless it is the step (len 0). */
static bool slice_bound(struct jctx *c, const struct jnode *n, int64_t len, int64_t dflt,
                        int64_t *out)
{
    if (!n) {
        *out = dflt;
        return true;
    }
    struct hr_jval *v = eval(c, n);
    if (!v)
        return false;
    bool is_int = v->kind == HR_JV_INT;
    bool ok = is_int || v->kind == HR_JV_NONE;
    int64_t x = is_int ? v->u.i : dflt;
    hr_jval_unref(v);
    if (!ok) {
        hr_jinja__error(c, n, "slice bounds must be integers");
        return false;
    }
    if (x < 0 && is_int)
        x += len;
    *out = x;
    return true;
}

static struct hr_jval *eval_slice(struct jctx *c, const struct jnode *n)
{
    struct hr_jval *obj = eval(c, n->kids[0]);
    if (!obj)
        return NULL;
    bool is_str = obj->kind == HR_JV_STR;
    if (!is_str && obj->kind != HR_JV_LIST) {
        hr_jval_unref(obj);
        hr_jinja__error(c, n, "only strings and lists can be sliced");
        return NULL;
    }
    int64_t len = is_str ? (int64_t)hr_utf8__count(obj->u.s.p, obj->u.s.n)
                         : (int64_t)obj->u.list.n;
    int64_t step = 1, start, stop;
    if (n->kids[3] && !slice_bound(c, n->kids[3], 0, 1, &step)) {
        hr_jval_unref(obj);
        return NULL;
    }
    if (step == 0) {
        hr_jval_unref(obj);
        hr_jinja__error(c, n, "slice step cannot be zero");
        return NULL;
    }
    if (!slice_bound(c, n->kids[1], len, step > 0 ? 0 : len - 1, &start) ||
        !slice_bound(c, n->kids[2], len, step > 0 ? len : -len - 1, &stop)) {
        hr_jval_unref(obj);
        return NULL;
    }
    /* Python's clamping */
    if (step > 0) {
        start = start < 0 ? 0 : (start > len ? len : start);
        stop = stop < 0 ? 0 : (stop > len ? len : stop);
    } else {
        start = start < -1 ? -1 : (start >= len ? len - 1 : start);
        stop = stop < -1 ? -1 : (stop >= len ? len - 1 : stop);
    }
    struct hr_jval *out = is_str ? NULL : hr_jval_list();
    struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (is_str) {
            size_t b = hr_jinja__cp_offset(obj->u.s.p, obj->u.s.n, (size_t)i);
            size_t e = hr_jinja__cp_offset(obj->u.s.p, obj->u.s.n, (size_t)i + 1);
            hr_sb__put(&sb, obj->u.s.p + b, e - b);
        } else if (out) {
            hr_jval_list_push(out, hr_jval_ref(obj->u.list.items[i]));
        }
    }
    if (is_str)
        out = hr_jval_str(sb.p ? sb.p : "", sb.n);
    free(sb.p);
    hr_jval_unref(obj);
    return out ? out : oom(c, n);
}

static struct hr_jval *eval_binop(struct jctx *c, const struct jnode *n)
{
    struct hr_jval *a = eval(c, n->kids[0]);
    struct hr_jval *b = a ? eval(c, n->kids[1]) : NULL;
    struct hr_jval *r = NULL;
    const char *op = n->str;
    if (!b)
        goto done;
    if (!strcmp(op, "~")) {
        struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
        hr_jv__print(&sb, a);
        hr_jv__print(&sb, b);
        r = sb.overflow ? NULL : hr_jval_str(sb.p ? sb.p : "", sb.n);
        free(sb.p);
        if (!r)
            oom(c, n);
    } else if (!strcmp(op, "==") || !strcmp(op, "!=")) {
        r = hr_jval_bool(hr_jv__equal(a, b) == (op[0] == '='));
    } else if (!strcmp(op, "in") || !strcmp(op, "notin")) {
        if (b->kind == HR_JV_UNDEFINED)
            hr_jinja__error(c, n, "'in' on an undefined value");
        else
            r = hr_jval_bool(hr_jinja__contains(b, a) == (op[0] == 'i'));
    } else if (op[0] == '<' || op[0] == '>') {
        int cmp;
        if (hr_jinja__compare(c, n, a, b, &cmp) == 0) {
            bool v = op[0] == '<' ? (op[1] ? cmp <= 0 : cmp < 0) : (op[1] ? cmp >= 0 : cmp > 0);
            r = hr_jval_bool(v);
        }
    } else {
        r = hr_jinja__arith(c, n, op, a, b);
    }
done:
    hr_jval_unref(a);
    hr_jval_unref(b);
    return r;
}

/* Evaluates call arguments: args[i] new references, kw[i] borrowed names. */
static bool eval_args(struct jctx *c, const struct jnode *n, size_t first,
                      struct hr_jval ***args, char ***kw, size_t *n_args)
{
    size_t k = n->n_kids - first;
    *args = calloc(k ? k : 1, sizeof **args);
    *kw = calloc(k ? k : 1, sizeof **kw);
    *n_args = k;
    if (!*args || !*kw) {
        oom(c, n);
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        (*args)[i] = eval(c, n->kids[first + i]);
        (*kw)[i] = first + i < n->n_names ? n->names[first + i] : NULL;
        if (!(*args)[i])
            return false;
    }
    return true;
}

static void free_args(struct hr_jval **args, char **kw, size_t n)
{
    for (size_t i = 0; args && i < n; i++)
        hr_jval_unref(args[i]);
    free(args);
    free(kw);
}


static struct hr_jval *call_macro(struct jctx *c, const struct jnode *at, const struct jnode *m,
                                  struct hr_jval **args, char **kw, size_t n)
{
    struct hr_jval *vars = hr_jval_dict();
    if (!vars)
        return oom(c, at);
    struct frame f = {vars, c->root};
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (kw[i]) {
            bool known = false;
            for (size_t p = 0; p < m->n_names; p++)
                known = known || !strcmp(m->names[p], kw[i]);
            if (!known) {
                hr_jval_unref(vars);
                hr_jinja__error(c, at, "macro '%s' has no parameter '%s'", m->str, kw[i]);
                return NULL;
            }
            hr_jval_dict_set(vars, kw[i], strlen(kw[i]), hr_jval_ref(args[i]));
        } else if (pos < m->n_names) {
            hr_jval_dict_set(vars, m->names[pos], strlen(m->names[pos]), hr_jval_ref(args[i]));
            pos++;
        }
    }
    struct frame *saved = c->top;
    c->top = &f;
    for (size_t p = 0; p < m->n_names && !c->failed; p++) {
        if (hr_jv__dict_get(vars, m->names[p], strlen(m->names[p])))
            continue;
        struct hr_jval *dv = m->kids[p] ? eval(c, m->kids[p]) : hr_jval_undefined();
        if (dv)
            hr_jval_dict_set(vars, m->names[p], strlen(m->names[p]), dv);
    }
    struct sbuf body = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
    struct sbuf *saved_out = c->out;
    c->out = &body;
    if (!c->failed)
        exec(c, m->body);
    c->out = saved_out;
    c->top = saved;
    hr_jval_unref(vars);
    struct hr_jval *r = c->failed ? NULL : hr_jval_str(body.p ? body.p : "", body.n);
    if (body.overflow && !c->failed)
        hr_jinja__error(c, at, "macro output exceeds the cap");
    free(body.p);
    return r;
}

static struct hr_jval *eval_call(struct jctx *c, const struct jnode *n)
{
    struct hr_jval **args = NULL;
    char **kw = NULL;
    size_t n_args = 0;
    struct hr_jval *r = NULL;
    const struct jnode *callee = n->kids[0];
    if (!eval_args(c, n, 1, &args, &kw, &n_args))
        goto done;
    if (callee->kind == J_ATTR) {
        struct hr_jval *obj = eval(c, callee->kids[0]);
        if (!obj)
            goto done;
        struct hr_jval *member = hr_jv__dict_get(obj, callee->str, strlen(callee->str));
        if (member && member->kind == HR_JV_MACRO && member->u.macro)
            r = call_macro(c, n, member->u.macro, args, kw, n_args);
        else
            r = hr_jinja__method(c, n, obj, callee->str, args, kw, n_args);
        hr_jval_unref(obj);
    } else if (callee->kind == J_NAME) {
        struct hr_jval *v = lookup(c, callee->str);
        if (v && v->kind == HR_JV_MACRO && v->u.macro) {
            r = call_macro(c, n, v->u.macro, args, kw, n_args);
        } else {
            bool found = false;
            r = hr_jinja__global(c, n, callee->str, args, kw, n_args, &found);
            if (!found && !c->failed)
                hr_jinja__error(c, n, "'%s' is not callable", callee->str);
        }
    } else {
        hr_jinja__error(c, n, "this expression cannot be called");
    }
done:
    free_args(args, kw, n_args);
    return r;
}

static struct hr_jval *eval(struct jctx *c, const struct jnode *n)
{
    if (c->failed)
        return NULL;
    if (++c->depth > HR_JINJA_MAX_DEPTH) {
        c->depth--;
        hr_jinja__error(c, n, "nesting deeper than %d", HR_JINJA_MAX_DEPTH);
        c->err_code = HR_ERANGE;
        return NULL;
    }
    struct hr_jval *r = NULL, *a = NULL;
    switch (n->kind) {
    case J_STR:
        r = hr_jval_str(n->str, n->slen);
        break;
    case J_INT:
        r = hr_jval_int(n->ival);
        break;
    case J_FLOAT:
        r = hr_jval_float(n->fval);
        break;
    case J_BOOL:
        r = hr_jval_bool(n->ival != 0);
        break;
    case J_NONE:
        r = hr_jval_none();
        break;
    case J_NAME: {
        struct hr_jval *v = lookup(c, n->str);
        if (!v && is_builtin(n->str)) {
            /* a global function: defined and callable, called by name in eval_call */
            r = calloc(1, sizeof *r);
            if (r) {
                r->refs = 1;
                r->kind = HR_JV_MACRO;
            }
            break;
        }
        r = v ? hr_jval_ref(v) : hr_jval_undefined();
        break;
    }
    case J_LIST:
    case J_TUPLE:
        r = hr_jval_list();
        for (size_t i = 0; r && i < n->n_kids && !c->failed; i++) {
            struct hr_jval *v = eval(c, n->kids[i]);
            if (v)
                hr_jval_list_push(r, v);
        }
        break;
    case J_DICT:
        r = hr_jval_dict();
        for (size_t i = 0; r && i + 1 < n->n_kids && !c->failed; i += 2) {
            struct hr_jval *k = eval(c, n->kids[i]);
            struct hr_jval *v = k ? eval(c, n->kids[i + 1]) : NULL;
            if (k && v && k->kind == HR_JV_STR)
                hr_jval_dict_set(r, k->u.s.p, k->u.s.n, hr_jval_ref(v));
            else if (k && v)
                hr_jinja__error(c, n, "dictionary keys must be strings");
            hr_jval_unref(k);
            hr_jval_unref(v);
        }
        break;
    case J_ATTR:
        a = eval(c, n->kids[0]);
        if (a) {
            struct hr_jval *v = hr_jv__dict_get(a, n->str, strlen(n->str));
            if (!v && n->ival && a->kind == HR_JV_LIST) {
                struct hr_jval *idx = hr_jval_int(strtoll(n->str, NULL, 10));
                r = idx ? hr_jinja__index(c, n, a, idx) : NULL;
                hr_jval_unref(idx);
            } else if (!v && a->kind == HR_JV_UNDEFINED) {
                hr_jinja__error(c, n, "'%s' of an undefined value", n->str);
            } else {
                r = v ? hr_jval_ref(v) : hr_jval_undefined();
            }
        }
        break;
    case J_INDEX: {
        a = eval(c, n->kids[0]);
        struct hr_jval *k = a ? eval(c, n->kids[1]) : NULL;
        if (k)
            r = hr_jinja__index(c, n, a, k);
        hr_jval_unref(k);
        break;
    }
    case J_SLICE:
        r = eval_slice(c, n);
        break;
    case J_CALL:
        r = eval_call(c, n);
        break;
    case J_FILTER: {
        struct hr_jval **args = NULL;
        char **kw = NULL;
        size_t n_args = 0;
        a = eval(c, n->kids[0]);
        if (a && eval_args(c, n, 1, &args, &kw, &n_args))
            r = hr_jinja__filter(c, n, n->str, a, args, kw, n_args);
        free_args(args, kw, n_args);
        break;
    }
    case J_TEST: {
        struct hr_jval **args = NULL;
        char **kw = NULL;
        size_t n_args = 0;
        a = eval(c, n->kids[0]);
        if (a && eval_args(c, n, 1, &args, &kw, &n_args)) {
            int t = hr_jinja__test(c, n, n->str, a, args, n_args);
            if (t >= 0)
                r = hr_jval_bool((t == 1) != (n->ival != 0));
        }
        free_args(args, kw, n_args);
        break;
    }
    case J_NOT:
        a = eval(c, n->kids[0]);
        if (a)
            r = hr_jval_bool(!hr_jv__truthy(a));
        break;
    case J_NEG:
    case J_POS:
        a = eval(c, n->kids[0]);
        if (a && a->kind == HR_JV_INT)
            r = hr_jval_int(n->kind == J_NEG ? -a->u.i : a->u.i);
        else if (a && a->kind == HR_JV_FLOAT)
            r = hr_jval_float(n->kind == J_NEG ? -a->u.f : a->u.f);
        else if (a)
            hr_jinja__error(c, n, "bad operand for unary minus: %s", hr_jv__kind_name(a));
        break;
    case J_BINOP:
        r = eval_binop(c, n);
        break;
    case J_AND:
    case J_OR:
        /* Python semantics: the deciding operand itself is the result */
        a = eval(c, n->kids[0]);
        if (a && hr_jv__truthy(a) == (n->kind == J_OR)) {
            r = a;
            a = NULL;
        } else if (a) {
            r = eval(c, n->kids[1]);
        }
        break;
    case J_COND:
        a = eval(c, n->kids[0]);
        if (a)
            r = hr_jv__truthy(a) ? eval(c, n->kids[1])
                                 : (n->kids[2] ? eval(c, n->kids[2]) : hr_jval_undefined());
        break;
    default:
        hr_jinja__error(c, n, "not an expression");
        break;
    }
    hr_jval_unref(a);
    if (!r && !c->failed)
        oom(c, n);
    c->depth--;
    return r;
}

/* Binds loop targets: one name takes the item; several unpack a list item. */
static void bind_targets(struct jctx *c, const struct jnode *n, struct hr_jval *vars,
                         struct hr_jval *item)
{
    if (n->n_names == 1) {
        hr_jval_dict_set(vars, n->names[0], strlen(n->names[0]), hr_jval_ref(item));
        return;
    }
    if (item->kind != HR_JV_LIST || item->u.list.n != n->n_names) {
        hr_jinja__error(c, n, "cannot unpack %s into %zu names", hr_jv__kind_name(item),
                        n->n_names);
        return;
    }
    for (size_t i = 0; i < n->n_names; i++)
        hr_jval_dict_set(vars, n->names[i], strlen(n->names[i]),
                         hr_jval_ref(item->u.list.items[i]));
}

/* The sequence a for loop walks: list items, dict keys or string characters. */
static struct hr_jval *iterable(struct jctx *c, const struct jnode *at, struct hr_jval *v)
{
    if (v->kind == HR_JV_LIST)
        return hr_jval_ref(v);
    struct hr_jval *l = hr_jval_list();
    if (!l)
        return oom(c, at);
    if (v->kind == HR_JV_DICT) {
        for (size_t i = 0; i < v->u.dict.n; i++)
            hr_jval_list_push(l, hr_jval_str(v->u.dict.items[i].key, v->u.dict.items[i].klen));
    } else if (v->kind == HR_JV_STR) {
        for (size_t i = 0; i < v->u.s.n;) {
            size_t e = i + hr_jinja__cp_offset(v->u.s.p + i, v->u.s.n - i, 1);
            hr_jval_list_push(l, hr_jval_str(v->u.s.p + i, e - i));
            i = e;
        }
    } else if (v->kind != HR_JV_UNDEFINED && v->kind != HR_JV_NONE) {
        hr_jval_unref(l);
        hr_jinja__error(c, at, "cannot loop over %s", hr_jv__kind_name(v));
        return NULL;
    }
    return l;
}

static int exec_for(struct jctx *c, const struct jnode *n)
{
    struct hr_jval *src = eval(c, n->kids[0]);
    struct hr_jval *seq = src ? iterable(c, n, src) : NULL;
    hr_jval_unref(src);
    if (!seq)
        return -1;
    struct hr_jval *vars = hr_jval_dict();
    struct frame f = {vars, c->top};
    struct hr_jval *items = hr_jval_list();
    if (!vars || !items) {
        hr_jval_unref(vars);
        hr_jval_unref(items);
        hr_jval_unref(seq);
        oom(c, n);
        return -1;
    }
    c->top = &f;
    /* The inline `if` filters before looping, so loop.length counts what is kept. */
    for (size_t i = 0; i < seq->u.list.n && !c->failed; i++) {
        if (n->kids[1]) {
            bind_targets(c, n, vars, seq->u.list.items[i]);
            struct hr_jval *keep = eval(c, n->kids[1]);
            bool k = keep && hr_jv__truthy(keep);
            hr_jval_unref(keep);
            if (!k)
                continue;
        }
        hr_jval_list_push(items, hr_jval_ref(seq->u.list.items[i]));
    }
    size_t len = items->u.list.n;
    for (size_t i = 0; i < len && !c->failed; i++) {
        if (hr_jinja__count_iteration(c, n) != 0)
            break;
        struct hr_jval *loop = hr_jval_dict();
        if (!loop) {
            oom(c, n);
            break;
        }
        hr_jval_dict_set(loop, "index", 5, hr_jval_int((int64_t)i + 1));
        hr_jval_dict_set(loop, "index0", 6, hr_jval_int((int64_t)i));
        hr_jval_dict_set(loop, "revindex", 8, hr_jval_int((int64_t)(len - i)));
        hr_jval_dict_set(loop, "revindex0", 9, hr_jval_int((int64_t)(len - i - 1)));
        hr_jval_dict_set(loop, "first", 5, hr_jval_bool(i == 0));
        hr_jval_dict_set(loop, "last", 4, hr_jval_bool(i + 1 == len));
        hr_jval_dict_set(loop, "length", 6, hr_jval_int((int64_t)len));
        hr_jval_dict_set(loop, "previtem", 8,
                         i ? hr_jval_ref(items->u.list.items[i - 1]) : hr_jval_undefined());
        hr_jval_dict_set(loop, "nextitem", 8,
                         i + 1 < len ? hr_jval_ref(items->u.list.items[i + 1])
                                     : hr_jval_undefined());
        hr_jval_dict_set(vars, "loop", 4, loop);
        bind_targets(c, n, vars, items->u.list.items[i]);
        exec(c, n->body);
        int ctl = c->loop_control;
        c->loop_control = 0;
        if (ctl == 1)
            break;
    }
    c->top = f.parent;
    if (len == 0 && n->else_body && !c->failed)
        exec(c, n->else_body);
    hr_jval_unref(items);
    hr_jval_unref(vars);
    hr_jval_unref(seq);
    return c->failed ? -1 : 0;
}

static void assign(struct jctx *c, const struct jnode *target, struct hr_jval *take)
{
    if (target->kind == J_NAME) {
        hr_jval_dict_set(c->top->vars, target->str, strlen(target->str), take);
        return;
    }
    struct hr_jval *ns = eval(c, target->kids[0]);
    if (ns && ns->kind == HR_JV_NAMESPACE)
        hr_jval_dict_set(ns, target->str, strlen(target->str), take);
    else {
        hr_jval_unref(take);
        if (ns)
            hr_jinja__error(c, target, "can only set attributes of a namespace()");
    }
    hr_jval_unref(ns);
}

static int exec(struct jctx *c, const struct jnode *n)
{
    if (c->failed)
        return -1;
    if (++c->depth > HR_JINJA_MAX_DEPTH) {
        c->depth--;
        hr_jinja__error(c, n, "nesting deeper than %d", HR_JINJA_MAX_DEPTH);
        c->err_code = HR_ERANGE;
        return -1;
    }
    switch (n->kind) {
    case J_BLOCK:
        for (size_t i = 0; i < n->n_kids && !c->failed && !c->loop_control; i++)
            exec(c, n->kids[i]);
        break;
    case J_BREAK:
    case J_CONTINUE:
        c->loop_control = n->kind == J_BREAK ? 1 : 2;
        break;
    case J_TEXT:
        hr_sb__put(c->out, n->str, n->slen);
        break;
    case J_OUTPUT: {
        struct hr_jval *v = eval(c, n->kids[0]);
        if (v)
            hr_jv__print(c->out, v);
        hr_jval_unref(v);
        break;
    }
    case J_IF: {
        size_t i = 0;
        for (; i + 1 < n->n_kids && !c->failed; i += 2) {
            struct hr_jval *cond = eval(c, n->kids[i]);
            bool t = cond && hr_jv__truthy(cond);
            hr_jval_unref(cond);
            if (t) {
                exec(c, n->kids[i + 1]);
                break;
            }
        }
        if (i + 1 >= n->n_kids && n->else_body && !c->failed)
            exec(c, n->else_body);
        break;
    }
    case J_FOR:
        exec_for(c, n);
        break;
    case J_SET: {
        struct hr_jval *v = eval(c, n->kids[1]);
        if (v)
            assign(c, n->kids[0], v);
        break;
    }
    case J_SETBLOCK:
    case J_FILTERBLOCK: {
        struct sbuf body = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
        struct sbuf *saved = c->out;
        c->out = &body;
        exec(c, n->body);
        c->out = saved;
        struct hr_jval *v = c->failed ? NULL : hr_jval_str(body.p ? body.p : "", body.n);
        free(body.p);
        if (v && n->kind == J_SETBLOCK) {
            assign(c, n->kids[0], v);
        } else if (v) {
            struct hr_jval *f = hr_jinja__apply_filter(c, n, n->str, v);
            hr_jval_unref(v);
            if (f)
                hr_jv__print(c->out, f);
            hr_jval_unref(f);
        }
        break;
    }
    case J_MACRO: {
        struct hr_jval *m = calloc(1, sizeof *m);
        if (!m) {
            oom(c, n);
            break;
        }
        m->refs = 1;
        m->kind = HR_JV_MACRO;
        m->u.macro = n;
        hr_jval_dict_set(c->top->vars, n->str, strlen(n->str), m);
        break;
    }
    case J_DO:
        hr_jval_unref(eval(c, n->kids[0]));
        break;
    default:
        hr_jinja__error(c, n, "not a statement");
        break;
    }
    if (c->out->overflow && !c->failed) {
        hr_jinja__error(c, n, "output exceeds %u bytes", HR_JINJA_MAX_OUTPUT);
        c->err_code = HR_ERANGE;
    }
    c->depth--;
    return c->failed ? -1 : 0;
}

int hr_jinja_compile(struct hr_jinja **out, const char *src, size_t len, struct hr_diag *d)
{
    *out = NULL;
    if (len > HR_JINJA_MAX_SOURCE) {
        hr_diag_set(d, "template larger than %u bytes", HR_JINJA_MAX_SOURCE);
        return HR_EINVAL;
    }
    struct jtoken *toks = NULL;
    size_t n = 0;
    int rc = hr_jinja__lex(src, len, &toks, &n, d);
    if (rc)
        return rc;
    struct jnode *root = NULL;
    rc = hr_jinja__parse(toks, n, &root, d);
    hr_jinja__free_tokens(toks, n);
    if (rc)
        return rc;
    struct hr_jinja *t = malloc(sizeof *t);
    if (!t) {
        hr_jnode__free(root);
        return HR_ENOMEM;
    }
    t->root = root;
    *out = t;
    return 0;
}

void hr_jinja_free(struct hr_jinja *t)
{
    if (!t)
        return;
    hr_jnode__free(t->root);
    free(t);
}

int hr_jinja_render(const struct hr_jinja *t, const struct hr_jval *vars, int64_t now,
                    char **out, size_t *n_out, struct hr_diag *d)
{
    *out = NULL;
    struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
    struct hr_jval *top = hr_jval_dict();
    if (!top)
        return HR_ENOMEM;
    struct frame root = {top, NULL};
    struct jctx c = {&sb, vars, &root, &root, 0, 0, now, 0, false, 0, d};
    exec(&c, t->root);
    hr_jval_unref(top);
    if (c.failed) {
        free(sb.p);
        return c.err_code ? c.err_code : HR_EINVAL;
    }
    *out = sb.p ? sb.p : strdup("");
    if (!*out)
        return HR_ENOMEM;
    if (n_out)
        *n_out = sb.n;
    return 0;
}
