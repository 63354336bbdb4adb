/* Jinja calls: methods of strings, dicts and lists that chat templates use, and the global
 * functions (range, namespace, dict, raise_exception, strftime_now). One thread per render. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/err.h"
#include "jinja_int.h"

static bool is_str(const struct hr_jval *v)
{
    return v && v->kind == HR_JV_STR;
}

static bool prefix_match(const struct hr_jval *s, const struct hr_jval *x, bool at_end)
{
    if (is_str(x)) {
        if (x->u.s.n > s->u.s.n)
            return false;
        const char *p = at_end ? s->u.s.p + s->u.s.n - x->u.s.n : s->u.s.p;
        return memcmp(p, x->u.s.p, x->u.s.n) == 0;
    }
    if (x && x->kind == HR_JV_LIST) /* a tuple of alternatives */
        for (size_t i = 0; i < x->u.list.n; i++)
            if (prefix_match(s, x->u.list.items[i], at_end))
                return true;
    return false;
}

static struct hr_jval *str_method(struct jctx *c, const struct jnode *at, struct hr_jval *s,
                                  const char *name, struct hr_jval **args, char **kw, size_t n)
{
    struct hr_jval *a0 = n ? args[0] : NULL, *a1 = n > 1 ? args[1] : NULL;
    if (!strcmp(name, "startswith") || !strcmp(name, "endswith"))
        return hr_jval_bool(prefix_match(s, a0, name[0] == 'e'));
    if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
        struct hr_jval *r = hr_jinja__filter(c, at, "trim", s, args, kw, n);
        if (name[0] == 's' || !r)
            return r;
        hr_jval_unref(r);
        /* one-sided: trim by hand */
        const char *set = is_str(a0) ? a0->u.s.p : " \t\n\r\f\v";
        size_t set_n = is_str(a0) ? a0->u.s.n : 6;
        const char *p = s->u.s.p;
        size_t len = s->u.s.n;
        if (name[0] == 'l')
            while (len && memchr(set, *p, set_n))
                p++, len--;
        else
            while (len && memchr(set, p[len - 1], set_n))
                len--;
        return hr_jval_str(p, len);
    }
    if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "title") ||
        !strcmp(name, "capitalize"))
        return hr_jinja__filter(c, at, name, s, NULL, NULL, 0);
    if (!strcmp(name, "replace"))
        return hr_jinja__filter(c, at, "replace", s, args, kw, n);
    if (!strcmp(name, "split")) {
        struct hr_jval *sep = is_str(a0) ? a0 : NULL;
        int64_t max = a1 && a1->kind == HR_JV_INT ? a1->u.i : -1;
        return hr_jinja__split(s, sep, max);
    }
    if ((!strcmp(name, "find") || !strcmp(name, "count")) && is_str(a0)) {
        int64_t count = 0, first = -1;
        const char *p = s->u.s.p, *end = p + s->u.s.n;
        while (a0->u.s.n && p <= end) {
            const char *hit = memmem(p, (size_t)(end - p), a0->u.s.p, a0->u.s.n);
            if (!hit)
                break;
            if (first < 0)
                first = (int64_t)hr_utf8__count(s->u.s.p, (size_t)(hit - s->u.s.p));
            count++;
            p = hit + a0->u.s.n;
        }
        return hr_jval_int(name[0] == 'f' ? first : count);
    }
    if (!strcmp(name, "join") && a0)
        return hr_jinja__filter(c, at, "join", a0, &s, NULL, 1);
    hr_jinja__error(c, at, "strings have no method '%s'", name);
    return NULL;
}

