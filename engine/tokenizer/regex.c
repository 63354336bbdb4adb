/* The pre-tokenizer regex engine (see regex.h): a recursive-descent parser into a node array
 * and a continuation-passing backtracking matcher. Patterns come from our own table, but the
 * subject text is hostile: matching recursion is bounded by the pattern's nesting (single
 * character repetitions loop), never by the text's length. Any thread. */
#include "regex.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "unicode.h"

enum kind { K_CLASS, K_SEQ, K_ALT, K_REP, K_NOTAHEAD, K_END, K_EMPTY };

#define MAX_NODES 512
#define MAX_ITEMS 1024
#define MAX_KIDS 64

struct item {
    uint8_t kind; /* 0 range, 1 category mask, 2 whitespace, 3 non-whitespace */
    uint32_t lo, hi;
};

struct node {
    uint8_t kind;
    bool negate;  /* K_CLASS */
    bool ci;      /* K_CLASS: ASCII case-insensitive */
    uint16_t n_items, first_item;
    uint16_t n_kids;
    uint16_t kids[MAX_KIDS]; /* K_SEQ, K_ALT; K_REP/K_NOTAHEAD use kids[0] */
    uint32_t min, max;       /* K_REP */
};

struct hr_regex {
    struct node nodes[MAX_NODES];
    struct item items[MAX_ITEMS];
    int n_nodes, n_items, root;
};

struct parser {
    struct hr_regex *re;
    const char *p, *end;
    bool ci;
    const char *err;
};

static int new_node(struct parser *ps, uint8_t kind)
{
    if (ps->re->n_nodes >= MAX_NODES) {
        ps->err = "pattern too large";
        return -1;
    }
    int i = ps->re->n_nodes++;
    memset(&ps->re->nodes[i], 0, sizeof ps->re->nodes[i]);
    ps->re->nodes[i].kind = kind;
    return i;
}

static bool add_item(struct parser *ps, struct node *n, uint8_t kind, uint32_t lo, uint32_t hi)
{
    if (ps->re->n_items >= MAX_ITEMS) {
        ps->err = "pattern too large";
        return false;
    }
    if (n->n_items == 0)
        n->first_item = (uint16_t)ps->re->n_items;
    ps->re->items[ps->re->n_items++] = (struct item){kind, lo, hi};
    n->n_items++;
    return true;
}

static uint32_t next_cp(struct parser *ps)
{
    size_t len;
    uint32_t cp = hr_utf8_decode(ps->p, (size_t)(ps->end - ps->p), &len);
    ps->p += len;
    return cp;
}

static uint32_t cat_mask(const char *name, size_t n)
{
    static const struct {
        const char *name;
        uint32_t mask;
    } cats[] = {
        {"L", 1u << HR_UC_LU | 1u << HR_UC_LL | 1u << HR_UC_LT | 1u << HR_UC_LM | 1u << HR_UC_LO},
        {"N", 1u << HR_UC_ND | 1u << HR_UC_NL | 1u << HR_UC_NO},
        {"P", 1u << HR_UC_PC | 1u << HR_UC_PD | 1u << HR_UC_PS | 1u << HR_UC_PE |
                  1u << HR_UC_PI | 1u << HR_UC_PF | 1u << HR_UC_PO},
        {"M", 1u << HR_UC_MN | 1u << HR_UC_MC | 1u << HR_UC_ME},
        {"Lu", 1u << HR_UC_LU}, {"Ll", 1u << HR_UC_LL}, {"Lt", 1u << HR_UC_LT},
        {"Lm", 1u << HR_UC_LM}, {"Lo", 1u << HR_UC_LO},
    };
    for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++)
        if (strlen(cats[i].name) == n && memcmp(cats[i].name, name, n) == 0)
            return cats[i].mask;
    return 0;
}

