/* Grammar mask cost: for each vocabulary (GGUF files on the command line, and a synthetic
 * 128k one made of gpt-2's pieces plus generated concatenations) and each grammar (a JSON
 * Schema, json_object), replays a generation of a fixed JSON document as a model would write
 * it — each step masks the logits, then takes the longest allowed token that continues the
 * document — and prints the mean, median and worst milliseconds per mask over that one
 * request (a fresh grammar state, so its DFA and mask caches start empty). Compare with the decode step of a model (hearth run --verbose prints tokens/s).
 * Not a test: speed is never asserted. Usage: bench_grammar VOCAB.gguf... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "engine/grammar/grammar_int.h" /* max_used: expansions per call */

static const char schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"age\":{\"type\":\"integer\"},"
    "\"email\":{\"type\":\"string\"},\"verified\":{\"type\":\"boolean\"},"
    "\"role\":{\"enum\":[\"admin\",\"editor\",\"viewer\"]},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":8},"
    "\"address\":{\"type\":\"object\",\"properties\":{\"street\":{\"type\":\"string\"},"
    "\"city\":{\"type\":\"string\"},\"zip\":{\"type\":[\"string\",\"null\"]}},"
    "\"required\":[\"street\",\"city\",\"zip\"],\"additionalProperties\":false},"
    "\"scores\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}}},"
    "\"required\":[\"name\",\"age\",\"email\",\"verified\",\"role\",\"tags\",\"address\","
    "\"scores\"],\"additionalProperties\":false}";

static const char doc_schema[] =
    "{\n  \"name\": \"Ada Lovelace\",\n  \"age\": 36,\n  \"email\": \"ada@example.org\",\n"
    "  \"verified\": true,\n  \"role\": \"editor\",\n  \"tags\": [\"math\", \"poetry\", "
    "\"engines\"],\n  \"address\": {\n    \"street\": \"12 St James's Square\",\n"
    "    \"city\": \"London\",\n    \"zip\": null\n  },\n  \"scores\": [9.5, 7.25, 10]\n}";

static const char doc_object[] =
    "{\"id\": 1042, \"title\": \"Quarterly report\", \"draft\": false, \"authors\": "
    "[{\"name\": \"Grace\", \"share\": 0.6}, {\"name\": \"Alan\", \"share\": 0.4}], "
    "\"summary\": \"Revenue grew 12% while costs stayed flat; see section 3.\", "
    "\"meta\": {\"pages\": 18, \"lang\": \"en\", \"keywords\": [\"finance\", \"q3\"]}}";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct vocab {
    const char *name;
    int32_t n;
    char **bytes;
    uint32_t *lens;
    bool *eog;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One replay of doc on state s; per-step mask times into t[]. Returns the step count. */
static int replay(struct hr_grammar_state *s, const struct vocab *v, const char *doc,
                  float *logits, double *t, int max_steps)
{
    size_t pos = 0, len = strlen(doc);
    int steps = 0;
    while (pos < len && steps < max_steps) {
        for (int32_t i = 0; i < v->n; i++)
            logits[i] = 0;
        double t0 = now_ms();
        if (hr_grammar_apply_mask(s, logits) != 0)
            return -1;
        t[steps++] = now_ms() - t0;
        int32_t best = -1;
        uint32_t best_len = 0;
        for (int32_t i = 0; i < v->n; i++)
            if (logits[i] == 0 && v->lens[i] > best_len && v->lens[i] <= len - pos &&
                memcmp(v->bytes[i], doc + pos, v->lens[i]) == 0) {
                best = i;
                best_len = v->lens[i];
            }
        if (best < 0 || hr_grammar_accept_token(s, best) != 0) {
            fprintf(stderr, "no allowed token continues the document at byte %zu\n", pos);
            return -1;
        }
        pos += best_len;
    }
    return steps;
}

static void report(const char *vname, const char *gname, double *t, int n, uint64_t work)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%-28s %-12s %5d %10.3f %10.3f %10.3f %10llu\n", vname, gname, n, sum / n,
           t[n / 2], t[n - 1], (unsigned long long)work);
}