struct hr_jval *hr_jinja__method(struct jctx *c, const struct jnode *at, struct hr_jval *obj,
                                 const char *name, struct hr_jval **args, char **kw, size_t n)
{
    struct hr_jval *a0 = n ? args[0] : NULL;
    if (obj->kind == HR_JV_STR)
        return str_method(c, at, obj, name, args, kw, n);
    if (obj->kind == HR_JV_DICT || obj->kind == HR_JV_NAMESPACE) {
        if (!strcmp(name, "items"))
            return hr_jinja__filter(c, at, "items", obj, NULL, NULL, 0);
        if (!strcmp(name, "keys") || !strcmp(name, "values")) {
            struct hr_jval *l = hr_jval_list();
            for (size_t i = 0; l && i < obj->u.dict.n; i++)
                hr_jval_list_push(l, name[0] == 'k'
                                         ? hr_jval_str(obj->u.dict.items[i].key,
                                                       obj->u.dict.items[i].klen)
                                         : hr_jval_ref(obj->u.dict.items[i].val));
            return l;
        }
        if (!strcmp(name, "get") && is_str(a0)) {
            struct hr_jval *v = hr_jv__dict_get(obj, a0->u.s.p, a0->u.s.n);
            if (v)
                return hr_jval_ref(v);
            return n > 1 ? hr_jval_ref(args[1]) : hr_jval_none();
        }
    }
    if (obj->kind == HR_JV_LIST) {
        if (!strcmp(name, "append") && a0) {
            hr_jval_list_push(obj, hr_jval_ref(a0));
            return hr_jval_none();
        }
        if (!strcmp(name, "pop") && obj->u.list.n) {
            int64_t i = a0 && a0->kind == HR_JV_INT ? a0->u.i : -1;
            if (i < 0)
                i += (int64_t)obj->u.list.n;
            if (i < 0 || i >= (int64_t)obj->u.list.n) {
                hr_jinja__error(c, at, "pop index out of range");
                return NULL;
            }
            struct hr_jval *v = obj->u.list.items[i];
            memmove(obj->u.list.items + i, obj->u.list.items + i + 1,
                    (obj->u.list.n - (size_t)i - 1) * sizeof *obj->u.list.items);
            obj->u.list.n--;
            return v;
        }
        if ((!strcmp(name, "index") || !strcmp(name, "count")) && a0) {
            int64_t count = 0, first = -1;
            for (size_t i = 0; i < obj->u.list.n; i++)
                if (hr_jv__equal(obj->u.list.items[i], a0)) {
                    if (first < 0)
                        first = (int64_t)i;
                    count++;
                }
            if (name[0] == 'i' && first < 0) {
                hr_jinja__error(c, at, "value is not in the list");
                return NULL;
            }
            return hr_jval_int(name[0] == 'i' ? first : count);
        }
    }
    hr_jinja__error(c, at, "%s has no method '%s'", hr_jv__kind_name(obj), name);
    return NULL;
}

static struct hr_jval *kwargs_dict(struct hr_jval **args, char **kw, size_t n, uint8_t kind)
{
    struct hr_jval *d = hr_jval_dict();
    if (!d)
        return NULL;
    d->kind = kind;
    for (size_t i = 0; i < n; i++) {
        if (kw[i]) {
            hr_jval_dict_set(d, kw[i], strlen(kw[i]), hr_jval_ref(args[i]));
        } else if (args[i]->kind == HR_JV_DICT) { /* namespace({...}) / dict({...}) */
            for (size_t k = 0; k < args[i]->u.dict.n; k++)
                hr_jval_dict_set(d, args[i]->u.dict.items[k].key, args[i]->u.dict.items[k].klen,
                                 hr_jval_ref(args[i]->u.dict.items[k].val));
        }
    }
    return d;
}

struct hr_jval *hr_jinja__global(struct jctx *c, const struct jnode *at, const char *name,
                                 struct hr_jval **args, char **kw, size_t n, bool *found)
{
    *found = true;
    if (!strcmp(name, "range")) {
        int64_t v[3] = {0, 0, 1};
        size_t k = 0;
        for (size_t i = 0; i < n && k < 3; i++)
            if (args[i]->kind == HR_JV_INT)
                v[k++] = args[i]->u.i;
        int64_t start = k >= 2 ? v[0] : 0, stop = k >= 2 ? v[1] : v[0], step = k == 3 ? v[2] : 1;
        if (step == 0) {
            hr_jinja__error(c, at, "range() step must not be zero");
            return NULL;
        }
        struct hr_jval *l = hr_jval_list();
        for (int64_t i = start; l && (step > 0 ? i < stop : i > stop); i += step) {
            if (hr_jinja__count_iteration(c, at) != 0) {
                hr_jval_unref(l);
                return NULL;
            }
            hr_jval_list_push(l, hr_jval_int(i));
        }
        return l;
    }
    if (!strcmp(name, "namespace"))
        return kwargs_dict(args, kw, n, HR_JV_NAMESPACE);
    if (!strcmp(name, "dict"))
        return kwargs_dict(args, kw, n, HR_JV_DICT);
    if (!strcmp(name, "raise_exception")) {
        hr_jinja__error(c, at, "raise_exception: %.200s",
                        n && is_str(args[0]) ? args[0]->u.s.p : "error");
        return NULL;
    }
    if (!strcmp(name, "strftime_now")) {
        time_t t = (time_t)hr_jinja__now(c);
        struct tm tm;
        gmtime_r(&t, &tm);
        char buf[256] = "";
        if (n && is_str(args[0]))
            strftime(buf, sizeof buf, args[0]->u.s.p, &tm);
        return hr_jval_str(buf, strlen(buf));
    }
    *found = false;
    return NULL;
}
