/* The schema reader json_mini.h describes: recursive descent over a cursor that knows its
 * end, nodes and decoded strings bump-allocated from one arena sized by the input (a node per
 * input byte at most), so freeing is one call. Any thread. */
#include "json_mini.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "grammar.h"

struct hr_jm_doc {
    struct hr_jm *root;
    char *arena;
    size_t used, cap;
};

struct rd {
    const char *src, *p, *end;
    struct hr_jm_doc *doc;
    struct hr_diag *d;
    int depth;
};

static int jfail(struct rd *r, const char *what)
{
    uint32_t line = 1, col = 1;
    for (const char *q = r->src; q < r->p; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    hr_diag_set(r->d, "JSON line %u column %u: %s", line, col, what);
    return HR_EINVAL;
}

static void *alloc(struct rd *r, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (r->doc->cap - r->doc->used < n)
        return NULL;
    void *p = r->doc->arena + r->doc->used;
    r->doc->used += n;
    return p;
}

static void ws(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hex4(struct rd *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return jfail(r, "truncated \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = r->p[i];
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0)
            return jfail(r, "bad \\u escape");
        *v = *v * 16 + (uint32_t)h;
    }
    r->p += 4;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at r->p (the opening quote) decoded into the arena. */
static int read_string(struct rd *r, const char **out, size_t *out_n)
{
    r->p++;
    const char *q = r->p;
    while (q < r->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= r->end)
        return jfail(r, "unterminated string");
    char *o = alloc(r, (size_t)(q - r->p) + 1);
    if (!o)
        return HR_ENOMEM;
    size_t n = 0;
    while (*r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c < 0x20)
            return jfail(r, "control character in a string");
        if (c != '\\') {
            o[n++] = (char)c;
            r->p++;
            continue;
        }
        char e = r->p[1];
        r->p += 2;
        uint32_t cp;
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u':
            if (hex4(r, &cp))
                return HR_EINVAL;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
                    return jfail(r, "unpaired surrogate");
                r->p += 2;
                if (hex4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return jfail(r, "unpaired surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return jfail(r, "unpaired surrogate");
            }
            n += put_utf8(o + n, cp); /* 6+ source bytes -> at most 4 */
            break;
        default:
            return jfail(r, "bad escape in a string");
        }
    }
    r->p++;
    o[n] = '\0';
    *out = o;
    *out_n = n;
    return 0;
}

static int read_value(struct rd *r, struct hr_jm *v);

static int read_number(struct rd *r, struct hr_jm *v)
{
    const char *s = r->p;
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return jfail(r, "expected a value");
    if (*r->p == '0')
        r->p++;
    else
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    v->is_int = true;
    if (r->p < r->end && *r->p == '.') {
        v->is_int = false;
        r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return jfail(r, "expected a digit after '.'");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        v->is_int = false;
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return jfail(r, "expected a digit in an exponent");
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    char tmp[64];
    size_t n = (size_t)(r->p - s);
    if (n >= sizeof tmp)
        return jfail(r, "number longer than 63 characters");
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    char *end;
    v->num = strtod(tmp, &end);
    v->kind = HR_JM_NUM;
    v->s = s;
    v->n = n;
    return 0;
}

static int read_container(struct rd *r, struct hr_jm *v, bool obj)
{
    if (++r->depth > HR_GRAMMAR_MAX_NEST)
        return jfail(r, "nested deeper than 64 levels");
    v->kind = obj ? HR_JM_OBJ : HR_JM_ARR;
    r->p++;
    ws(r);
    struct hr_jm **tail = &v->child;
    if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
        r->p++;
        r->depth--;
        return 0;
    }
    for (;;) {
        struct hr_jm *c = alloc(r, sizeof *c);
        if (!c)
            return HR_ENOMEM;
        memset(c, 0, sizeof *c);
        ws(r);
        if (obj) {
            if (r->p >= r->end || *r->p != '"')
                return jfail(r, "expected a string key");
            int rc = read_string(r, &c->key, &c->key_n);
            if (rc)
                return rc;
            for (const struct hr_jm *o = v->child; o; o = o->next)
                if (o->key_n == c->key_n && memcmp(o->key, c->key, c->key_n) == 0)
                    return jfail(r, "duplicate key in an object");
            ws(r);
            if (r->p >= r->end || *r->p != ':')
                return jfail(r, "expected ':'");
            r->p++;
        }
        int rc = read_value(r, c);
        if (rc)
            return rc;
        *tail = c;
        tail = &c->next;
        v->n_children++;
        ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
            r->p++;
            r->depth--;
            return 0;
        }
        return jfail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool word(struct rd *r, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
        return false;
    r->p += n;
    return true;
}

static int read_value(struct rd *r, struct hr_jm *v)
{
    ws(r);
    if (r->p >= r->end)
        return jfail(r, "expected a value");
    switch (*r->p) {
    case '{':
        return read_container(r, v, true);
    case '[':
        return read_container(r, v, false);
    case '"':
        v->kind = HR_JM_STR;
        return read_string(r, &v->s, &v->n);
    default:
        break;
    }
    if (word(r, "true") || word(r, "false")) {
        v->kind = HR_JM_BOOL;
        v->b = r->p[-1] == 'e' && r->p[-2] == 'u';
        return 0;
    }
    if (word(r, "null")) {
        v->kind = HR_JM_NULL;
        return 0;
    }
    return read_number(r, v);
}

int hr_grammar__json_parse(struct hr_jm_doc **doc, const char *text, size_t n, struct hr_diag *d)
{
    *doc = NULL;
    if (n > HR_GRAMMAR_MAX_SOURCE) {
        hr_diag_set(d, "schema longer than %u bytes", HR_GRAMMAR_MAX_SOURCE);
        return HR_EINVAL;
    }
    struct hr_jm_doc *dc = calloc(1, sizeof *dc);
    /* each node needs >= 1 input byte, each string's decoding <= its source */
    size_t cap = (n + 1) * (sizeof(struct hr_jm) + 16) + n + 64;
    if (!dc || !(dc->arena = malloc(cap))) {
        free(dc);
        return HR_ENOMEM;
    }
    dc->cap = cap;
    struct rd r = {text, text, text + n, dc, d, 0};
    dc->root = alloc(&r, sizeof *dc->root);
    memset(dc->root, 0, sizeof *dc->root);
    int rc = read_value(&r, dc->root);
    if (rc == 0) {
        ws(&r);
        if (r.p != r.end)
            rc = jfail(&r, "unexpected text after the value");
    }
    if (rc) {
        if (rc == HR_ENOMEM)
            hr_diag_set(d, "out of memory reading the schema");
        hr_grammar__json_free(dc);
        return rc;
    }
    *doc = dc;
    return 0;
}

const struct hr_jm *hr_grammar__json_root(const struct hr_jm_doc *doc)
{
    return doc->root;
}

void hr_grammar__json_free(struct hr_jm_doc *doc)
{
    if (!doc)
        return;
    free(doc->arena);
    free(doc);
}

const struct hr_jm *hr_grammar__json_get(const struct hr_jm *obj, const char *key)
{
    if (!obj || obj->kind != HR_JM_OBJ)
        return NULL;
    size_t n = strlen(key);
    for (const struct hr_jm *c = obj->child; c; c = c->next)
        if (c->key_n == n && memcmp(c->key, key, n) == 0)
            return c;
    return NULL;
}
