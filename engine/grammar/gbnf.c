/* GBNF, llama.cpp's grammar syntax, parsed into the builder (gbnf_build.c):
 *
 *   grammar  := (rule | comment | blank line)*        rule := name "::=" alts
 *   alts     := seq ("|" seq)*                         seq  := (item postfix?)*
 *   item     := "literal" | [class] | [^class] | . | name | "(" alts ")"
 *   postfix  := * | + | ? | {m} | {m,} | {m,n}
 *
 * A rule ends at a newline outside parentheses; newlines may follow "::=", "|" and "(".
 * Repetitions become generated rules (x* as r ::= x r | "", so the automaton's stack stays
 * flat), literals and classes UTF-8 byte symbols. Every error names line, column and the
 * construct. The source is untrusted: sizes, nesting and repetition counts are capped. Any
 * thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "grammar_int.h"

#define NAME_HASH (HR_GRAMMAR_MAX_RULES * 2)
#define MAX_CLASS_RANGES 4096

struct parser {
    struct hr_gbuild b;
    const char *src, *p, *end;
    int32_t *names; /* open addressing: rule id + 1, 0 empty */
    uint32_t cur;   /* the named rule being defined, for generated rules' messages */
    int depth;
    uint32_t *lo, *hi; /* class scratch */
};

static void where(const struct parser *ps, const char *at, uint32_t *line, uint32_t *col)
{
    hr_grammar__where(&ps->b, (size_t)(at - ps->src), line, col);
}

static int fail(struct parser *ps, const char *at, const char *what)
{
    uint32_t line, col;
    where(ps, at, &line, &col);
    if (at >= ps->end)
        hr_diag_set(ps->b.d, "line %u column %u: %s, got the end of the grammar", line, col,
                    what);
    else if ((unsigned char)*at >= 0x20 && (unsigned char)*at < 0x7F)
        hr_diag_set(ps->b.d, "line %u column %u: %s, got '%c'", line, col, what, *at);
    else
        hr_diag_set(ps->b.d, "line %u column %u: %s, got byte 0x%02X", line, col, what,
                    (unsigned char)*at);
    return HR_EINVAL;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Spaces, tabs and comments; newlines too when nested (inside a rule's continuation). */
static void skip_space(struct parser *ps, bool newline_ok)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
        } else {
            return;
        }
    }
}

