/* Jinja built-ins used by chat templates: filters, tests, string/dict/list methods and global
 * functions (range, namespace, dict, raise_exception, strftime_now), each behaving as Python's
 * jinja2 with Hugging Face's settings (tojson = json.dumps(ensure_ascii=False)). One thread per
 * render. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/err.h"
#include "jinja_int.h"

static struct hr_jval *str_of(const struct hr_jval *v)
{
    struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
    hr_jv__print(&sb, v);
    struct hr_jval *r = sb.overflow ? NULL : hr_jval_str(sb.p ? sb.p : "", sb.n);
    free(sb.p);
    return r;
}

/* Argument i (positional) or the keyword `name`; NULL when absent. */
static struct hr_jval *arg(struct hr_jval **args, char **kw, size_t n, size_t i,
                           const char *name)
{
    size_t pos = 0;
    for (size_t k = 0; k < n; k++) {
        if (kw && kw[k]) {
            if (name && !strcmp(kw[k], name))
                return args[k];
        } else if (pos++ == i) {
            return args[k];
        }
    }
    return NULL;
}

static bool is_str(const struct hr_jval *v)
{
    return v && v->kind == HR_JV_STR;
}

static struct hr_jval *trim_chars(const struct hr_jval *s, const struct hr_jval *chars,
                                  bool left, bool right)
{
    const char *p = s->u.s.p;
    size_t n = s->u.s.n;
    const char *set = is_str(chars) ? chars->u.s.p : " \t\n\r\f\v";
    size_t set_n = is_str(chars) ? chars->u.s.n : 6;
    while (left && n && memchr(set, p[0], set_n)) {
        p++;
        n--;
    }
    while (right && n && memchr(set, p[n - 1], set_n))
        n--;
    return hr_jval_str(p, n);
}

static struct hr_jval *replace_str(const struct hr_jval *s, const struct hr_jval *from,
                                   const struct hr_jval *to, int64_t count)
{
    struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
    const char *p = s->u.s.p, *end = p + s->u.s.n;
    while (p <= end) {
        const char *hit = from->u.s.n && count != 0
                              ? memmem(p, (size_t)(end - p), from->u.s.p, from->u.s.n)
                              : NULL;
        if (!hit) {
            hr_sb__put(&sb, p, (size_t)(end - p));
            break;
        }
        hr_sb__put(&sb, p, (size_t)(hit - p));
        hr_sb__put(&sb, to->u.s.p, to->u.s.n);
        p = hit + from->u.s.n;
        if (count > 0)
            count--;
    }
    struct hr_jval *r = sb.overflow ? NULL : hr_jval_str(sb.p ? sb.p : "", sb.n);
    free(sb.p);
    return r;
}

static struct hr_jval *case_str(const struct hr_jval *s, int mode) /* 0 lower 1 upper 2 title 3 cap */
{
    struct hr_jval *r = hr_jval_str(s->u.s.p, s->u.s.n);
    if (!r)
        return NULL;
    bool word_start = true;
    for (size_t i = 0; i < r->u.s.n; i++) {
        unsigned char ch = (unsigned char)r->u.s.p[i];
        bool alpha = isalpha(ch);
        if (mode == 0 || (mode == 3 && i > 0))
            ch = (unsigned char)tolower(ch);
        else if (mode == 1 || (mode == 3 && i == 0))
            ch = (unsigned char)toupper(ch);
        else if (mode == 2)
            ch = (unsigned char)(word_start ? toupper(ch) : tolower(ch));
        word_start = !alpha && !(ch & 0x80);
        r->u.s.p[i] = (char)ch;
    }
    return r;
}

struct hr_jval *hr_jinja__split(const struct hr_jval *s, const struct hr_jval *sep,
                                int64_t maxsplit)
{
    struct hr_jval *l = hr_jval_list();
    const char *p = s->u.s.p, *end = p + s->u.s.n;
    if (!l)
        return NULL;
    if (!is_str(sep)) { /* whitespace runs, no empty pieces */
        while (p < end) {
            while (p < end && isspace((unsigned char)*p))
                p++;
            if (p >= end)
                break;
            const char *q = p;
            if (maxsplit == 0) {
                const char *e = end;
                while (e > q && isspace((unsigned char)e[-1]))
                    e--;
                hr_jval_list_push(l, hr_jval_str(q, (size_t)(e - q)));
                break;
            }
            while (q < end && !isspace((unsigned char)*q))
                q++;
            hr_jval_list_push(l, hr_jval_str(p, (size_t)(q - p)));
            if (maxsplit > 0)
                maxsplit--;
            p = q;
        }
        return l;
    }
    for (;;) {
        const char *hit = sep->u.s.n && maxsplit != 0
                              ? memmem(p, (size_t)(end - p), sep->u.s.p, sep->u.s.n)
                              : NULL;
        if (!hit) {
            hr_jval_list_push(l, hr_jval_str(p, (size_t)(end - p)));
            return l;
        }
        hr_jval_list_push(l, hr_jval_str(p, (size_t)(hit - p)));
        p = hit + sep->u.s.n;
        if (maxsplit > 0)
            maxsplit--;
    }
}

