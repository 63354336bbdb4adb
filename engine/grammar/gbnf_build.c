/* The grammar builder behind the GBNF parser: rules, alternatives and byte sets grown within
 * the caps; character classes turned into UTF-8 byte sequences; and the checks a grammar must
 * pass before it runs (every rule defined, a root, no left recursion — which would make the
 * automaton expand forever), then the flat layout grammar_int.h draws. Any thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "grammar_int.h"

int hr_grammar__grow(void **p, uint32_t *cap, uint32_t need, size_t elem, uint32_t first)
{
    if (need <= *cap)
        return 0;
    uint32_t nc = *cap ? *cap * 2 : first;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return HR_ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

int hr_grammar__new_rule(struct hr_gbuild *b, uint32_t *id)
{
    if (b->n_rules >= HR_GRAMMAR_MAX_RULES) {
        hr_diag_set(b->d, "grammar has more than %d rules (repetitions included)",
                    HR_GRAMMAR_MAX_RULES);
        return HR_EINVAL;
    }
    if (hr_grammar__grow((void **)&b->rules, &b->cap_rules, b->n_rules + 1, sizeof *b->rules, 4))
        return HR_ENOMEM;
    memset(&b->rules[b->n_rules], 0, sizeof b->rules[0]);
    *id = b->n_rules++;
    return 0;
}

int hr_grammar__new_alt(struct hr_gbuild *b, uint32_t rule, uint32_t *alt)
{
    struct hr_grule *r = &b->rules[rule];
    if (hr_grammar__grow((void **)&r->alts, &r->cap_alts, r->n_alts + 1, sizeof *r->alts, 4))
        return HR_ENOMEM;
    memset(&r->alts[r->n_alts], 0, sizeof r->alts[0]);
    *alt = r->n_alts++;
    return 0;
}

int hr_grammar__add_sym(struct hr_gbuild *b, uint32_t rule, uint32_t alt, uint32_t sym)
{
    if (++b->n_syms > HR_GRAMMAR_MAX_SYMS) {
        hr_diag_set(b->d, "grammar has more than %u symbols (repetitions expanded)",
                    HR_GRAMMAR_MAX_SYMS);
        return HR_EINVAL;
    }
    struct hr_galt *a = &b->rules[rule].alts[alt];
    if (hr_grammar__grow((void **)&a->s, &a->cap, a->n + 1, sizeof *a->s, 4))
        return HR_ENOMEM;
    a->s[a->n++] = sym;
    return 0;
}

int hr_grammar__new_set(struct hr_gbuild *b, const uint64_t set[4], uint32_t *id)
{
    if (b->n_sets >= HR_GRAMMAR_MAX_SYMS) {
        hr_diag_set(b->d, "grammar has too many character sets");
        return HR_EINVAL;
    }
    if (hr_grammar__grow((void **)&b->sets, &b->cap_sets, b->n_sets + 1, sizeof *b->sets, 4))
        return HR_ENOMEM;
    memcpy(b->sets[b->n_sets], set, sizeof b->sets[0]);
    *id = b->n_sets++;
    return 0;
}

int hr_grammar__byte_sym(struct hr_gbuild *b, unsigned byte, uint32_t *sym)
{
    if (b->single[byte] < 0) {
        uint64_t set[4] = {0};
        uint32_t id;
        set[byte >> 6] |= 1ull << (byte & 63);
        int rc = hr_grammar__new_set(b, set, &id);
        if (rc)
            return rc;
        b->single[byte] = (int32_t)id;
    }
    *sym = SYM_MAKE(SYM_TERM, (uint32_t)b->single[byte]);
    return 0;
}

static void set_range(uint64_t set[4], unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        set[c >> 6] |= 1ull << (c & 63);
}

static int utf8_encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

struct class_ctx {
    struct hr_gbuild *b;
    uint32_t rule; /* the generated rule of multi-byte sequences */
    bool have_rule;
    uint32_t owner;
    uint64_t ascii[4];
    bool have_ascii;
};

