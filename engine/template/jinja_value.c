/* Jinja values: refcounted none/bool/int/float/string/list/dict/namespace/macro, with Python's
 * truthiness, equality, printing (str), repr and json.dumps formatting, since templates'
 * output must match what Python's jinja2 prints byte for byte. One thread per render. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "jinja_int.h"

static struct hr_jval *alloc(uint8_t kind)
{
    struct hr_jval *v = calloc(1, sizeof *v);
    if (v) {
        v->refs = 1;
        v->kind = kind;
    }
    return v;
}

struct hr_jval *hr_jval_none(void)
{
    return alloc(HR_JV_NONE);
}

struct hr_jval *hr_jval_undefined(void)
{
    return alloc(HR_JV_UNDEFINED);
}

struct hr_jval *hr_jval_bool(bool b)
{
    struct hr_jval *v = alloc(HR_JV_BOOL);
    if (v)
        v->u.b = b;
    return v;
}

struct hr_jval *hr_jval_int(int64_t i)
{
    struct hr_jval *v = alloc(HR_JV_INT);
    if (v)
        v->u.i = i;
    return v;
}

struct hr_jval *hr_jval_float(double f)
{
    struct hr_jval *v = alloc(HR_JV_FLOAT);
    if (v)
        v->u.f = f;
    return v;
}

struct hr_jval *hr_jval_str(const char *s, size_t n)
{
    struct hr_jval *v = alloc(HR_JV_STR);
    if (!v)
        return NULL;
    v->u.s.p = malloc(n + 1);
    if (!v->u.s.p) {
        free(v);
        return NULL;
    }
    if (n)
        memcpy(v->u.s.p, s, n);
    v->u.s.p[n] = '\0';
    v->u.s.n = n;
    return v;
}

struct hr_jval *hr_jval_list(void)
{
    return alloc(HR_JV_LIST);
}

struct hr_jval *hr_jval_dict(void)
{
    return alloc(HR_JV_DICT);
}

enum hr_jval_kind hr_jval_kind(const struct hr_jval *v)
{
    return (enum hr_jval_kind)v->kind;
}

int hr_jval_list_push(struct hr_jval *list, struct hr_jval *take)
{
    if (!take)
        return HR_ENOMEM;
    if (list->u.list.n == list->u.list.cap) {
        size_t cap = list->u.list.cap ? list->u.list.cap * 2 : 8;
        struct hr_jval **p = realloc(list->u.list.items, cap * sizeof *p);
        if (!p) {
            hr_jval_unref(take);
            return HR_ENOMEM;
        }
        list->u.list.items = p;
        list->u.list.cap = cap;
    }
    list->u.list.items[list->u.list.n++] = take;
    return 0;
}

struct hr_jval *hr_jv__dict_get(const struct hr_jval *d, const char *key, size_t klen)
{
    if (d->kind != HR_JV_DICT && d->kind != HR_JV_NAMESPACE)
        return NULL;
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (d->u.dict.items[i].klen == klen && memcmp(d->u.dict.items[i].key, key, klen) == 0)
            return d->u.dict.items[i].val;
    return NULL;
}

int hr_jval_dict_set(struct hr_jval *d, const char *key, size_t klen, struct hr_jval *take)
{
    if (!take)
        return HR_ENOMEM;
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (d->u.dict.items[i].klen == klen && memcmp(d->u.dict.items[i].key, key, klen) == 0) {
            hr_jval_unref(d->u.dict.items[i].val);
            d->u.dict.items[i].val = take;
            return 0;
        }
    if (d->u.dict.n == d->u.dict.cap) {
        size_t cap = d->u.dict.cap ? d->u.dict.cap * 2 : 8;
        struct hr_jkv *p = realloc(d->u.dict.items, cap * sizeof *p);
        if (!p) {
            hr_jval_unref(take);
            return HR_ENOMEM;
        }
        d->u.dict.items = p;
        d->u.dict.cap = cap;
    }
    char *k = malloc(klen + 1);
    if (!k) {
        hr_jval_unref(take);
        return HR_ENOMEM;
    }
    memcpy(k, key, klen);
    k[klen] = '\0';
    d->u.dict.items[d->u.dict.n++] = (struct hr_jkv){k, klen, take};
    return 0;
}

struct hr_jval *hr_jval_ref(struct hr_jval *v)
{
    if (v)
        v->refs++;
    return v;
}

void hr_jval_unref(struct hr_jval *v)
{
    if (!v || --v->refs > 0)
        return;
    switch (v->kind) {
    case HR_JV_STR:
        free(v->u.s.p);
        break;
    case HR_JV_LIST:
        for (size_t i = 0; i < v->u.list.n; i++)
            hr_jval_unref(v->u.list.items[i]);
        free(v->u.list.items);
        break;
    case HR_JV_DICT:
    case HR_JV_NAMESPACE:
        for (size_t i = 0; i < v->u.dict.n; i++) {
            free(v->u.dict.items[i].key);
            hr_jval_unref(v->u.dict.items[i].val);
        }
        free(v->u.dict.items);
        break;
    default:
        break;
    }
    free(v);
}

bool hr_jv__truthy(const struct hr_jval *v)
{
    switch (v->kind) {
    case HR_JV_BOOL:
        return v->u.b;
    case HR_JV_INT:
        return v->u.i != 0;
    case HR_JV_FLOAT:
        return v->u.f != 0;
    case HR_JV_STR:
        return v->u.s.n > 0;
    case HR_JV_LIST:
        return v->u.list.n > 0;
    case HR_JV_DICT:
        return v->u.dict.n > 0;
    case HR_JV_NAMESPACE:
    case HR_JV_MACRO:
        return true;
    default:
        return false;
    }
}

static bool numeric(const struct hr_jval *v, double *out)
{
    if (v->kind == HR_JV_INT)
        *out = (double)v->u.i;
    else if (v->kind == HR_JV_FLOAT)
        *out = v->u.f;
    else if (v->kind == HR_JV_BOOL)
        *out = v->u.b;
    else
        return false;
    return true;
}

bool hr_jv__equal(const struct hr_jval *a, const struct hr_jval *b)
{
    double x, y;
    if (numeric(a, &x) && numeric(b, &y))
        return x == y;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case HR_JV_STR:
        return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    case HR_JV_LIST:
        if (a->u.list.n != b->u.list.n)
            return false;
        for (size_t i = 0; i < a->u.list.n; i++)
            if (!hr_jv__equal(a->u.list.items[i], b->u.list.items[i]))
                return false;
        return true;
    case HR_JV_DICT:
        if (a->u.dict.n != b->u.dict.n)
            return false;
        for (size_t i = 0; i < a->u.dict.n; i++) {
            const struct hr_jval *o =
                hr_jv__dict_get(b, a->u.dict.items[i].key, a->u.dict.items[i].klen);
            if (!o || !hr_jv__equal(a->u.dict.items[i].val, o))
                return false;
        }
        return true;
    case HR_JV_NONE:
    case HR_JV_UNDEFINED:
        return true;
    default:
        return a == b;
    }
}

void hr_sb__put(struct sbuf *b, const char *s, size_t n)
{
    if (b->overflow || n == 0)
        return;
    if (n > b->max - b->n) {
        b->overflow = true;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->overflow = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(struct sbuf *b, const char *s)
{
    hr_sb__put(b, s, strlen(s));
}

/* Python's float repr: the shortest digits that read back to the same double. */
static void put_float(struct sbuf *b, double f)
{
    char buf[40];
    if (isnan(f)) {
        puts_(b, "nan");
        return;
    }
    if (isinf(f)) {
        puts_(b, f < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, f);
        if (strtod(buf, NULL) == f)
            break;
    }
    /* Python writes 1e16 as 1e+16 (same as %g) but 1.0 with ".0" */
    if (!strpbrk(buf, ".eni"))
        strncat(buf, ".0", sizeof buf - strlen(buf) - 1);
    puts_(b, buf);
}

