/* `hearth bench`: the engine's speed on one model, in llama-bench's shape so the two can be
 * read side by side: prompt processing (pp: one sequence evaluated in one batch), text
 * generation (tg: one token per step), and batched decode (several sequences one token each
 * per step, aggregate tokens/s: what a server with that many running requests gets). Each test
 * runs once to warm up, then -r times; the table shows mean ± standard deviation. Tokens are
 * pseudo-random ids (as llama-bench's), the KV cache starts empty for every run, and no
 * prefix is reused. Main thread. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "engine/engine.h"

static const char usage_text[] =
    "usage: hearth bench --model FILE [-p N] [-n N] [-t N] [-r N] [--batch B,B...]\n"
    "                    [--kv-type f16|f32|q8_0] [-o table|json]\n"
    "\n"
    "Measures prompt processing (ppN), text generation (tgN) and batched decode\n"
    "(tgN bB: B sequences at once, aggregate tokens/s) in tokens per second.\n"
    "  --model FILE   GGUF model (required)\n"
    "  -p N           prompt tokens for pp (default 512; 0 skips it)\n"
    "  -n N           generated tokens for tg and batched decode (default 128; 0 skips them)\n"
    "  -t N           threads (default 2, as the reference figures; 0: one per CPU)\n"
    "  -r N           repetitions after one warm-up run (default 3)\n"
    "  --batch LIST   batched decode sizes, comma-separated (default 4,8,16; \"\" skips)\n"
    "  --kv-type T    KV cache element type (default f16, as the server's)\n"
    "  -o FORMAT      table (default, like llama-bench's markdown) or json\n";

#define MAX_BATCHES 8

struct bench_opts {
    const char *model;
    uint32_t p, n, threads, reps;
    uint32_t batch[MAX_BATCHES];
    size_t n_batch;
    enum hr_kv_type kv_type;
    bool json;
};

struct bench_result {
    char test[32];
    uint32_t n_seqs, n_tokens; /* tokens per run: n_seqs x (tokens each) */
    double mean, sd;           /* tokens/s */
    double samples[64];
    uint32_t n_samples;
};

static int bad(const char *opt, const char *v, const char *want)
{
    fprintf(stderr, "hearth: bench: %s: expected %s, got '%s'\n", opt, want, v);
    return 2;
}

static bool parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *v == '-' || errno || *end || x < lo || x > hi)
        return false;
    *out = (uint32_t)x;
    return true;
}

static int parse_batches(const char *v, struct bench_opts *o)
{
    o->n_batch = 0;
    for (const char *p = v; *p;) {
        char item[16];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item || o->n_batch == MAX_BATCHES)
            return bad("--batch", v, "up to 8 sizes in 1..256, comma-separated");
        memcpy(item, p, len);
        item[len] = '\0';
        if (!parse_u32(item, 1, 256, &o->batch[o->n_batch++]))
            return bad("--batch", v, "up to 8 sizes in 1..256, comma-separated");
        p += len + (p[len] == ',');
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    *o = (struct bench_opts){.p = 512, .n = 128, .threads = 2, .reps = 3, .n_batch = 3,
                             .batch = {4, 8, 16}, .kv_type = HR_KV_F16};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hearth: bench: %s: missing value (see hearth bench --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "-p"))
            rc = parse_u32(v, 0, 65536, &o->p) ? 0 : bad(a, v, "an integer in 0..65536");
        else if (!strcmp(a, "-n"))
            rc = parse_u32(v, 0, 65536, &o->n) ? 0 : bad(a, v, "an integer in 0..65536");
        else if (!strcmp(a, "-t"))
            rc = parse_u32(v, 0, 256, &o->threads) ? 0 : bad(a, v, "an integer in 0..256");
        else if (!strcmp(a, "-r"))
            rc = parse_u32(v, 1, 64, &o->reps) ? 0 : bad(a, v, "an integer in 1..64");
        else if (!strcmp(a, "--batch"))
            rc = parse_batches(v, o);
        else if (!strcmp(a, "--kv-type")) {
            if (!strcmp(v, "f16"))
                o->kv_type = HR_KV_F16;
            else if (!strcmp(v, "f32"))
                o->kv_type = HR_KV_F32;
            else if (!strcmp(v, "q8_0"))
                o->kv_type = HR_KV_Q8_0;
            else
                rc = bad(a, v, "f16, f32 or q8_0");
        } else if (!strcmp(a, "-o")) {
            if (!strcmp(v, "json") || !strcmp(v, "table"))
                o->json = !strcmp(v, "json");
            else
                rc = bad(a, v, "table or json");
        } else {
            fprintf(stderr, "hearth: bench: unknown option '%s' (see hearth bench --help)\n", a);
            return 2;
        }
        if (rc)
            return rc;
    }
    if (!o->model) {
        fprintf(stderr, "hearth: bench: --model FILE is required\n");
        return 2;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The next pseudo-random token id (xorshift): any valid id exercises the same work. */
static int32_t next_token(uint64_t *s, uint32_t n_vocab)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (int32_t)(*s % n_vocab);
}