static struct hr_jval *items_of(const struct hr_jval *d)
{
    struct hr_jval *l = hr_jval_list();
    for (size_t i = 0; l && i < d->u.dict.n; i++) {
        struct hr_jval *pair = hr_jval_list();
        if (!pair)
            break;
        hr_jval_list_push(pair, hr_jval_str(d->u.dict.items[i].key, d->u.dict.items[i].klen));
        hr_jval_list_push(pair, hr_jval_ref(d->u.dict.items[i].val));
        hr_jval_list_push(l, pair);
    }
    return l;
}

static struct hr_jval *attr_of(struct hr_jval *item, const struct hr_jval *name)
{
    /* "a.b" walks nested attributes, as jinja2's attribute= does */
    struct hr_jval *cur = item;
    const char *p = name->u.s.p, *end = p + name->u.s.n;
    while (cur && p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
        cur = hr_jv__dict_get(cur, p, len);
        if (!dot)
            break;
        p = dot + 1;
    }
    return cur;
}

struct hr_jval *hr_jinja__apply_filter(struct jctx *c, const struct jnode *at, const char *name,
                                       struct hr_jval *v)
{
    return hr_jinja__filter(c, at, name, v, NULL, NULL, 0);
}

static struct hr_jval *select_items(struct jctx *c, const struct jnode *at, struct hr_jval *v,
                                    struct hr_jval **args, size_t n, bool by_attr, bool keep)
{
    /* jinja2 yields nothing for a falsy input (None, undefined, empty) */
    if (!hr_jv__truthy(v)) {
        struct hr_jval *empty = hr_jval_list();
        if (empty)
            empty->generator = true;
        return empty;
    }
    if (v->kind != HR_JV_LIST) {
        hr_jinja__error(c, at, "select filters need a list, got %s", hr_jv__kind_name(v));
        return NULL;
    }
    size_t first = by_attr ? 1 : 0;
    if ((by_attr && (n < 1 || !is_str(args[0]))) || (n > first && !is_str(args[first]))) {
        hr_jinja__error(c, at, "bad arguments to a select filter");
        return NULL;
    }
    struct hr_jval *out = hr_jval_list();
    for (size_t i = 0; out && i < v->u.list.n && !hr_jinja__failed(c); i++) {
        struct hr_jval *item = v->u.list.items[i];
        struct hr_jval *subject = by_attr ? attr_of(item, args[0]) : item;
        struct hr_jval *undef = NULL;
        if (!subject)
            subject = undef = hr_jval_undefined();
        int t;
        if (n > first)
            t = hr_jinja__test(c, at, args[first]->u.s.p, subject, args + first + 1,
                               n - first - 1);
        else
            t = hr_jv__truthy(subject);
        hr_jval_unref(undef);
        if (t < 0)
            break;
        if ((t == 1) == keep)
            hr_jval_list_push(out, hr_jval_ref(item));
    }
    if (hr_jinja__failed(c)) {
        hr_jval_unref(out);
        return NULL;
    }
    if (out)
        out->generator = true;
    return out;
}