void hr_jv__print(struct sbuf *b, const struct hr_jval *v)
{
    char buf[32];
    switch (v->kind) {
    case HR_JV_UNDEFINED:
        return;
    case HR_JV_NONE:
        puts_(b, "None");
        return;
    case HR_JV_BOOL:
        puts_(b, v->u.b ? "True" : "False");
        return;
    case HR_JV_INT:
        snprintf(buf, sizeof buf, "%" PRId64, v->u.i);
        puts_(b, buf);
        return;
    case HR_JV_FLOAT:
        put_float(b, v->u.f);
        return;
    case HR_JV_STR:
        hr_sb__put(b, v->u.s.p, v->u.s.n);
        return;
    case HR_JV_NAMESPACE:
        puts_(b, "<Namespace>");
        return;
    case HR_JV_MACRO:
        puts_(b, "<Macro>");
        return;
    default:
        hr_jv__repr(b, v);
        return;
    }
}

static void repr_str(struct sbuf *b, const char *s, size_t n)
{
    bool dq = memchr(s, '\'', n) && !memchr(s, '"', n);
    char q = dq ? '"' : '\'';
    hr_sb__put(b, &q, 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == q || c == '\\') {
            hr_sb__put(b, "\\", 1);
            hr_sb__put(b, &c, 1);
        } else if (c == '\n') {
            puts_(b, "\\n");
        } else if (c == '\t') {
            puts_(b, "\\t");
        } else if (c == '\r') {
            puts_(b, "\\r");
        } else if ((unsigned char)c < 0x20 || c == 0x7F) {
            char e[8];
            snprintf(e, sizeof e, "\\x%02x", (unsigned char)c);
            puts_(b, e);
        } else {
            hr_sb__put(b, &c, 1);
        }
    }
    hr_sb__put(b, &q, 1);
}