static uint32_t hash_name(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* The rule called s[0..n), created (undefined) on first mention. */
static int rule_named(struct parser *ps, const char *s, size_t n, uint32_t *id)
{
    uint32_t h = hash_name(s, n) % NAME_HASH;
    for (;;) {
        int32_t v = ps->names[h];
        if (v == 0)
            break;
        const struct hr_grule *r = &ps->b.rules[v - 1];
        if (r->name_len == n && memcmp(r->name, s, n) == 0) {
            *id = (uint32_t)(v - 1);
            return 0;
        }
        h = (h + 1) % NAME_HASH;
    }
    int rc = hr_grammar__new_rule(&ps->b, id);
    if (rc)
        return rc;
    struct hr_grule *r = &ps->b.rules[*id];
    r->name = s;
    r->name_len = n;
    r->off = (size_t)(s - ps->src);
    ps->names[h] = (int32_t)*id + 1;
    return 0;
}

static int gen_rule(struct parser *ps, const char *at, uint32_t *id)
{
    int rc = hr_grammar__new_rule(&ps->b, id);
    if (rc)
        return rc;
    struct hr_grule *r = &ps->b.rules[*id];
    const struct hr_grule *owner = &ps->b.rules[ps->cur];
    r->owner = owner->name;
    r->owner_len = owner->name_len;
    r->defined = true;
    r->off = (size_t)(at - ps->src);
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One character of a literal or class: an escape or a UTF-8 encoded code point. */
static int parse_char(struct parser *ps, uint32_t *cp)
{
    const char *at = ps->p;
    const unsigned char *u = (const unsigned char *)ps->p;
    size_t left = (size_t)(ps->end - ps->p);
    if (left == 0)
        return fail(ps, at, "unterminated literal or class");
    if (u[0] == '\\') {
        if (left < 2)
            return fail(ps, at + 1, "expected an escape");
        int digits = 0;
        switch (u[1]) {
        case 'n': *cp = '\n'; break;
        case 'r': *cp = '\r'; break;
        case 't': *cp = '\t'; break;
        case '\\': case '"': case '[': case ']': case '-': case '^': case '/': case '\'':
            *cp = u[1];
            break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            return fail(ps, at + 1, "unknown escape");
        }
        ps->p += 2;
        if (digits) {
            uint32_t v = 0;
            for (int i = 0; i < digits; i++) {
                int h = ps->p < ps->end ? hexval(*ps->p) : -1;
                if (h < 0)
                    return fail(ps, ps->p, "expected a hexadecimal digit in an escape");
                v = v * 16 + (uint32_t)h;
                ps->p++;
            }
            if (v > 0x10FFFF)
                return fail(ps, at, "escape beyond U+10FFFF");
            *cp = v;
        }
        return 0;
    }
    int n = u[0] < 0x80 ? 1 : (u[0] & 0xE0) == 0xC0 ? 2 : (u[0] & 0xF0) == 0xE0 ? 3
                                                      : (u[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (size_t)n > left)
        return fail(ps, at, "invalid UTF-8");
    uint32_t v = n == 1 ? u[0] : u[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return fail(ps, at, "invalid UTF-8");
        v = (v << 6) | (u[i] & 0x3F);
    }
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return fail(ps, at, "invalid UTF-8");
    *cp = v;
    ps->p += n;
    return 0;
}

static int add(struct parser *ps, uint32_t rule, uint32_t alt, uint32_t sym)
{
    return hr_grammar__add_sym(&ps->b, rule, alt, sym);
}

static int parse_literal(struct parser *ps, uint32_t rule, uint32_t alt)
{
    const char *at = ps->p++;
    while (ps->p < ps->end && *ps->p != '"') {
        uint32_t cp;
        int rc = parse_char(ps, &cp);
        if (rc)
            return rc;
        uint8_t enc[4];
        int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n == 1) {
            enc[0] = (uint8_t)cp;
        } else {
            uint32_t v = cp;
            for (int i = n - 1; i > 0; i--) {
                enc[i] = (uint8_t)(0x80 | (v & 0x3F));
                v >>= 6;
            }
            enc[0] = (uint8_t)((0xF00u >> n) | v);
        }
        for (int i = 0; i < n; i++) {
            uint32_t sym;
            if ((rc = hr_grammar__byte_sym(&ps->b, enc[i], &sym)) != 0 ||
                (rc = add(ps, rule, alt, sym)) != 0)
                return rc;
        }
    }
    if (ps->p >= ps->end)
        return fail(ps, at, "unterminated string literal");
    ps->p++;
    return 0;
}

static int cmp_u32pair(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* [...] or [^...] to one symbol matching one code point. */
static int parse_class(struct parser *ps, uint32_t rule, uint32_t alt)
{
    const char *at = ps->p++;
    bool negated = ps->p < ps->end && *ps->p == '^';
    if (negated)
        ps->p++;
    uint32_t (*r)[2] = (uint32_t(*)[2])ps->lo;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != ']') {
        uint32_t a, z;
        int rc = parse_char(ps, &a);
        if (rc)
            return rc;
        z = a;
        if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
            ps->p++;
            const char *rat = ps->p;
            if ((rc = parse_char(ps, &z)) != 0)
                return rc;
            if (z < a)
                return fail(ps, rat, "character range out of order");
        }
        if (n >= MAX_CLASS_RANGES)
            return fail(ps, at, "character class has too many ranges");
        r[n][0] = a;
        r[n][1] = z;
        n++;
    }
    if (ps->p >= ps->end)
        return fail(ps, at, "unterminated character class");
    ps->p++;
    qsort(r, n, sizeof r[0], cmp_u32pair);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && r[i][0] <= r[m - 1][1] + 1) {
            if (r[i][1] > r[m - 1][1])
                r[m - 1][1] = r[i][1];
        } else {
            r[m][0] = r[i][0];
            r[m][1] = r[i][1];
            m++;
        }
    }
    uint32_t *lo = ps->hi, *hi = ps->hi + MAX_CLASS_RANGES + 1;
    size_t k = 0;
    if (negated) {
        uint32_t next = 0;
        for (size_t i = 0; i < m; i++) {
            if (r[i][0] > next) {
                lo[k] = next;
                hi[k++] = r[i][0] - 1;
            }
            next = r[i][1] + 1;
        }
        if (next <= 0x10FFFF) {
            lo[k] = next;
            hi[k++] = 0x10FFFF;
        }
    } else {
        for (size_t i = 0; i < m; i++) {
            lo[k] = r[i][0];
            hi[k++] = r[i][1];
        }
    }
    uint32_t sym;
    int rc = hr_grammar__class_sym(&ps->b, lo, hi, k, ps->cur, &sym);
    return rc ? rc : add(ps, rule, alt, sym);
}

static int parse_alternates(struct parser *ps, uint32_t rule, bool nested);