struct bench_env {
    const struct hr_model *m;
    struct hr_runner *runner;
    struct hr_kv *kv;
    struct hr_pool *pool;
    struct hr_batch_tok *toks;
    float *logits;
    uint64_t rng;
};

/* One run: n_seqs sequences from position 0; prompt tokens in one batch first (pp) or
 * steps of one token per sequence (tg). Returns seconds, or a negative error. */
static double run_once(struct bench_env *e, uint32_t n_seqs, uint32_t prompt, uint32_t steps)
{
    const struct hr_model *m = e->m;
    for (uint32_t s = 0; s < n_seqs; s++) {
        hr_kv_seq_release(e->kv, s);
        int rc = hr_kv_seq_reserve(e->kv, s, prompt + steps);
        if (rc)
            return rc;
    }
    double t0 = now_s();
    if (prompt) {
        for (uint32_t i = 0; i < prompt; i++)
            e->toks[i] = (struct hr_batch_tok){next_token(&e->rng, m->n_vocab), 0, i,
                                               i + 1 == prompt};
        int rc = hr_runner_eval(e->runner, e->kv, e->toks, prompt, e->logits, e->pool);
        if (rc)
            return rc;
    }
    for (uint32_t step = 0; step < steps; step++) {
        for (uint32_t s = 0; s < n_seqs; s++)
            e->toks[s] = (struct hr_batch_tok){next_token(&e->rng, m->n_vocab), s, step, true};
        int rc = hr_runner_eval(e->runner, e->kv, e->toks, n_seqs, e->logits, e->pool);
        if (rc)
            return rc;
    }
    return now_s() - t0;
}

static int measure(struct bench_env *e, const struct bench_opts *o, struct bench_result *res,
                   uint32_t n_seqs, uint32_t prompt, uint32_t steps)
{
    res->n_seqs = n_seqs;
    res->n_tokens = prompt ? prompt : n_seqs * steps;
    res->n_samples = 0;
    double sum = 0;
    for (uint32_t r = 0; r <= o->reps; r++) {
        double t = run_once(e, n_seqs, prompt, steps);
        if (t < 0)
            return (int)t;
        if (r == 0)
            continue; /* warm-up: page faults, caches, the pool's threads */
        double tps = res->n_tokens / t;
        res->samples[res->n_samples++] = tps;
        sum += tps;
    }
    res->mean = sum / res->n_samples;
    double var = 0;
    for (uint32_t i = 0; i < res->n_samples; i++)
        var += (res->samples[i] - res->mean) * (res->samples[i] - res->mean);
    res->sd = res->n_samples > 1 ? sqrt(var / (res->n_samples - 1)) : 0;
    return 0;
}

static uint64_t n_params(const struct hr_model *m)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &m->gguf->tensors[i];
        n += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    return n;
}

/* Bytes of weights one decode step reads: every tensor but the embedding table, of which one
 * row per token is read (all of it when tied, as the classifier). */
static uint64_t bytes_per_token(const struct hr_model *m)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &m->gguf->tensors[i];
        bool embd = t->name.len == 17 && memcmp(t->name.ptr, "token_embd.weight", 17) == 0;
        n += embd && !m->is_tied ? t->n_bytes / (t->ne[1] ? t->ne[1] : 1) : t->n_bytes;
    }
    return n;
}

static void print_table(const struct hr_model *m, uint32_t threads,
                        const struct bench_result *res, size_t n)
{
    const char *label = hr_model_type_name(m); /* "llama 107M Q8_0", as llama-bench's */
    printf("| model | size | params | backend | threads | test | t/s |\n");
    printf("| --- | ---: | ---: | --- | ---: | --- | ---: |\n");
    for (size_t i = 0; i < n; i++)
        printf("| %s | %.2f MiB | %.2f M | CPU | %u | %s | %.2f ± %.2f |\n", label,
               m->file_bytes / 1048576.0, n_params(m) / 1e6, threads, res[i].test,
               res[i].mean, res[i].sd);
}

