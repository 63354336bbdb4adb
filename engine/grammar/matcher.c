/* The grammar automaton of one sequence: hash-consed parse stacks, DFA states interned over
 * them and transitions computed on demand (layout in grammar_int.h), so a byte the sequence
 * has seen in this state before costs one table read. Everything a hostile grammar can grow
 * is capped: parallel stacks, stack depth, expansion work per byte, table sizes (rebuilt
 * around the current state past a soft cap). Engine thread (one state, one thread). */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "grammar_int.h"

#define SOFT_STATES 2048   /* rebuild past these between steps ... */
#define SOFT_FRAMES (1u << 18)
#define HARD_STATES 8192   /* ... and fail a single step past these */
#define HARD_FRAMES (1u << 20)
#define MAX_WORK (1u << 16) /* expansions per transition: bounds ambiguous grammars' time */
#define VISITED_CAP (1u << 17)
#define MASK_BYTES (8u << 20) /* cached masks per sequence */
/* expansions per mask or accept call: JSON grammars need about 4,000 even on a cold mask of
   a 128k vocabulary (bench_grammar's "max work"); this bounds a hostile grammar to tens of
   milliseconds of engine time per token */
#define CALL_BUDGET (1u << 20)

static uint32_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}


static int set_err(struct hr_grammar_state *s, int err)
{
    if (!s->err)
        s->err = err;
    return err;
}

static int rehash(int32_t **tab, uint32_t *cap, uint32_t n, uint32_t (*key)(void *, int32_t),
                  void *ud)
{
    uint32_t nc = *cap ? *cap : 1024;
    while (nc < 2 * (n + 1))
        nc *= 2;
    if (nc == *cap && *tab)
        return 0;
    int32_t *t = malloc((size_t)nc * sizeof *t);
    if (!t)
        return HR_ENOMEM;
    memset(t, 0xFF, (size_t)nc * sizeof *t);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t h = key(ud, (int32_t)i) & (nc - 1);
        while (t[h] >= 0)
            h = (h + 1) & (nc - 1);
        t[h] = (int32_t)i;
    }
    free(*tab);
    *tab = t;
    *cap = nc;
    return 0;
}

static uint32_t frame_key(void *ud, int32_t i)
{
    const struct gs_frame *f = &((struct hr_grammar_state *)ud)->frames[i];
    return mix(((uint64_t)f->pos << 32) ^ (uint32_t)f->parent);
}

static uint32_t state_key(void *ud, int32_t i)
{
    return ((struct hr_grammar_state *)ud)->states[i].hash;
}

/* The frame (pos, parent), made on first use; -1 beyond the depth cap (that parse is then
 * dropped: output cannot nest deeper), < -1 on failure. */
static int32_t intern_frame(struct hr_grammar_state *s, uint32_t pos, int32_t parent)
{
    uint32_t depth = parent < 0 ? 1 : s->frames[parent].depth + 1;
    if (depth > HR_GRAMMAR_MAX_DEPTH)
        return -1;
    uint32_t h = mix(((uint64_t)pos << 32) ^ (uint32_t)parent);
    uint32_t mask = s->frame_hash_cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        int32_t f = s->frame_hash[i];
        if (f < 0)
            break;
        if (s->frames[f].pos == pos && s->frames[f].parent == parent)
            return f;
    }
    if (s->n_frames >= HARD_FRAMES) {
        set_err(s, HR_ERANGE);
        return -2;
    }
    if (hr_grammar__grow((void **)&s->frames, &s->cap_frames, s->n_frames + 1,
                         sizeof *s->frames, 64)) {
        set_err(s, HR_ENOMEM);
        return -2;
    }
    int32_t id = (int32_t)s->n_frames++;
    s->frames[id] = (struct gs_frame){pos, parent, depth};
    if (2 * s->n_frames > s->frame_hash_cap) {
        if (rehash(&s->frame_hash, &s->frame_hash_cap, s->n_frames, frame_key, s)) {
            set_err(s, HR_ENOMEM);
            return -2;
        }
    } else {
        uint32_t i = h & mask;
        while (s->frame_hash[i] >= 0)
            i = (i + 1) & mask;
        s->frame_hash[i] = id;
    }
    return id;
}