static int parse_uint(struct parser *ps, uint32_t *v)
{
    const char *at = ps->p;
    uint64_t x = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        x = x * 10 + (uint64_t)(*ps->p - '0');
        if (x > HR_GRAMMAR_MAX_REPEAT)
            return fail(ps, at, "repetition count above " "1000");
        ps->p++;
    }
    if (ps->p == at)
        return fail(ps, at, "expected a number in a repetition");
    *v = (uint32_t)x;
    return 0;
}

/* Replaces the last item of the alternative, syms [from, n), by its repetition min..max
 * (max UINT32_MAX: unbounded). */
static int repeat(struct parser *ps, uint32_t rule, uint32_t alt, uint32_t from, uint32_t min,
                  uint32_t max, const char *at)
{
    struct hr_galt *a = &ps->b.rules[rule].alts[alt];
    uint32_t x;
    int rc;
    if (a->n - from == 1) {
        x = a->s[from];
    } else {
        /* several symbols (a literal): wrap them in a rule of their own */
        uint32_t r, ra;
        if ((rc = gen_rule(ps, at, &r)) != 0 || (rc = hr_grammar__new_alt(&ps->b, r, &ra)) != 0)
            return rc;
        a = &ps->b.rules[rule].alts[alt];
        for (uint32_t k = from; k < a->n; k++)
            if ((rc = add(ps, r, ra, ps->b.rules[rule].alts[alt].s[k])) != 0)
                return rc;
        a = &ps->b.rules[rule].alts[alt];
        x = SYM_MAKE(SYM_REF, r);
    }
    a->n = from;
    for (uint32_t i = 0; i < min; i++)
        if ((rc = add(ps, rule, alt, x)) != 0)
            return rc;
    if (max == min)
        return 0;
    /* tail: x* as  t ::= x t | ""   or  x{0,k} as  t_k ::= x t_{k-1} | "" */
    uint32_t prev = 0;
    bool have_prev = false;
    uint32_t steps = max == UINT32_MAX ? 1 : max - min;
    for (uint32_t i = 0; i < steps; i++) {
        uint32_t t, a1, a2;
        if ((rc = gen_rule(ps, at, &t)) != 0 || (rc = hr_grammar__new_alt(&ps->b, t, &a1)) != 0 ||
            (rc = add(ps, t, a1, x)) != 0)
            return rc;
        if (max == UINT32_MAX)
            rc = add(ps, t, a1, SYM_MAKE(SYM_REF, t));
        else if (have_prev)
            rc = add(ps, t, a1, SYM_MAKE(SYM_REF, prev));
        if (rc || (rc = hr_grammar__new_alt(&ps->b, t, &a2)) != 0)
            return rc;
        prev = t;
        have_prev = true;
    }
    return add(ps, rule, alt, SYM_MAKE(SYM_REF, prev));
}

static int parse_postfix(struct parser *ps, uint32_t rule, uint32_t alt, uint32_t from)
{
    const char *at = ps->p;
    uint32_t min = 0, max = 0;
    char c = *ps->p;
    if (c == '*' || c == '+' || c == '?') {
        ps->p++;
        min = c == '+';
        max = c == '?' ? 1 : UINT32_MAX;
    } else {
        ps->p++;
        skip_space(ps, true);
        int rc = parse_uint(ps, &min);
        if (rc)
            return rc;
        skip_space(ps, true);
        max = min;
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_space(ps, true);
            max = UINT32_MAX;
            if (ps->p < ps->end && *ps->p != '}') {
                if ((rc = parse_uint(ps, &max)) != 0)
                    return rc;
                skip_space(ps, true);
                if (max < min)
                    return fail(ps, at, "repetition {m,n} with n < m");
            }
        }
        if (ps->p >= ps->end || *ps->p != '}')
            return fail(ps, ps->p, "expected '}' closing a repetition");
        ps->p++;
    }
    return repeat(ps, rule, alt, from, min, max, at);
}