static int cmp_for_sort(struct jctx *c, const struct jnode *at, struct hr_jval *a,
                        struct hr_jval *b)
{
    if (a->kind == HR_JV_STR && b->kind == HR_JV_STR) {
        size_t m = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int r = memcmp(a->u.s.p, b->u.s.p, m);
        return r ? r : (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
    }
    double x = a->kind == HR_JV_INT ? (double)a->u.i : a->kind == HR_JV_FLOAT ? a->u.f : NAN;
    double y = b->kind == HR_JV_INT ? (double)b->u.i : b->kind == HR_JV_FLOAT ? b->u.f : NAN;
    if (isnan(x) || isnan(y)) {
        hr_jinja__error(c, at, "cannot sort %s with %s", hr_jv__kind_name(a),
                        hr_jv__kind_name(b));
        return 0;
    }
    return (x > y) - (x < y);
}


struct hr_jval *hr_jinja__escape(const struct hr_jval *v)
{
    if (v->markup)
        return hr_jval_str(v->u.s.p, v->u.s.n);
    struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
    for (size_t i = 0; i < v->u.s.n; i++) {
        char ch = v->u.s.p[i];
        const char *rep = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;"
                          : ch == '"' ? "&#34;" : ch == '\'' ? "&#39;" : NULL;
        if (rep)
            hr_sb__put(&sb, rep, strlen(rep));
        else
            hr_sb__put(&sb, &ch, 1);
    }
    struct hr_jval *r = sb.overflow ? NULL : hr_jval_str(sb.p ? sb.p : "", sb.n);
    free(sb.p);
    if (r)
        r->markup = true;
    return r;
}

struct hr_jval *hr_jinja__filter(struct jctx *c, const struct jnode *at, const char *name,
                                 struct hr_jval *v, struct hr_jval **args, char **kw, size_t n)
{
    struct hr_jval *a0 = arg(args, kw, n, 0, NULL);
    if (!strcmp(name, "trim"))
        return is_str(v) ? trim_chars(v, arg(args, kw, n, 0, "chars"), true, true) : str_of(v);
    if (!strcmp(name, "length") || !strcmp(name, "count")) {
        if (v->generator) {
            hr_jinja__error(c, at, "object of type 'generator' has no len()");
            return NULL;
        }
        if (v->kind == HR_JV_STR)
            return hr_jval_int((int64_t)hr_utf8__count(v->u.s.p, v->u.s.n));
        if (v->kind == HR_JV_LIST)
            return hr_jval_int((int64_t)v->u.list.n);
        if (v->kind == HR_JV_DICT)
            return hr_jval_int((int64_t)v->u.dict.n);
        if (v->kind == HR_JV_UNDEFINED)
            return hr_jval_int(0);
    } else if (!strcmp(name, "tojson")) {
        if (v->generator) {
            hr_jinja__error(c, at, "Object of type generator is not JSON serializable");
            return NULL;
        }
        struct hr_jval *ind = arg(args, kw, n, 0, "indent");
        struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
        hr_jv__json(&sb, v, ind && ind->kind == HR_JV_INT ? (int)ind->u.i : -1, 0);
        struct hr_jval *r = sb.overflow ? NULL : hr_jval_str(sb.p ? sb.p : "", sb.n);
        free(sb.p);
        return r;
    } else if (!strcmp(name, "items") && (v->kind == HR_JV_DICT || v->kind == HR_JV_NAMESPACE)) {
        return items_of(v);
    } else if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "title") ||
               !strcmp(name, "capitalize")) {
        struct hr_jval *s = is_str(v) ? hr_jval_ref(v) : str_of(v);
        struct hr_jval *r = s ? case_str(s, name[0] == 'l' ? 0 : name[0] == 'u' ? 1
                                             : name[0] == 't' ? 2 : 3)
                              : NULL;
        hr_jval_unref(s);
        return r;
    } else if (!strcmp(name, "replace")) {
        struct hr_jval *to = arg(args, kw, n, 1, "new");
        struct hr_jval *cnt = arg(args, kw, n, 2, "count");
        if (is_str(v) && is_str(a0) && is_str(to))
            return replace_str(v, a0, to, cnt && cnt->kind == HR_JV_INT ? cnt->u.i : -1);
    } else if (!strcmp(name, "default") || !strcmp(name, "d")) {
        struct hr_jval *boolean = arg(args, kw, n, 1, "boolean");
        bool use_default = v->kind == HR_JV_UNDEFINED ||
                           (boolean && hr_jv__truthy(boolean) && !hr_jv__truthy(v));
        if (!use_default)
            return hr_jval_ref(v);
        return a0 ? hr_jval_ref(a0) : hr_jval_str("", 0);
    } else if (!strcmp(name, "join")) {
        struct hr_jval *attr = arg(args, kw, n, 1, "attribute");
        if (v->kind != HR_JV_LIST)
            goto bad;
        struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i && is_str(a0))
                hr_sb__put(&sb, a0->u.s.p, a0->u.s.n);
            struct hr_jval *item = v->u.list.items[i];
            if (is_str(attr))
                item = attr_of(item, attr);
            if (item)
                hr_jv__print(&sb, item);
        }
        struct hr_jval *r = sb.overflow ? NULL : hr_jval_str(sb.p ? sb.p : "", sb.n);
        free(sb.p);
        return r;
    } else if (!strcmp(name, "first") || !strcmp(name, "last")) {
        if (v->kind == HR_JV_LIST)
            return v->u.list.n ? hr_jval_ref(v->u.list.items[name[0] == 'f' ? 0 : v->u.list.n - 1])
                               : hr_jval_undefined();
        if (v->kind == HR_JV_STR && v->u.s.n) {
            size_t b = 0, e = v->u.s.n;
            if (name[0] == 'f') {
                e = 1;
                while (e < v->u.s.n && ((unsigned char)v->u.s.p[e] & 0xC0) == 0x80)
                    e++;
            } else {
                b = v->u.s.n - 1;
                while (b > 0 && ((unsigned char)v->u.s.p[b] & 0xC0) == 0x80)
                    b--;
            }
            return hr_jval_str(v->u.s.p + b, e - b);
        }
        return hr_jval_undefined();
    } else if (!strcmp(name, "list")) {
        if (v->kind == HR_JV_LIST && !v->generator)
            return hr_jval_ref(v);
        if (v->kind == HR_JV_LIST) {
            struct hr_jval *l = hr_jval_list();
            for (size_t i = 0; l && i < v->u.list.n; i++)
                hr_jval_list_push(l, hr_jval_ref(v->u.list.items[i]));
            return l;
        }
        if (v->kind == HR_JV_UNDEFINED)
            return hr_jval_list();
        if (v->kind == HR_JV_DICT) {
            struct hr_jval *l = hr_jval_list();
            for (size_t i = 0; l && i < v->u.dict.n; i++)
                hr_jval_list_push(l, hr_jval_str(v->u.dict.items[i].key, v->u.dict.items[i].klen));
            return l;
        }
        if (v->kind == HR_JV_STR) {
            struct hr_jval *l = hr_jval_list();
            for (size_t i = 0; l && i < v->u.s.n;) {
                size_t e = i + 1;
                while (e < v->u.s.n && ((unsigned char)v->u.s.p[e] & 0xC0) == 0x80)
                    e++;
                hr_jval_list_push(l, hr_jval_str(v->u.s.p + i, e - i));
                i = e;
            }
            return l;
        }
    } else if (!strcmp(name, "string") || !strcmp(name, "safe") || !strcmp(name, "e") ||
               !strcmp(name, "escape")) {
        if (name[0] == 'e' && is_str(v))
            return hr_jinja__escape(v);
        if (!strcmp(name, "safe") && is_str(v)) {
            struct hr_jval *m = hr_jval_str(v->u.s.p, v->u.s.n);
            if (m)
                m->markup = true;
            return m;
        }
        return name[1] == 'a' ? hr_jval_ref(v) : str_of(v);
    } else if (!strcmp(name, "int")) {
        if (v->kind == HR_JV_INT)
            return hr_jval_ref(v);
        if (v->kind == HR_JV_FLOAT)
            return hr_jval_int((int64_t)v->u.f);
        if (v->kind == HR_JV_BOOL)
            return hr_jval_int(v->u.b);
        if (is_str(v))
            return hr_jval_int(strtoll(v->u.s.p, NULL, 10));
        return hr_jval_int(0);
    } else if (!strcmp(name, "float")) {
        if (v->kind == HR_JV_INT)
            return hr_jval_float((double)v->u.i);
        if (v->kind == HR_JV_FLOAT)
            return hr_jval_ref(v);
        if (is_str(v))
            return hr_jval_float(strtod(v->u.s.p, NULL));
        return hr_jval_float(0);
    } else if (!strcmp(name, "abs")) {
        if (v->kind == HR_JV_INT)
            return hr_jval_int(v->u.i < 0 ? -v->u.i : v->u.i);
        if (v->kind == HR_JV_FLOAT)
            return hr_jval_float(fabs(v->u.f));
    } else if (!strcmp(name, "round")) {
        int64_t prec = a0 && a0->kind == HR_JV_INT ? a0->u.i : 0;
        double x = v->kind == HR_JV_INT ? (double)v->u.i : v->kind == HR_JV_FLOAT ? v->u.f : 0;
        double m = pow(10, (double)prec);
        return hr_jval_float(round(x * m) / m);
    } else if (!strcmp(name, "reverse")) {
        if (v->kind == HR_JV_LIST) {
            struct hr_jval *l = hr_jval_list();
            for (size_t i = v->u.list.n; l && i > 0; i--)
                hr_jval_list_push(l, hr_jval_ref(v->u.list.items[i - 1]));
            return l;
        }
        if (is_str(v)) {
            struct hr_jval *r = hr_jval_str(v->u.s.p, v->u.s.n);
            for (size_t i = 0; r && i < r->u.s.n / 2; i++) {
                char t = r->u.s.p[i];
                r->u.s.p[i] = r->u.s.p[r->u.s.n - 1 - i];
                r->u.s.p[r->u.s.n - 1 - i] = t;
            }
            return r;
        }
    } else if (!strcmp(name, "sort") && v->kind == HR_JV_LIST) {
        struct hr_jval *rev = arg(args, kw, n, 0, "reverse");
        struct hr_jval *attr = arg(args, kw, n, 2, "attribute");
        struct hr_jval *l = hr_jval_list();
        for (size_t i = 0; l && i < v->u.list.n; i++)
            hr_jval_list_push(l, hr_jval_ref(v->u.list.items[i]));
        /* insertion sort: stable like Python's, lists here are short */
        for (size_t i = 1; l && i < l->u.list.n && !hr_jinja__failed(c); i++) {
            struct hr_jval *x = l->u.list.items[i];
            size_t j = i;
            while (j > 0 && !hr_jinja__failed(c)) {
                struct hr_jval *ka = is_str(attr) ? attr_of(l->u.list.items[j - 1], attr)
                                                  : l->u.list.items[j - 1];
                struct hr_jval *kb = is_str(attr) ? attr_of(x, attr) : x;
                if (!ka || !kb)
                    break;
                int cmp = cmp_for_sort(c, at, ka, kb);
                if (rev && hr_jv__truthy(rev) ? cmp >= 0 : cmp <= 0)
                    break;
                l->u.list.items[j] = l->u.list.items[j - 1];
                j--;
            }
            l->u.list.items[j] = x;
        }
        return l;
    } else if (!strcmp(name, "unique") && v->kind == HR_JV_LIST) {
        struct hr_jval *l = hr_jval_list();
        for (size_t i = 0; l && i < v->u.list.n; i++) {
            bool seen = false;
            for (size_t k = 0; k < l->u.list.n && !seen; k++)
                seen = hr_jv__equal(l->u.list.items[k], v->u.list.items[i]);
            if (!seen)
                hr_jval_list_push(l, hr_jval_ref(v->u.list.items[i]));
        }
        return l;
    } else if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr")) {
        return select_items(c, at, v, args, n, true, name[0] == 's');
    } else if (!strcmp(name, "select") || !strcmp(name, "reject")) {
        return select_items(c, at, v, args, n, false, name[2] == 'l');
    } else if (!strcmp(name, "map") && !hr_jv__truthy(v)) {
        struct hr_jval *empty = hr_jval_list();
        if (empty)
            empty->generator = true;
        return empty;
    } else if (!strcmp(name, "map") && v->kind == HR_JV_LIST) {
        struct hr_jval *attr = arg(args, kw, n, 99, "attribute");
        struct hr_jval *dflt = arg(args, kw, n, 99, "default");
        struct hr_jval *l = hr_jval_list();
        for (size_t i = 0; l && i < v->u.list.n && !hr_jinja__failed(c); i++) {
            struct hr_jval *item = v->u.list.items[i], *r;
            if (is_str(attr)) {
                struct hr_jval *x = attr_of(item, attr);
                r = x ? hr_jval_ref(x) : dflt ? hr_jval_ref(dflt) : hr_jval_undefined();
            } else if (is_str(a0)) {
                r = hr_jinja__filter(c, at, a0->u.s.p, item, args + 1, kw ? kw + 1 : NULL,
                                     n - 1);
            } else {
                r = hr_jval_ref(item);
            }
            if (r)
                hr_jval_list_push(l, r);
        }
        if (l)
            l->generator = true;
        return l;
    } else if (!strcmp(name, "indent") && is_str(v)) {
        struct hr_jval *w = arg(args, kw, n, 0, "width");
        struct hr_jval *first = arg(args, kw, n, 1, "first");
        int64_t width = w && w->kind == HR_JV_INT ? w->u.i : 4;
        struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
        char pad[64];
        size_t pn = width > 0 && width < 64 ? (size_t)width : 0;
        if (w && is_str(w)) {
            pn = w->u.s.n < sizeof pad ? w->u.s.n : 0;
            memcpy(pad, w->u.s.p, pn);
        } else {
            memset(pad, ' ', pn);
        }
        if (first && hr_jv__truthy(first))
            hr_sb__put(&sb, pad, pn);
        for (size_t i = 0; i < v->u.s.n; i++) {
            hr_sb__put(&sb, &v->u.s.p[i], 1);
            if (v->u.s.p[i] == '\n' && i + 1 < v->u.s.n && v->u.s.p[i + 1] != '\n')
                hr_sb__put(&sb, pad, pn);
        }
        struct hr_jval *r = hr_jval_str(sb.p ? sb.p : "", sb.n);
        free(sb.p);
        return r;
    } else if (!strcmp(name, "dictsort") && v->kind == HR_JV_DICT) {
        return items_of(v);
    } else {
        hr_jinja__error(c, at, "unknown filter '%s'", name);
        return NULL;
    }