static void print_json(const struct hr_model *m, uint32_t threads,
                       const struct bench_result *res, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) {
        printf("%s\n  {\"model_filename\": \"", i ? "," : "");
        for (const char *p = m->path; *p; p++) /* a JSON string: escape what must be */
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if ((unsigned char)*p < 0x20)
                printf("\\u%04x", *p);
            else
                putchar(*p);
        printf("\", \"model_type\": \"%s\", \"model_size\": %llu, \"model_n_params\": %llu, "
               "\"weight_bytes_per_token\": %llu, \"n_threads\": %u, \"test\": \"%s\", "
               "\"n_seqs\": %u, \"n_tokens\": %u, "
               "\"avg_ts\": %.3f, \"stddev_ts\": %.3f, \"samples_ts\": [",
               hr_model_type_name(m), (unsigned long long)m->file_bytes,
               (unsigned long long)n_params(m), (unsigned long long)bytes_per_token(m), threads,
               res[i].test, res[i].n_seqs,
               res[i].n_tokens, res[i].mean, res[i].sd);
        for (uint32_t k = 0; k < res[i].n_samples; k++)
            printf("%s%.3f", k ? ", " : "", res[i].samples[k]);
        printf("]}");
    }
    printf("\n]\n");
}

int hr_cmd_bench(int argc, char **argv)
{
    struct bench_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct hr_diag d = {{0}};
    struct hr_model *m = NULL;
    rc = hr_model_load(&m, o.model, &d);
    if (rc) {
        fprintf(stderr, "hearth: bench: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        return 1;
    }
    uint32_t max_seqs = 1, max_steps = o.n;
    for (size_t i = 0; i < o.n_batch; i++)
        max_seqs = o.batch[i] > max_seqs ? o.batch[i] : max_seqs;
    uint32_t per_seq = o.p > max_steps ? o.p : max_steps;
    uint32_t n_threads = o.threads;
    if (!n_threads) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (uint32_t)c : 1;
    }
    struct bench_env e = {.m = m, .rng = 0x9E3779B97F4A7C15ull};
    uint32_t blocks = max_seqs * ((per_seq + HR_KV_BLOCK - 1) / HR_KV_BLOCK);
    uint32_t n_toks = o.p > max_seqs ? o.p : max_seqs;
    struct bench_result res[2 + MAX_BATCHES];
    size_t n_res = 0;
    if (per_seq == 0) {
        fprintf(stderr, "hearth: bench: -p and -n are both 0: nothing to measure\n");
        rc = 2;
        goto out;
    }
    if (per_seq > m->n_ctx_train && m->n_ctx_train) {
        fprintf(stderr, "hearth: bench: %s: %u positions exceed the model's context of %u\n",
                o.model, per_seq, m->n_ctx_train);
        rc = 2;
        goto out;
    }
    rc = hr_runner_new(&e.runner, m, per_seq);
    if (!rc)
        rc = hr_kv_new(&e.kv, m, o.kv_type, blocks, max_seqs, per_seq);
    if (!rc)
        rc = hr_pool_new(&e.pool, (int)n_threads);
    e.toks = malloc(n_toks * sizeof *e.toks);
    e.logits = malloc((size_t)max_seqs * m->n_vocab * sizeof(float));
    if (!rc && (!e.toks || !e.logits))
        rc = HR_ENOMEM;
    if (rc) {
        fprintf(stderr, "hearth: bench: %s: %s\n", o.model, hr_err_str(rc));
        rc = 1;
        goto out;
    }
    if (o.p) {
        snprintf(res[n_res].test, sizeof res[n_res].test, "pp%u", o.p);
        rc = measure(&e, &o, &res[n_res++], 1, o.p, 0);
    }
    if (!rc && o.n) {
        snprintf(res[n_res].test, sizeof res[n_res].test, "tg%u", o.n);
        rc = measure(&e, &o, &res[n_res++], 1, 0, o.n);
        for (size_t i = 0; !rc && i < o.n_batch; i++) {
            snprintf(res[n_res].test, sizeof res[n_res].test, "tg%u b%u", o.n, o.batch[i]);
            rc = measure(&e, &o, &res[n_res++], o.batch[i], 0, o.n);
        }
    }
    if (rc) {
        fprintf(stderr, "hearth: bench: %s: %s\n", o.model, hr_err_str(rc));
        rc = 1;
        goto out;
    }
    if (o.json)
        print_json(m, n_threads, res, n_res);
    else
        print_table(m, n_threads, res, n_res);
out:
    free(e.toks);
    free(e.logits);
    hr_pool_free(e.pool);
    hr_kv_free(e.kv);
    hr_runner_free(e.runner);
    hr_model_free(m);
    return rc;
}