/* One UTF-8 sequence as an alternative: lo[k]..hi[k] per byte. */
static int emit_seq(struct class_ctx *c, const uint8_t *lo, const uint8_t *hi, int n)
{
    struct hr_gbuild *b = c->b;
    int rc;
    if (!c->have_rule) {
        if ((rc = hr_grammar__new_rule(b, &c->rule)) != 0)
            return rc;
        b->rules[c->rule].defined = true;
        b->rules[c->rule].owner = b->rules[c->owner].name ? b->rules[c->owner].name
                                                          : b->rules[c->owner].owner;
        b->rules[c->rule].owner_len = b->rules[c->owner].name ? b->rules[c->owner].name_len
                                                              : b->rules[c->owner].owner_len;
        c->have_rule = true;
    }
    uint32_t alt;
    if ((rc = hr_grammar__new_alt(b, c->rule, &alt)) != 0)
        return rc;
    for (int k = 0; k < n; k++) {
        uint32_t sym, id;
        if (lo[k] == hi[k]) {
            rc = hr_grammar__byte_sym(b, lo[k], &sym);
        } else {
            uint64_t set[4] = {0};
            set_range(set, lo[k], hi[k]);
            rc = hr_grammar__new_set(b, set, &id);
            sym = SYM_MAKE(SYM_TERM, id);
        }
        if (rc == 0)
            rc = hr_grammar__add_sym(b, c->rule, alt, sym);
        if (rc)
            return rc;
    }
    return 0;
}

/* Splits [lo, hi] (same encoded length, no surrogates) until each piece is a product of byte
 * ranges, as Russ Cox's utf8 range construction does. */
static int split_utf8(struct class_ctx *c, uint32_t lo, uint32_t hi)
{
    static const uint32_t bounds[] = {0x7F, 0x7FF, 0xFFFF};
    for (int i = 0; i < 3; i++) {
        if (lo <= bounds[i] && hi > bounds[i]) {
            int rc = split_utf8(c, lo, bounds[i]);
            return rc ? rc : split_utf8(c, bounds[i] + 1, hi);
        }
    }
    if (hi < 0x80) {
        set_range(c->ascii, lo, hi);
        c->have_ascii = true;
        return 0;
    }
    uint8_t a[4], z[4];
    int n = utf8_encode(lo, a);
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                int rc = split_utf8(c, lo, lo | m);
                return rc ? rc : split_utf8(c, (lo | m) + 1, hi);
            }
            if ((hi & m) != m) {
                int rc = split_utf8(c, lo, (hi & ~m) - 1);
                return rc ? rc : split_utf8(c, hi & ~m, hi);
            }
        }
    }
    utf8_encode(hi, z);
    return emit_seq(c, a, z, n);
}

int hr_grammar__class_sym(struct hr_gbuild *b, const uint32_t *lo, const uint32_t *hi,
                          size_t n, uint32_t owner_rule, uint32_t *sym)
{
    struct class_ctx c = {.b = b, .owner = owner_rule};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t l = lo[i], h = hi[i] > 0x10FFFF ? 0x10FFFF : hi[i];
        if (l > h)
            continue;
        if (l < 0xD800 && h >= 0xD800) {
            rc = split_utf8(&c, l, h > 0xD7FF ? 0xD7FF : h);
            l = 0xE000;
        }
        if (rc == 0 && l >= 0xD800 && l <= 0xDFFF)
            l = 0xE000;
        if (rc == 0 && l <= h)
            rc = split_utf8(&c, l, h);
    }
    if (rc)
        return rc;
    uint32_t id;
    if (!c.have_rule) {
        /* ASCII only (or nothing at all: a set that never matches) */
        if ((rc = hr_grammar__new_set(b, c.ascii, &id)) != 0)
            return rc;
        *sym = SYM_MAKE(SYM_TERM, id);
        return 0;
    }
    if (c.have_ascii) {
        uint32_t alt, s;
        if ((rc = hr_grammar__new_alt(b, c.rule, &alt)) != 0 ||
            (rc = hr_grammar__new_set(b, c.ascii, &id)) != 0)
            return rc;
        s = SYM_MAKE(SYM_TERM, id);
        if ((rc = hr_grammar__add_sym(b, c.rule, alt, s)) != 0)
            return rc;
    }
    *sym = SYM_MAKE(SYM_REF, c.rule);
    return 0;
}

void hr_grammar__build_free(struct hr_gbuild *b)
{
    for (uint32_t r = 0; r < b->n_rules; r++) {
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++)
            free(b->rules[r].alts[a].s);
        free(b->rules[r].alts);
    }
    free(b->rules);
    free(b->sets);
    memset(b, 0, sizeof *b);
}