/* An escape after '\' inside or outside a class: adds its item(s) to n. */
static bool parse_escape(struct parser *ps, struct node *n)
{
    if (ps->p >= ps->end) {
        ps->err = "dangling backslash";
        return false;
    }
    char c = *ps->p++;
    switch (c) {
    case 's':
        return add_item(ps, n, 2, 0, 0);
    case 'S':
        return add_item(ps, n, 3, 0, 0);
    case 'd':
        return add_item(ps, n, 0, '0', '9');
    case 'r':
        return add_item(ps, n, 0, '\r', '\r');
    case 'n':
        return add_item(ps, n, 0, '\n', '\n');
    case 't':
        return add_item(ps, n, 0, '\t', '\t');
    case 'p': {
        const char *close = ps->p < ps->end && *ps->p == '{' ? memchr(ps->p, '}', (size_t)(ps->end - ps->p)) : NULL;
        uint32_t mask = close ? cat_mask(ps->p + 1, (size_t)(close - ps->p - 1)) : 0;
        if (!mask) {
            ps->err = "unknown \\p{} category";
            return false;
        }
        ps->p = close + 1;
        return add_item(ps, n, 1, mask, 0);
    }
    default:
        return add_item(ps, n, 0, (uint8_t)c, (uint8_t)c);
    }
}

static int parse_alt(struct parser *ps);

static int parse_class(struct parser *ps)
{
    int id = new_node(ps, K_CLASS);
    if (id < 0)
        return -1;
    struct node *n = &ps->re->nodes[id];
    n->ci = ps->ci;
    if (ps->p < ps->end && *ps->p == '^') {
        n->negate = true;
        ps->p++;
    }
    bool first = true;
    while (ps->p < ps->end && (*ps->p != ']' || first)) {
        first = false;
        if (*ps->p == '\\') {
            ps->p++;
            if (!parse_escape(ps, n))
                return -1;
            continue;
        }
        uint32_t lo = next_cp(ps), hi = lo;
        if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
            ps->p++;
            hi = next_cp(ps);
        }
        if (!add_item(ps, n, 0, lo, hi))
            return -1;
    }
    if (ps->p >= ps->end) {
        ps->err = "unterminated class";
        return -1;
    }
    ps->p++;
    return id;
}

static int parse_atom(struct parser *ps)
{
    char c = *ps->p;
    if (c == '(') {
        ps->p++;
        bool saved = ps->ci;
        uint8_t wrap = K_EMPTY;
        if (ps->end - ps->p >= 2 && ps->p[0] == '?' && ps->p[1] == ':') {
            ps->p += 2;
        } else if (ps->end - ps->p >= 3 && memcmp(ps->p, "?i:", 3) == 0) {
            ps->p += 3;
            ps->ci = true;
        } else if (ps->end - ps->p >= 2 && ps->p[0] == '?' && ps->p[1] == '!') {
            ps->p += 2;
            wrap = K_NOTAHEAD;
        }
        int inner = parse_alt(ps);
        ps->ci = saved;
        if (inner < 0)
            return -1;
        if (ps->p >= ps->end || *ps->p != ')') {
            ps->err = "unbalanced parenthesis";
            return -1;
        }
        ps->p++;
        if (wrap == K_NOTAHEAD) {
            int id = new_node(ps, K_NOTAHEAD);
            if (id >= 0) {
                ps->re->nodes[id].kids[0] = (uint16_t)inner;
                ps->re->nodes[id].n_kids = 1;
            }
            return id;
        }
        return inner;
    }
    if (c == '[') {
        ps->p++;
        return parse_class(ps);
    }
    if (c == '$') {
        ps->p++;
        return new_node(ps, K_END);
    }
    int id = new_node(ps, K_CLASS);
    if (id < 0)
        return -1;
    struct node *n = &ps->re->nodes[id];
    n->ci = ps->ci;
    if (c == '.') {
        ps->p++;
        n->negate = true;
        return add_item(ps, n, 0, '\n', '\n') ? id : -1;
    }
    if (c == '\\') {
        ps->p++;
        return parse_escape(ps, n) ? id : -1;
    }
    uint32_t cp = next_cp(ps);
    return add_item(ps, n, 0, cp, cp) ? id : -1;
}

static bool parse_uint(struct parser *ps, uint32_t *v)
{
    const char *start = ps->p;
    *v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9' && *v < 100000)
        *v = *v * 10 + (uint32_t)(*ps->p++ - '0');
    return ps->p > start;
}