bad:
    hr_jinja__error(c, at, "filter '%s' cannot take %s", name, hr_jv__kind_name(v));
    return NULL;
}

int hr_jinja__test(struct jctx *c, const struct jnode *at, const char *name,
                   struct hr_jval *v, struct hr_jval **args, size_t n)
{
    struct hr_jval *a0 = n ? args[0] : NULL;
    if (!strcmp(name, "defined"))
        return v->kind != HR_JV_UNDEFINED;
    if (!strcmp(name, "undefined"))
        return v->kind == HR_JV_UNDEFINED;
    if (!strcmp(name, "none"))
        return v->kind == HR_JV_NONE;
    if (!strcmp(name, "string"))
        return v->kind == HR_JV_STR;
    if (!strcmp(name, "number"))
        return v->kind == HR_JV_INT || v->kind == HR_JV_FLOAT;
    if (!strcmp(name, "integer"))
        return v->kind == HR_JV_INT;
    if (!strcmp(name, "float"))
        return v->kind == HR_JV_FLOAT;
    if (!strcmp(name, "boolean"))
        return v->kind == HR_JV_BOOL;
    if (!strcmp(name, "true"))
        return v->kind == HR_JV_BOOL && v->u.b;
    if (!strcmp(name, "false"))
        return v->kind == HR_JV_BOOL && !v->u.b;
    if (!strcmp(name, "mapping"))
        return v->kind == HR_JV_DICT || v->kind == HR_JV_NAMESPACE;
    if (!strcmp(name, "iterable"))
        return v->kind == HR_JV_LIST || v->kind == HR_JV_DICT || v->kind == HR_JV_STR;
    if (!strcmp(name, "sequence"))
        return v->kind == HR_JV_LIST || v->kind == HR_JV_DICT || v->kind == HR_JV_STR;
    if (!strcmp(name, "callable"))
        return v->kind == HR_JV_MACRO;
    if (!strcmp(name, "equalto") || !strcmp(name, "eq") || !strcmp(name, "==") ||
        !strcmp(name, "sameas"))
        return a0 && hr_jv__equal(v, a0);
    if (!strcmp(name, "ne") || !strcmp(name, "!="))
        return !(a0 && hr_jv__equal(v, a0));
    if (!strcmp(name, "in")) {
        if (a0 && a0->kind == HR_JV_LIST) {
            for (size_t i = 0; i < a0->u.list.n; i++)
                if (hr_jv__equal(a0->u.list.items[i], v))
                    return 1;
            return 0;
        }
        return a0 && is_str(a0) && is_str(v) && memmem(a0->u.s.p, a0->u.s.n, v->u.s.p, v->u.s.n);
    }
    if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
        if (!is_str(v))
            return 0;
        for (size_t i = 0; i < v->u.s.n; i++)
            if (name[0] == 'l' ? isupper((unsigned char)v->u.s.p[i])
                               : islower((unsigned char)v->u.s.p[i]))
                return 0;
        return 1;
    }
    if (!strcmp(name, "odd") || !strcmp(name, "even"))
        return v->kind == HR_JV_INT && (v->u.i % 2 != 0) == (name[0] == 'o');
    if (!strcmp(name, "divisibleby"))
        return v->kind == HR_JV_INT && a0 && a0->kind == HR_JV_INT && a0->u.i &&
               v->u.i % a0->u.i == 0;
    hr_jinja__error(c, at, "unknown test '%s'", name);
    return -1;
}
