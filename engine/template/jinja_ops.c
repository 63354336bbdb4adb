/* Jinja operators on values: indexing (code points for strings, negative indices), the
 * arithmetic of Python (floor division and modulo signs, string and list +, Markup escaping),
 * ordering comparisons and `in`. One thread per render. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "jinja_int.h"

/* Code point index i of string s -> byte offset (n for past the end). */
size_t hr_jinja__cp_offset(const char *s, size_t n, size_t i)
{
    size_t off = 0;
    while (off < n && i > 0) {
        off++;
        while (off < n && ((unsigned char)s[off] & 0xC0) == 0x80)
            off++;
        i--;
    }
    return off;
}

struct hr_jval *hr_jinja__index(struct jctx *c, const struct jnode *at, struct hr_jval *obj,
                                   struct hr_jval *key)
{
    if ((obj->kind == HR_JV_DICT || obj->kind == HR_JV_NAMESPACE) && key->kind == HR_JV_STR) {
        struct hr_jval *v = hr_jv__dict_get(obj, key->u.s.p, key->u.s.n);
        return v ? hr_jval_ref(v) : hr_jval_undefined();
    }
    if (key->kind == HR_JV_INT && (obj->kind == HR_JV_LIST || obj->kind == HR_JV_STR)) {
        int64_t len = obj->kind == HR_JV_LIST ? (int64_t)obj->u.list.n
                                              : (int64_t)hr_utf8__count(obj->u.s.p, obj->u.s.n);
        int64_t i = key->u.i < 0 ? key->u.i + len : key->u.i;
        if (i < 0 || i >= len)
            return hr_jval_undefined();
        if (obj->kind == HR_JV_LIST)
            return hr_jval_ref(obj->u.list.items[i]);
        size_t b = hr_jinja__cp_offset(obj->u.s.p, obj->u.s.n, (size_t)i);
        size_t e = hr_jinja__cp_offset(obj->u.s.p, obj->u.s.n, (size_t)i + 1);
        return hr_jval_str(obj->u.s.p + b, e - b);
    }
    if (obj->kind == HR_JV_UNDEFINED) {
        hr_jinja__error(c, at, "cannot index an undefined value");
        return NULL;
    }
    return hr_jval_undefined();
}