static int parse_seq(struct parser *ps)
{
    int seq = new_node(ps, K_SEQ);
    if (seq < 0)
        return -1;
    while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
        int atom = parse_atom(ps);
        if (atom < 0)
            return -1;
        if (ps->p < ps->end && strchr("?*+{", *ps->p)) {
            uint32_t min = 0, max = UINT32_MAX;
            char q = *ps->p++;
            if (q == '?')
                max = 1;
            else if (q == '+')
                min = 1;
            else if (q == '{') {
                if (!parse_uint(ps, &min)) {
                    ps->err = "bad {m,n}";
                    return -1;
                }
                max = min;
                if (ps->p < ps->end && *ps->p == ',') {
                    ps->p++;
                    if (!parse_uint(ps, &max))
                        max = UINT32_MAX;
                }
                if (ps->p >= ps->end || *ps->p != '}' || max < min) {
                    ps->err = "bad {m,n}";
                    return -1;
                }
                ps->p++;
            }
            int rep = new_node(ps, K_REP);
            if (rep < 0)
                return -1;
            ps->re->nodes[rep].kids[0] = (uint16_t)atom;
            ps->re->nodes[rep].n_kids = 1;
            ps->re->nodes[rep].min = min;
            ps->re->nodes[rep].max = max;
            atom = rep;
        }
        struct node *s = &ps->re->nodes[seq];
        if (s->n_kids >= MAX_KIDS) {
            ps->err = "sequence too long";
            return -1;
        }
        s->kids[s->n_kids++] = (uint16_t)atom;
    }
    return seq;
}

static int parse_alt(struct parser *ps)
{
    int first = parse_seq(ps);
    if (first < 0 || ps->p >= ps->end || *ps->p != '|')
        return first;
    int alt = new_node(ps, K_ALT);
    if (alt < 0)
        return -1;
    ps->re->nodes[alt].kids[ps->re->nodes[alt].n_kids++] = (uint16_t)first;
    while (ps->p < ps->end && *ps->p == '|') {
        ps->p++;
        int next = parse_seq(ps);
        if (next < 0)
            return -1;
        struct node *a = &ps->re->nodes[alt];
        if (a->n_kids >= MAX_KIDS) {
            ps->err = "too many alternatives";
            return -1;
        }
        a->kids[a->n_kids++] = (uint16_t)next;
    }
    return alt;
}

int hr_regex_compile(struct hr_regex **out, const char *pattern, struct hr_diag *d)
{
    *out = NULL;
    struct hr_regex *re = calloc(1, sizeof *re);
    if (!re)
        return HR_ENOMEM;
    struct parser ps = {re, pattern, pattern + strlen(pattern), false, NULL};
    re->root = parse_alt(&ps);
    if (re->root >= 0 && ps.p != ps.end)
        ps.err = "unbalanced parenthesis";
    if (ps.err || re->root < 0) {
        hr_diag_set(d, "pre-tokenizer pattern: %s at offset %d", ps.err ? ps.err : "error",
                    (int)(ps.p - pattern));
        free(re);
        return HR_EINVAL;
    }
    *out = re;
    return 0;
}

void hr_regex_free(struct hr_regex *re)
{
    free(re);
}

/* ---- matching ---- */

struct subject {
    const struct hr_regex *re;
    const uint32_t *cps;
    size_t end;
};