static int push_work(struct hr_grammar_state *s, uint32_t pos, int32_t parent)
{
    /* (pos, parent) always expands the same way: once per transition is enough, and it
       keeps grammars like (a | a)(a | a)... linear instead of exponential */
    uint64_t key = ((uint64_t)pos << 32) | (uint32_t)parent;
    uint32_t h = mix(key) & (VISITED_CAP - 1);
    for (;; h = (h + 1) & (VISITED_CAP - 1)) {
        if (s->visited_gen[h] != s->gen) {
            s->visited_gen[h] = s->gen;
            s->visited[h] = key;
            break;
        }
        if (s->visited[h] == key)
            return 0;
    }
    if (s->n_work >= MAX_WORK || s->budget == 0)
        return set_err(s, HR_ERANGE);
    s->budget--;
    if (hr_grammar__grow((void **)&s->work, &s->cap_work, s->n_work + 1, sizeof *s->work, 64))
        return set_err(s, HR_ENOMEM);
    s->work[s->n_work++] = (struct gs_work){pos, parent};
    return 0;
}

/* Expands the queued positions until every live stack's top is a terminal (s->out) or empty
 * (*accepting). Terminates because left recursion was refused at parse time. */
static int expand(struct hr_grammar_state *s, bool *accepting)
{
    const struct hr_grammar *g = s->g;
    while (s->n_work) {
        struct gs_work w = s->work[--s->n_work];
        uint32_t pos = w.pos;
        int32_t parent = w.parent;
        for (;;) {
            uint32_t sym = g->syms[pos];
            if (SYM_KIND(sym) == SYM_END) {
                if (parent < 0) {
                    *accepting = true;
                    break;
                }
                pos = s->frames[parent].pos;
                parent = s->frames[parent].parent;
                continue;
            }
            if (SYM_KIND(sym) == SYM_TERM) {
                int32_t f = intern_frame(s, pos, parent);
                if (f < -1)
                    return s->err;
                if (f >= 0) {
                    if (s->n_out >= HR_GRAMMAR_MAX_STACKS)
                        return set_err(s, HR_ERANGE);
                    if (hr_grammar__grow((void **)&s->out, &s->cap_out, s->n_out + 1,
                                         sizeof *s->out, 64))
                        return set_err(s, HR_ENOMEM);
                    s->out[s->n_out++] = f;
                }
                break;
            }
            uint32_t r = SYM_ARG(sym), ret = pos + 1;
            int32_t np = parent;
            if (SYM_KIND(g->syms[ret]) != SYM_END) { /* a tail call keeps no return frame */
                np = intern_frame(s, ret, parent);
                if (np < -1)
                    return s->err;
                if (np < 0)
                    break;
            }
            for (uint32_t a = g->rule_alt[r + 1]; a-- > g->rule_alt[r];)
                if (push_work(s, g->alts[a], np))
                    return s->err;
            break;
        }
    }
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The state of s->out (sorted, deduplicated here) and accepting: interned. */
static int32_t intern_state(struct hr_grammar_state *s, bool accepting)
{
    if (s->n_out == 0 && !accepting)
        return GS_DEAD;
    qsort(s->out, s->n_out, sizeof *s->out, cmp_i32);
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_out; i++)
        if (n == 0 || s->out[n - 1] != s->out[i])
            s->out[n++] = s->out[i];
    s->n_out = n;
    uint64_t h = accepting ? 0x9E3779B97F4A7C15ull : 1;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)s->out[i]) * 0x100000001B3ull;
    uint32_t hash = mix(h);
    uint32_t mask = s->state_hash_cap - 1;
    for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
        int32_t t = s->state_hash[i];
        if (t < 0)
            break;
        const struct gs_dstate *d = &s->states[t];
        if (d->hash == hash && d->n == n && d->accepting == accepting &&
            memcmp(s->items + d->first, s->out, n * sizeof *s->out) == 0)
            return t;
    }
    if (s->n_states >= HARD_STATES) {
        set_err(s, HR_ERANGE);
        return GS_DEAD;
    }
    uint32_t old_cap = s->cap_states;
    if (hr_grammar__grow((void **)&s->states, &s->cap_states, s->n_states + 1,
                         sizeof *s->states, 64) ||
        hr_grammar__grow((void **)&s->items, &s->cap_items, s->n_items + n, sizeof *s->items, 64)) {
        set_err(s, HR_ENOMEM);
        return GS_DEAD;
    }
    if (s->cap_states != old_cap) {
        int32_t *t = realloc(s->trans, (size_t)s->cap_states * 256 * sizeof *t);
        if (!t) {
            s->cap_states = old_cap;
            set_err(s, HR_ENOMEM);
            return GS_DEAD;
        }
        s->trans = t;
    }
    int32_t id = (int32_t)s->n_states++;
    for (uint32_t b = 0; b < 256; b++)
        s->trans[(size_t)id * 256 + b] = GS_TRANS_UNKNOWN;
    memcpy(s->items + s->n_items, s->out, n * sizeof *s->out);
    s->states[id] = (struct gs_dstate){s->n_items, n, hash, accepting, -1};
    s->n_items += n;
    if (2 * s->n_states > s->state_hash_cap) {
        if (rehash(&s->state_hash, &s->state_hash_cap, s->n_states, state_key, s)) {
            set_err(s, HR_ENOMEM);
            return GS_DEAD;
        }
    } else {
        uint32_t i = hash & mask;
        while (s->state_hash[i] >= 0)
            i = (i + 1) & mask;
        s->state_hash[i] = id;
    }
    return id;
}