struct hr_jval *hr_jinja__arith(struct jctx *c, const struct jnode *n, const char *op,
                             struct hr_jval *a, struct hr_jval *b)
{
    bool ints = (a->kind == HR_JV_INT || a->kind == HR_JV_BOOL) &&
                (b->kind == HR_JV_INT || b->kind == HR_JV_BOOL);
    bool nums = (a->kind == HR_JV_INT || a->kind == HR_JV_FLOAT || a->kind == HR_JV_BOOL) &&
                (b->kind == HR_JV_INT || b->kind == HR_JV_FLOAT || b->kind == HR_JV_BOOL);
    if (!strcmp(op, "+") && a->kind == HR_JV_STR && b->kind == HR_JV_STR) {
        /* Markup + str escapes the plain side, as markupsafe does */
        bool markup = a->markup || b->markup;
        struct hr_jval *ea = markup && !a->markup ? hr_jinja__escape(a) : hr_jval_ref(a);
        struct hr_jval *eb = markup && !b->markup ? hr_jinja__escape(b) : hr_jval_ref(b);
        struct sbuf sb = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
        if (ea && eb) {
            hr_sb__put(&sb, ea->u.s.p, ea->u.s.n);
            hr_sb__put(&sb, eb->u.s.p, eb->u.s.n);
        }
        struct hr_jval *r = ea && eb && !sb.overflow ? hr_jval_str(sb.p ? sb.p : "", sb.n) : NULL;
        if (r)
            r->markup = markup;
        hr_jval_unref(ea);
        hr_jval_unref(eb);
        free(sb.p);
        return r;
    }
    if (!strcmp(op, "+") && a->kind == HR_JV_LIST && b->kind == HR_JV_LIST) {
        struct hr_jval *r = hr_jval_list();
        for (size_t i = 0; r && i < a->u.list.n; i++)
            hr_jval_list_push(r, hr_jval_ref(a->u.list.items[i]));
        for (size_t i = 0; r && i < b->u.list.n; i++)
            hr_jval_list_push(r, hr_jval_ref(b->u.list.items[i]));
        return r;
    }
    if (!nums) {
        hr_jinja__error(c, n, "unsupported operand types for %s: %s and %s", op,
                        hr_jv__kind_name(a), hr_jv__kind_name(b));
        return NULL;
    }
    double x = a->kind == HR_JV_FLOAT ? a->u.f : (double)(a->kind == HR_JV_INT ? a->u.i : a->u.b);
    double y = b->kind == HR_JV_FLOAT ? b->u.f : (double)(b->kind == HR_JV_INT ? b->u.i : b->u.b);
    int64_t i = a->kind == HR_JV_INT ? a->u.i : (int64_t)x, j = b->kind == HR_JV_INT ? b->u.i : (int64_t)y;
    if ((!strcmp(op, "/") || !strcmp(op, "//") || !strcmp(op, "%")) && y == 0) {
        hr_jinja__error(c, n, "division by zero");
        return NULL;
    }
    switch (op[0]) {
    case '+':
        return ints ? hr_jval_int(i + j) : hr_jval_float(x + y);
    case '-':
        return ints ? hr_jval_int(i - j) : hr_jval_float(x - y);
    case '*':
        if (op[1] == '*')
            return ints && j >= 0 ? hr_jval_int((int64_t)pow((double)i, (double)j))
                                  : hr_jval_float(pow(x, y));
        return ints ? hr_jval_int(i * j) : hr_jval_float(x * y);
    case '/':
        if (op[1] == '/') {
            if (ints)
                return hr_jval_int(i / j - ((i % j != 0) && ((i < 0) != (j < 0))));
            return hr_jval_float(floor(x / y));
        }
        return hr_jval_float(x / y);
    default: /* % */
        if (ints) {
            int64_t r = i % j;
            return hr_jval_int(r != 0 && ((r < 0) != (j < 0)) ? r + j : r);
        }
        return hr_jval_float(x - y * floor(x / y));
    }
}

int hr_jinja__compare(struct jctx *c, const struct jnode *n, struct hr_jval *a, struct hr_jval *b,
                   int *out)
{
    double x, y;
    if ((a->kind == HR_JV_INT || a->kind == HR_JV_FLOAT) &&
        (b->kind == HR_JV_INT || b->kind == HR_JV_FLOAT)) {
        x = a->kind == HR_JV_INT ? (double)a->u.i : a->u.f;
        y = b->kind == HR_JV_INT ? (double)b->u.i : b->u.f;
        *out = x < y ? -1 : x > y;
        return 0;
    }
    if (a->kind == HR_JV_STR && b->kind == HR_JV_STR) {
        size_t m = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int r = memcmp(a->u.s.p, b->u.s.p, m);
        *out = r ? (r < 0 ? -1 : 1) : (a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n);
        return 0;
    }
    hr_jinja__error(c, n, "cannot compare %s with %s", hr_jv__kind_name(a), hr_jv__kind_name(b));
    return -1;
}

bool hr_jinja__contains(struct hr_jval *hay, struct hr_jval *needle)
{
    if (hay->kind == HR_JV_STR && needle->kind == HR_JV_STR)
        return needle->u.s.n == 0 ||
               memmem(hay->u.s.p, hay->u.s.n, needle->u.s.p, needle->u.s.n) != NULL;
    if (hay->kind == HR_JV_LIST) {
        for (size_t i = 0; i < hay->u.list.n; i++)
            if (hr_jv__equal(hay->u.list.items[i], needle))
                return true;
        return false;
    }
    if ((hay->kind == HR_JV_DICT || hay->kind == HR_JV_NAMESPACE) && needle->kind == HR_JV_STR)
        return hr_jv__dict_get(hay, needle->u.s.p, needle->u.s.n) != NULL;
    return false;
}