void hr_jv__repr(struct sbuf *b, const struct hr_jval *v)
{
    switch (v->kind) {
    case HR_JV_STR:
        repr_str(b, v->u.s.p, v->u.s.n);
        return;
    case HR_JV_LIST:
        puts_(b, "[");
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i)
                puts_(b, ", ");
            hr_jv__repr(b, v->u.list.items[i]);
        }
        puts_(b, "]");
        return;
    case HR_JV_DICT:
        puts_(b, "{");
        for (size_t i = 0; i < v->u.dict.n; i++) {
            if (i)
                puts_(b, ", ");
            repr_str(b, v->u.dict.items[i].key, v->u.dict.items[i].klen);
            puts_(b, ": ");
            hr_jv__repr(b, v->u.dict.items[i].val);
        }
        puts_(b, "}");
        return;
    default:
        hr_jv__print(b, v);
        return;
    }
}

static void json_str(struct sbuf *b, const char *s, size_t n)
{
    puts_(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            puts_(b, "\\\"");
            break;
        case '\\':
            puts_(b, "\\\\");
            break;
        case '\n':
            puts_(b, "\\n");
            break;
        case '\r':
            puts_(b, "\\r");
            break;
        case '\t':
            puts_(b, "\\t");
            break;
        case '\b':
            puts_(b, "\\b");
            break;
        case '\f':
            puts_(b, "\\f");
            break;
        default:
            if (c < 0x20 || c == 0x7F) {
                char e[8];
                snprintf(e, sizeof e, "\\u%04x", c);
                puts_(b, e);
            } else {
                hr_sb__put(b, (const char *)&s[i], 1);
            }
        }
    }
    puts_(b, "\"");
}

static void newline_indent(struct sbuf *b, int indent, int level)
{
    puts_(b, "\n");
    for (int i = 0; i < indent * level; i++)
        puts_(b, " ");
}

void hr_jv__json(struct sbuf *b, const struct hr_jval *v, int indent, int level)
{
    switch (v->kind) {
    case HR_JV_STR:
        json_str(b, v->u.s.p, v->u.s.n);
        return;
    case HR_JV_BOOL:
        puts_(b, v->u.b ? "true" : "false");
        return;
    case HR_JV_NONE:
    case HR_JV_UNDEFINED:
        puts_(b, "null");
        return;
    case HR_JV_INT:
    case HR_JV_FLOAT:
        hr_jv__print(b, v);
        return;
    case HR_JV_LIST:
        if (v->u.list.n == 0) {
            puts_(b, "[]");
            return;
        }
        puts_(b, "[");
        for (size_t i = 0; i < v->u.list.n; i++) {
            if (i)
                puts_(b, indent >= 0 ? "," : ", ");
            if (indent >= 0)
                newline_indent(b, indent, level + 1);
            hr_jv__json(b, v->u.list.items[i], indent, level + 1);
        }
        if (indent >= 0)
            newline_indent(b, indent, level);
        puts_(b, "]");
        return;
    case HR_JV_DICT:
    case HR_JV_NAMESPACE:
        if (v->u.dict.n == 0) {
            puts_(b, "{}");
            return;
        }
        puts_(b, "{");
        for (size_t i = 0; i < v->u.dict.n; i++) {
            if (i)
                puts_(b, indent >= 0 ? "," : ", ");
            if (indent >= 0)
                newline_indent(b, indent, level + 1);
            json_str(b, v->u.dict.items[i].key, v->u.dict.items[i].klen);
            puts_(b, ": ");
            hr_jv__json(b, v->u.dict.items[i].val, indent, level + 1);
        }
        if (indent >= 0)
            newline_indent(b, indent, level);
        puts_(b, "}");
        return;
    default:
        puts_(b, "null");
        return;
    }
}

const char *hr_jv__kind_name(const struct hr_jval *v)
{
    static const char *names[] = {"undefined", "none",  "bool",      "int",  "float",
                                  "string",    "list",  "dict",      "namespace", "macro"};
    return v->kind < sizeof names / sizeof names[0] ? names[v->kind] : "value";
}

size_t hr_utf8__count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}