int32_t hr_grammar__step(struct hr_grammar_state *s, int32_t st, unsigned b)
{
    int32_t t = s->trans[(size_t)st * 256 + b];
    if (t != GS_TRANS_UNKNOWN)
        return t;
    if (s->err)
        return GS_DEAD;
    const struct hr_grammar *g = s->g;
    s->n_out = s->n_work = 0;
    s->gen++;
    bool accepting = false;
    const struct gs_dstate *d = &s->states[st];
    for (uint32_t i = 0; i < d->n; i++) {
        const struct gs_frame *f = &s->frames[s->items[d->first + i]];
        if (hr_grammar__set_has(g->sets[SYM_ARG(g->syms[f->pos])], b) &&
            push_work(s, f->pos + 1, f->parent))
            return GS_DEAD;
    }
    if (expand(s, &accepting))
        return GS_DEAD;
    t = intern_state(s, accepting);
    if (!s->err)
        s->trans[(size_t)st * 256 + b] = t;
    return t;
}

static void tables_free(struct hr_grammar_state *s)
{
    free(s->frames);
    free(s->frame_hash);
    free(s->states);
    free(s->items);
    free(s->state_hash);
    free(s->trans);
    s->frames = NULL;
    s->frame_hash = NULL;
    s->states = NULL;
    s->items = NULL;
    s->state_hash = NULL;
    s->trans = NULL;
    s->n_frames = s->cap_frames = s->frame_hash_cap = 0;
    s->n_states = s->cap_states = s->n_items = s->cap_items = s->state_hash_cap = 0;
    s->n_masks = 0;
}

static int tables_init(struct hr_grammar_state *s)
{
    if (rehash(&s->frame_hash, &s->frame_hash_cap, 0, frame_key, s) ||
        rehash(&s->state_hash, &s->state_hash_cap, 0, state_key, s))
        return set_err(s, HR_ENOMEM);
    return 0;
}

/* Past the soft caps: forget every state but the current one, rebuilt frame by frame. */
static int rebuild(struct hr_grammar_state *s)
{
    const struct gs_dstate *d = &s->states[s->cur];
    bool accepting = d->accepting;
    uint32_t n_stacks = d->n, total = 0;
    for (uint32_t i = 0; i < n_stacks; i++)
        total += s->frames[s->items[d->first + i]].depth;
    uint32_t *chain = malloc(((size_t)total + 1) * sizeof *chain);
    uint32_t *len = malloc(((size_t)n_stacks + 1) * sizeof *len);
    if (!chain || !len) {
        free(chain);
        free(len);
        return set_err(s, HR_ENOMEM);
    }
    uint32_t o = 0;
    for (uint32_t i = 0; i < n_stacks; i++) {
        int32_t f = s->items[d->first + i];
        len[i] = s->frames[f].depth;
        for (uint32_t k = len[i]; k-- > 0; f = s->frames[f].parent)
            chain[o + k] = s->frames[f].pos; /* bottom first */
        o += len[i];
    }
    tables_free(s);
    int rc = tables_init(s);
    s->n_out = 0;
    o = 0;
    for (uint32_t i = 0; rc == 0 && i < n_stacks; i++) {
        int32_t f = -1;
        for (uint32_t k = 0; k < len[i] && rc == 0; k++)
            if ((f = intern_frame(s, chain[o + k], f)) < 0)
                rc = set_err(s, HR_EINTERNAL);
        o += len[i];
        if (rc == 0 && hr_grammar__grow((void **)&s->out, &s->cap_out, s->n_out + 1,
                                        sizeof *s->out, 64))
            rc = set_err(s, HR_ENOMEM);
        if (rc == 0)
            s->out[s->n_out++] = f;
    }
    free(chain);
    free(len);
    if (rc)
        return rc;
    s->cur = intern_state(s, accepting);
    return s->err;
}