static void bench(const struct vocab *v)
{
    struct hr_grammar_vocab *gv = NULL;
    double t0 = now_ms();
    if (hr_grammar_vocab_new_raw(&gv, v->n, (const char *const *)v->bytes, v->lens, v->eog)) {
        printf("%s: cannot build the trie\n", v->name);
        return;
    }
    printf("%-28s trie of %d tokens built in %.1f ms\n", v->name, v->n, now_ms() - t0);
    float *logits = malloc((size_t)v->n * sizeof *logits);
    double *t = malloc(4096 * sizeof *t);
    for (int k = 0; k < 2; k++) {
        struct hr_grammar *g = NULL;
        const char *gname = k == 0 ? "json_schema" : "json_object";
        int rc = k == 0 ? hr_grammar_from_schema(&g, schema, strlen(schema), true, NULL)
                        : hr_grammar_json_object(&g, NULL);
        struct hr_grammar_state *s = NULL;
        if (rc || hr_grammar_state_new(&s, g, gv)) {
            printf("%s: cannot compile\n", gname);
            continue;
        }
        const char *doc = k == 0 ? doc_schema : doc_object;
        int n = replay(s, v, doc, logits, t, 4096);
        if (n > 0)
            report(v->name, gname, t, n, s->max_used);
        hr_grammar_state_free(s);
        hr_grammar_unref(g);
    }
    free(t);
    free(logits);
    hr_grammar_vocab_free(gv);
}

static int load(struct vocab *v, const char *path, struct hr_tok **tok_out)
{
    struct hr_gguf *g = NULL;
    struct hr_tok *tok = NULL;
    struct hr_diag d = {{0}};
    if (hr_gguf_open(&g, path, &d) || hr_tok_new_from_gguf(&tok, g, &d)) {
        printf("%s skipped: %s\n", path, d.msg);
        hr_gguf_close(g);
        return -1;
    }
    hr_gguf_close(g);
    const char *base = strrchr(path, '/');
    v->name = base ? base + 1 : path;
    v->n = hr_tok_n_vocab(tok);
    v->bytes = calloc((size_t)v->n, sizeof *v->bytes);
    v->lens = calloc((size_t)v->n, sizeof *v->lens);
    v->eog = calloc((size_t)v->n, sizeof *v->eog);
    char buf[8192];
    for (int32_t i = 0; i < v->n; i++) {
        size_t k = hr_tok_token_bytes(tok, i, false, buf, sizeof buf);
        if (k > sizeof buf)
            k = 0;
        v->bytes[i] = malloc(k + 1);
        memcpy(v->bytes[i], buf, k);
        v->lens[i] = (uint32_t)k;
        v->eog[i] = hr_tok_is_eog(tok, i);
    }
    *tok_out = tok;
    return 0;
}

static void unload(struct vocab *v)
{
    for (int32_t i = 0; i < v->n; i++)
        free(v->bytes[i]);
    free(v->bytes);
    free(v->lens);
    free(v->eog);
}

/* 128,000 tokens: the first vocabulary's, then concatenations of two of its pieces (seeded),
 * like the merges a bigger BPE vocabulary adds. */
static void synthetic(struct vocab *out, const struct vocab *base, int32_t n)
{
    out->name = "synthetic-128k";
    out->n = n;
    out->bytes = calloc((size_t)n, sizeof *out->bytes);
    out->lens = calloc((size_t)n, sizeof *out->lens);
    out->eog = calloc((size_t)n, sizeof *out->eog);
    uint64_t r = 0x9E3779B97F4A7C15ull;
    for (int32_t i = 0; i < n; i++) {
        if (i < base->n) {
            out->lens[i] = base->lens[i];
            out->bytes[i] = malloc(base->lens[i] + 1);
            memcpy(out->bytes[i], base->bytes[i], base->lens[i]);
            out->eog[i] = base->eog[i];
            continue;
        }
        int32_t a, b;
        do {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            a = (int32_t)(r % (uint64_t)base->n);
            b = (int32_t)((r >> 32) % (uint64_t)base->n);
        } while (!base->lens[a] || !base->lens[b] || base->lens[a] + base->lens[b] > 24);
        out->lens[i] = base->lens[a] + base->lens[b];
        out->bytes[i] = malloc(out->lens[i]);
        memcpy(out->bytes[i], base->bytes[a], base->lens[a]);
        memcpy(out->bytes[i] + base->lens[a], base->bytes[b], base->lens[b]);
    }
}

int main(int argc, char **argv)
{
    printf("%-28s %-12s %5s %10s %10s %10s %10s\n", "vocabulary", "grammar", "steps",
           "mean ms", "median ms", "max ms", "max work");
    struct vocab first = {0};
    struct hr_tok *first_tok = NULL;
    for (int a = 1; a < argc; a++) {
        struct vocab v = {0};
        struct hr_tok *tok = NULL;
        if (load(&v, argv[a], &tok) != 0)
            continue;
        bench(&v);
        if (!first_tok) {
            first = v;
            first_tok = tok;
        } else {
            unload(&v);
            hr_tok_free(tok);
        }
    }
    if (first_tok) {
        struct vocab syn;
        synthetic(&syn, &first, 128000);
        bench(&syn);
        unload(&syn);
        unload(&first);
        hr_tok_free(first_tok);
    }
    return 0;
}