static int parse_sequence(struct parser *ps, uint32_t rule, uint32_t alt, bool nested)
{
    for (;;) {
        skip_space(ps, nested);
        if (ps->p >= ps->end)
            return 0;
        const char *at = ps->p;
        uint32_t from = ps->b.rules[rule].alts[alt].n;
        char c = *ps->p;
        int rc;
        if (c == '"') {
            rc = parse_literal(ps, rule, alt);
        } else if (c == '[') {
            rc = parse_class(ps, rule, alt);
        } else if (c == '.') {
            ps->p++;
            uint32_t lo = 0, hi = 0x10FFFF, sym;
            rc = hr_grammar__class_sym(&ps->b, &lo, &hi, 1, ps->cur, &sym);
            if (rc == 0)
                rc = add(ps, rule, alt, sym);
        } else if (c == '(') {
            if (++ps->depth > HR_GRAMMAR_MAX_NEST)
                return fail(ps, at, "groups nested deeper than 64");
            ps->p++;
            uint32_t g;
            rc = gen_rule(ps, at, &g);
            if (rc == 0)
                rc = parse_alternates(ps, g, true);
            if (rc)
                return rc;
            if (ps->p >= ps->end || *ps->p != ')')
                return fail(ps, ps->p, "expected ')' closing the group opened at this line");
            ps->p++;
            ps->depth--;
            rc = add(ps, rule, alt, SYM_MAKE(SYM_REF, g));
        } else if (is_name_char(c)) {
            const char *s = ps->p;
            while (ps->p < ps->end && is_name_char(*ps->p))
                ps->p++;
            uint32_t id;
            rc = rule_named(ps, s, (size_t)(ps->p - s), &id);
            if (rc == 0)
                rc = add(ps, rule, alt, SYM_MAKE(SYM_REF, id));
        } else {
            return 0; /* '|', ')', a newline or junk: the caller decides */
        }
        if (rc)
            return rc;
        if (ps->p < ps->end && (*ps->p == '*' || *ps->p == '+' || *ps->p == '?' ||
                                *ps->p == '{')) {
            if ((rc = parse_postfix(ps, rule, alt, from)) != 0)
                return rc;
        }
    }
}

static int parse_alternates(struct parser *ps, uint32_t rule, bool nested)
{
    for (;;) {
        uint32_t alt;
        int rc = hr_grammar__new_alt(&ps->b, rule, &alt);
        if (rc == 0)
            rc = parse_sequence(ps, rule, alt, nested);
        if (rc)
            return rc;
        skip_space(ps, nested);
        if (ps->p >= ps->end || *ps->p != '|')
            return 0;
        ps->p++;
        skip_space(ps, true);
    }
}

static int parse_rule(struct parser *ps)
{
    const char *s = ps->p;
    while (ps->p < ps->end && is_name_char(*ps->p))
        ps->p++;
    if (ps->p == s)
        return fail(ps, s, "expected a rule name");
    uint32_t id;
    int rc = rule_named(ps, s, (size_t)(ps->p - s), &id);
    if (rc)
        return rc;
    struct hr_grule *r = &ps->b.rules[id];
    if (r->defined) {
        uint32_t line, col;
        where(ps, s, &line, &col);
        hr_diag_set(ps->b.d, "line %u column %u: rule '%.*s' is defined twice", line, col,
                    (int)r->name_len, r->name);
        return HR_EINVAL;
    }
    r->defined = true;
    r->name = s; /* the definition's position names it in messages */
    r->off = (size_t)(s - ps->src);
    ps->cur = id;
    skip_space(ps, false);
    if (ps->end - ps->p < 3 || memcmp(ps->p, "::=", 3) != 0)
        return fail(ps, ps->p, "expected '::=' after the rule name");
    ps->p += 3;
    skip_space(ps, true);
    if ((rc = parse_alternates(ps, id, false)) != 0)
        return rc;
    if (ps->p < ps->end && *ps->p == '\r')
        ps->p++;
    if (ps->p < ps->end && *ps->p != '\n')
        return fail(ps, ps->p, "expected the end of the rule (a newline)");
    return 0;
}

int hr_grammar_parse(struct hr_grammar **out, const char *src, size_t n, struct hr_diag *d)
{
    *out = NULL;
    if (n > HR_GRAMMAR_MAX_SOURCE) {
        hr_diag_set(d, "grammar longer than %u bytes", HR_GRAMMAR_MAX_SOURCE);
        return HR_EINVAL;
    }
    struct parser ps = {.src = src, .p = src, .end = src + n};
    ps.b.d = d;
    ps.b.src = src;
    memset(ps.b.single, 0xFF, sizeof ps.b.single);
    ps.names = calloc(NAME_HASH, sizeof *ps.names);
    ps.lo = malloc(2 * MAX_CLASS_RANGES * sizeof *ps.lo);
    ps.hi = malloc(2 * (MAX_CLASS_RANGES + 1) * sizeof *ps.hi);
    int rc = ps.names && ps.lo && ps.hi ? 0 : HR_ENOMEM;
    for (;;) {
        if (rc)
            break;
        skip_space(&ps, true);
        if (ps.p >= ps.end)
            break;
        rc = parse_rule(&ps);
    }
    if (rc == 0)
        rc = hr_grammar__finish(&ps.b, out);
    if (rc && d && !d->msg[0])
        hr_diag_set(d, "%s", hr_err_str(rc));
    hr_grammar__build_free(&ps.b);
    free(ps.names);
    free(ps.lo);
    free(ps.hi);
    return rc;
}