void hr_grammar__call_begin(struct hr_grammar_state *s)
{
    s->budget = CALL_BUDGET;
}

void hr_grammar__call_end(struct hr_grammar_state *s)
{
    if (CALL_BUDGET - s->budget > s->max_used)
        s->max_used = CALL_BUDGET - s->budget;
}

int hr_grammar__maybe_rebuild(struct hr_grammar_state *s)
{
    if (s->n_states > SOFT_STATES || s->n_frames > SOFT_FRAMES)
        return rebuild(s);
    return 0;
}

int hr_grammar_state_new(struct hr_grammar_state **out, struct hr_grammar *g,
                         const struct hr_grammar_vocab *v)
{
    *out = NULL;
    struct hr_grammar_state *s = calloc(1, sizeof *s);
    if (!s)
        return HR_ENOMEM;
    s->g = hr_grammar_ref(g);
    s->v = v;
    s->visited = malloc(VISITED_CAP * sizeof *s->visited);
    s->visited_gen = calloc(VISITED_CAP, sizeof *s->visited_gen);
    int rc = s->visited && s->visited_gen ? tables_init(s) : HR_ENOMEM;
    if (rc == 0) {
        s->gen = 1;
        s->budget = CALL_BUDGET;
        for (uint32_t a = g->rule_alt[g->root + 1]; rc == 0 && a-- > g->rule_alt[g->root];)
            rc = push_work(s, g->alts[a], -1);
        bool accepting = false;
        if (rc == 0)
            rc = expand(s, &accepting);
        if (rc == 0) {
            s->cur = intern_state(s, accepting);
            rc = s->err ? s->err : s->cur < 0 ? HR_EINVAL : 0;
        }
    }
    if (rc == 0 && v) {
        s->words = (uint32_t)(((uint32_t)v->n_vocab + 63) / 64);
        size_t per = (size_t)s->words * sizeof(uint64_t);
        s->max_masks = (uint32_t)(MASK_BYTES / per);
        if (s->max_masks < 2)
            s->max_masks = 2;
        s->mask_state = malloc(s->max_masks * sizeof *s->mask_state);
        if (!s->mask_state)
            rc = HR_ENOMEM;
    }
    if (rc) {
        hr_grammar_state_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void hr_grammar_state_free(struct hr_grammar_state *s)
{
    if (!s)
        return;
    tables_free(s);
    free(s->masks);
    free(s->mask_state);
    free(s->out);
    free(s->work);
    free(s->visited);
    free(s->visited_gen);
    hr_grammar_unref(s->g);
    free(s);
}

int hr_grammar_accept_bytes(struct hr_grammar_state *s, const char *bytes, size_t n)
{
    if (s->err)
        return s->err;
    int rc = hr_grammar__maybe_rebuild(s);
    if (rc)
        return rc;
    int32_t st = s->cur;
    hr_grammar__call_begin(s);
    for (size_t i = 0; i < n && st >= 0; i++)
        st = hr_grammar__step(s, st, (uint8_t)bytes[i]);
    hr_grammar__call_end(s);
    if (st < 0)
        return s->err ? s->err : HR_EINVAL;
    s->cur = st;
    return 0;
}

bool hr_grammar_is_accepting(const struct hr_grammar_state *s)
{
    return s->states[s->cur].accepting;
}

bool hr_grammar_is_complete(const struct hr_grammar_state *s)
{
    return s->states[s->cur].accepting && s->states[s->cur].n == 0;
}