static bool class_has(const struct hr_regex *re, const struct node *n, uint32_t cp)
{
    bool hit = false;
    for (uint16_t i = 0; i < n->n_items && !hit; i++) {
        const struct item *it = &re->items[n->first_item + i];
        switch (it->kind) {
        case 0:
            hit = cp >= it->lo && cp <= it->hi;
            if (!hit && n->ci && cp < 0x80 && ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'))
                hit = (cp ^ 0x20) >= it->lo && (cp ^ 0x20) <= it->hi;
            break;
        case 1:
            hit = (it->lo >> hr_uc_category(cp)) & 1;
            break;
        case 2:
            hit = hr_uc_is_whitespace(cp);
            break;
        default:
            hit = !hr_uc_is_whitespace(cp);
            break;
        }
    }
    return hit != n->negate;
}

/* What remains to match after the current node: a linked list on the C stack. */
struct cont {
    int node;
    const struct cont *next;
};

static long m(const struct subject *s, int node, size_t pos, const struct cont *k);

static long cont_match(const struct subject *s, const struct cont *k, size_t pos)
{
    if (!k)
        return (long)pos;
    return m(s, k->node, pos, k->next);
}

static long m(const struct subject *s, int id, size_t pos, const struct cont *k)
{
    const struct node *n = &s->re->nodes[id];
    switch (n->kind) {
    case K_CLASS:
        if (pos < s->end && class_has(s->re, n, s->cps[pos]))
            return cont_match(s, k, pos + 1);
        return -1;
    case K_SEQ: {
        if (n->n_kids == 0)
            return cont_match(s, k, pos);
        struct cont c[MAX_KIDS];
        const struct cont *next = k;
        for (int i = n->n_kids - 1; i >= 1; i--) {
            c[i] = (struct cont){n->kids[i], next};
            next = &c[i];
        }
        return m(s, n->kids[0], pos, next);
    }
    case K_ALT:
        for (uint16_t i = 0; i < n->n_kids; i++) {
            long r = m(s, n->kids[i], pos, k);
            if (r >= 0)
                return r;
        }
        return -1;
    case K_REP: {
        const struct node *kid = &s->re->nodes[n->kids[0]];
        if (kid->kind == K_CLASS) {
            /* Greedy over single characters: count, then give back one at a time. */
            size_t count = 0;
            while (count < n->max && pos + count < s->end &&
                   class_has(s->re, kid, s->cps[pos + count]))
                count++;
            for (;;) {
                if (count < n->min)
                    return -1;
                long r = cont_match(s, k, pos + count);
                if (r >= 0 || count == 0)
                    return r;
                count--;
            }
        }
        /* A group repeated at most once ('?'), the only other use in the patterns. */
        if (n->max >= 1) {
            long r = m(s, n->kids[0], pos, k);
            if (r >= 0)
                return r;
        }
        return n->min == 0 ? cont_match(s, k, pos) : -1;
    }
    case K_NOTAHEAD:
        if (m(s, n->kids[0], pos, NULL) >= 0)
            return -1;
        return cont_match(s, k, pos);
    case K_END:
        return pos == s->end ? cont_match(s, k, pos) : -1;
    default:
        return cont_match(s, k, pos);
    }
}

long hr_regex_match_at(const struct hr_regex *re, const uint32_t *cps, size_t pos, size_t end)
{
    struct subject s = {re, cps, end};
    return m(&s, re->root, pos, NULL);
}

static int push(struct hr_span **a, size_t *n, size_t *cap, uint32_t start, uint32_t len)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct hr_span *p = realloc(*a, c * sizeof *p);
        if (!p)
            return HR_ENOMEM;
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = (struct hr_span){start, len};
    return 0;
}

int hr_regex_split(const struct hr_regex *re, const uint32_t *cps, const struct hr_span *in,
                   size_t n_in, struct hr_span **out, size_t *n_out)
{
    struct hr_span *a = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < n_in && !rc; i++) {
        size_t start = in[i].start, end = start + in[i].len, gap = start;
        for (size_t p = start; p < end && !rc;) {
            long e = hr_regex_match_at(re, cps, p, end);
            if (e <= (long)p) {
                p++;
                continue;
            }
            if (p > gap)
                rc = push(&a, &n, &cap, (uint32_t)gap, (uint32_t)(p - gap));
            if (!rc)
                rc = push(&a, &n, &cap, (uint32_t)p, (uint32_t)(e - (long)p));
            p = (size_t)e;
            gap = p;
        }
        if (!rc && gap < end)
            rc = push(&a, &n, &cap, (uint32_t)gap, (uint32_t)(end - gap));
    }
    if (rc) {
        free(a);
        return rc;
    }
    *out = a;
    *n_out = n;
    return 0;
}