void hr_grammar__where(const struct hr_gbuild *b, size_t off, uint32_t *line, uint32_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; b->src && i < off; i++) {
        if (b->src[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static void name_of(const struct hr_gbuild *b, uint32_t r, const char **s, int *n)
{
    const struct hr_grule *g = &b->rules[r];
    *s = g->name ? g->name : g->owner ? g->owner : "?";
    *n = (int)(g->name ? g->name_len : g->owner ? g->owner_len : 1);
}

/* Nullable rules by a worklist: an alternative becomes nullable when its last not-yet-nullable
 * reference does, so the cost is linear in the grammar's size. */
static int compute_nullable(const struct hr_gbuild *b, bool *nullable)
{
    uint32_t n_alt = 0;
    for (uint32_t r = 0; r < b->n_rules; r++)
        n_alt += b->rules[r].n_alts;
    uint32_t *left = calloc(n_alt + 1, sizeof *left);
    uint32_t *alt_rule = calloc(n_alt + 1, sizeof *alt_rule);
    uint32_t *occ_start = calloc(b->n_rules + 1, sizeof *occ_start);
    uint32_t *occ = calloc(b->n_syms + 1, sizeof *occ);
    uint32_t *work = calloc(b->n_rules + 1, sizeof *work);
    int rc = HR_ENOMEM;
    if (!left || !alt_rule || !occ_start || !occ || !work)
        goto done;
    uint32_t ai = 0, n_work = 0;
    for (uint32_t r = 0; r < b->n_rules; r++) {
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++, ai++) {
            const struct hr_galt *alt = &b->rules[r].alts[a];
            alt_rule[ai] = r;
            bool term = false;
            for (uint32_t k = 0; k < alt->n; k++) {
                if (SYM_KIND(alt->s[k]) == SYM_TERM)
                    term = true;
                else
                    occ_start[SYM_ARG(alt->s[k])]++;
            }
            left[ai] = term ? UINT32_MAX : alt->n;
            if (alt->n == 0 && !nullable[r]) {
                nullable[r] = true;
                work[n_work++] = r;
            }
        }
    }
    uint32_t sum = 0;
    for (uint32_t r = 0; r <= b->n_rules; r++) {
        uint32_t c = r < b->n_rules ? occ_start[r] : 0;
        occ_start[r] = sum;
        sum += c;
    }
    uint32_t *fill = calloc(b->n_rules + 1, sizeof *fill);
    if (!fill)
        goto done;
    ai = 0;
    for (uint32_t r = 0; r < b->n_rules; r++)
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++, ai++) {
            const struct hr_galt *alt = &b->rules[r].alts[a];
            for (uint32_t k = 0; k < alt->n; k++)
                if (SYM_KIND(alt->s[k]) == SYM_REF) {
                    uint32_t t = SYM_ARG(alt->s[k]);
                    occ[occ_start[t] + fill[t]++] = ai;
                }
        }
    free(fill);
    while (n_work) {
        uint32_t t = work[--n_work];
        for (uint32_t i = occ_start[t]; i < occ_start[t + 1]; i++) {
            uint32_t a = occ[i];
            if (left[a] == UINT32_MAX || left[a] == 0)
                continue;
            if (--left[a] == 0 && !nullable[alt_rule[a]]) {
                nullable[alt_rule[a]] = true;
                work[n_work++] = alt_rule[a];
            }
        }
    }
    rc = 0;
done:
    free(left);
    free(alt_rule);
    free(occ_start);
    free(occ);
    free(work);
    return rc;
}

/* Left recursion: a cycle in "r may start by expanding t" (t referenced after only nullable
 * symbols). Iterative DFS, since a hostile grammar may chain thousands of rules. */
static int check_left_recursion(struct hr_gbuild *b, const bool *nullable)
{
    uint8_t *color = calloc(b->n_rules, 1); /* 0 new, 1 on the path, 2 done */
    struct frame {
        uint32_t rule, alt, k;
    } *st = malloc((size_t)b->n_rules * sizeof *st);
    int rc = HR_ENOMEM;
    if (!color || !st)
        goto done;
    rc = 0;
    for (uint32_t start = 0; start < b->n_rules && rc == 0; start++) {
        if (color[start])
            continue;
        uint32_t sp = 0;
        st[sp++] = (struct frame){start, 0, 0};
        color[start] = 1;
        while (sp && rc == 0) {
            struct frame *f = &st[sp - 1];
            const struct hr_grule *g = &b->rules[f->rule];
            if (f->alt >= g->n_alts) {
                color[f->rule] = 2;
                sp--;
                continue;
            }
            const struct hr_galt *a = &g->alts[f->alt];
            if (f->k >= a->n || (f->k > 0 && (SYM_KIND(a->s[f->k - 1]) == SYM_TERM ||
                                              !nullable[SYM_ARG(a->s[f->k - 1])]))) {
                f->alt++;
                f->k = 0;
                continue;
            }
            uint32_t s = a->s[f->k++];
            if (SYM_KIND(s) != SYM_REF)
                continue;
            uint32_t t = SYM_ARG(s);
            if (color[t] == 1) {
                const char *nm;
                int nn;
                name_of(b, t, &nm, &nn);
                uint32_t line, col;
                hr_grammar__where(b, b->rules[t].off, &line, &col);
                hr_diag_set(b->d, "line %u column %u: rule '%.*s' is left-recursive (it can "
                                  "reach itself before matching any character)",
                            line, col, nn, nm);
                rc = HR_EINVAL;
            } else if (color[t] == 0) {
                color[t] = 1;
                st[sp++] = (struct frame){t, 0, 0};
            }
        }
    }
done:
    free(color);
    free(st);
    return rc;
}

static int find_root(const struct hr_gbuild *b, uint32_t *root)
{
    for (uint32_t r = 0; r < b->n_rules; r++)
        if (b->rules[r].name && b->rules[r].name_len == 4 &&
            memcmp(b->rules[r].name, "root", 4) == 0 && b->rules[r].defined) {
            *root = r;
            return 0;
        }
    return HR_ENOTFOUND;
}

int hr_grammar__finish(struct hr_gbuild *b, struct hr_grammar **out)
{
    for (uint32_t r = 0; r < b->n_rules; r++) {
        const struct hr_grule *g = &b->rules[r];
        if (!g->defined) {
            uint32_t line, col;
            hr_grammar__where(b, g->off, &line, &col);
            hr_diag_set(b->d, "line %u column %u: undefined rule '%.*s'", line, col,
                        (int)g->name_len, g->name);
            return HR_EINVAL;
        }
    }
    uint32_t root;
    if (find_root(b, &root) != 0) {
        hr_diag_set(b->d, "grammar has no rule named 'root'");
        return HR_EINVAL;
    }
    bool *nullable = calloc(b->n_rules + 1, sizeof *nullable);
    if (!nullable)
        return HR_ENOMEM;
    int rc = compute_nullable(b, nullable);
    if (rc == 0)
        rc = check_left_recursion(b, nullable);
    free(nullable);
    if (rc)
        return rc;
    struct hr_grammar *g = calloc(1, sizeof *g);
    uint32_t n_alt = 0;
    for (uint32_t r = 0; r < b->n_rules; r++)
        n_alt += b->rules[r].n_alts;
    if (g) {
        g->rule_alt = malloc(((size_t)b->n_rules + 1) * sizeof *g->rule_alt);
        g->alts = malloc(((size_t)n_alt + 1) * sizeof *g->alts);
        g->syms = malloc((b->n_syms + n_alt + 1) * sizeof *g->syms);
        g->sets = malloc(((size_t)b->n_sets + 1) * sizeof *g->sets);
    }
    if (!g || !g->rule_alt || !g->alts || !g->syms || !g->sets) {
        if (g) {
            free(g->rule_alt);
            free(g->alts);
            free(g->syms);
            free(g->sets);
        }
        free(g);
        return HR_ENOMEM;
    }
    uint32_t ai = 0, si = 0;
    for (uint32_t r = 0; r < b->n_rules; r++) {
        g->rule_alt[r] = ai;
        for (uint32_t a = 0; a < b->rules[r].n_alts; a++) {
            const struct hr_galt *alt = &b->rules[r].alts[a];
            g->alts[ai++] = si;
            if (alt->n)
                memcpy(g->syms + si, alt->s, alt->n * sizeof *alt->s);
            si += alt->n;
            g->syms[si++] = SYM_END;
        }
    }
    g->rule_alt[b->n_rules] = ai;
    g->n_rules = b->n_rules;
    g->n_syms = si;
    if (b->n_sets)
        memcpy(g->sets, b->sets, b->n_sets * sizeof *b->sets);
    g->n_sets = b->n_sets;
    g->root = root;
    atomic_init(&g->refs, 1);
    *out = g;
    return 0;
}

struct hr_grammar *hr_grammar_ref(struct hr_grammar *g)
{
    if (g)
        atomic_fetch_add(&g->refs, 1);
    return g;
}

void hr_grammar_unref(struct hr_grammar *g)
{
    if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    free(g->rule_alt);
    free(g->alts);
    free(g->syms);
    free(g->sets);
    free(g);
}
