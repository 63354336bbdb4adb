/* `hearth run`: one-shot generation on the calling thread, using the engine's direct API.
 * The prompt comes from the arguments or stdin, raw (BOS as the vocabulary says) or through
 * the model's chat template with --chat; the answer streams to stdout and nothing else goes
 * there (diagnostics go to stderr). Main thread. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "engine/engine.h"

static const char usage_text[] =
    "usage: hearth run --model FILE [OPTIONS] [PROMPT...]\n"
    "\n"
    "Generates a continuation of PROMPT (or of standard input when no PROMPT is given)\n"
    "and streams it to standard output.\n"
    "\n"
    "  --model FILE        GGUF model to run (required)\n"
    "  --chat              wrap the prompt as a user message in the model's chat template\n"
    "  --system TEXT       system message for --chat\n"
    "  --max-tokens N      stop after N generated tokens (default 256; 0 = until the\n"
    "                      context is full)\n"
    "  --temperature T     0 = greedy (default 0.8)\n"
    "  --top-k K           keep the K most likely tokens (default 40; 0 = off)\n"
    "  --top-p P           nucleus sampling threshold in (0, 1] (default 0.95)\n"
    "  --seed S            sampling seed (default: random)\n"
    "  --threads N         compute threads (default: number of CPUs)\n"
    "  --ctx N             context size in tokens (default: the model's, at most 4096)\n"
    "  --ignore-eos        keep generating past end-of-generation tokens\n"
    "  --grammar FILE      constrain the output to a GBNF grammar (llama.cpp's syntax)\n"
    "  --json-schema FILE  constrain the output to a JSON Schema (--strict: OpenAI's strict\n"
    "                      mode, every property required)\n"
    "  --json              constrain the output to any JSON object\n"
    "  --timings           print prompt and generation speed to stderr at the end\n"
    "  --verbose           also print memory: weights (mapped), KV cache, scratch, resident\n";

struct run_opts {
    const char *model;
    bool chat;
    const char *system;
    uint32_t max_tokens;
    float temperature;
    int32_t top_k;
    float top_p;
    uint64_t seed;
    bool has_seed;
    uint32_t threads;
    uint32_t ctx;
    bool ignore_eos;
    bool timings;
    bool verbose;
    const char *grammar_file;
    const char *schema_file;
    bool strict;
    bool json;
};

static int bad(const char *flag, const char *why, const char *value)
{
    fprintf(stderr, "hearth: run: %s: %s, got '%s'\n", flag, why, value ? value : "");
    return 2;
}

static int parse_u64(const char *flag, const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!s || !*s || *s == '-')
        return bad(flag, "expected a non-negative integer", s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return bad(flag, "expected a non-negative integer in range", s);
    *out = v;
    return 0;
}

static int parse_float(const char *flag, const char *s, float lo, float hi, float *out)
{
    char *end = NULL;
    errno = 0;
    double v = s && *s ? strtod(s, &end) : NAN;
    if (!s || !*s || errno || *end || !(v >= lo && v <= hi))
        return bad(flag, "expected a number in range", s);
    *out = (float)v;
    return 0;
}

/* Parses options; positional words are joined into *prompt (malloc'd) or left NULL. */
static int parse_opts(int argc, char **argv, struct run_opts *o, char **prompt)
{
    size_t plen = 0;
    *prompt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u = 0;
        int rc = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return -1;
        } else if (strcmp(a, "--chat") == 0) {
            o->chat = true;
            continue;
        } else if (strcmp(a, "--ignore-eos") == 0) {
            o->ignore_eos = true;
            continue;
        } else if (strcmp(a, "--timings") == 0) {
            o->timings = true;
            continue;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        } else if (strcmp(a, "--strict") == 0) {
            o->strict = true;
            continue;
        } else if (strcmp(a, "--verbose") == 0) {
            o->verbose = o->timings = true;
            continue;
        } else if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == '\0') {
            int from = strcmp(a, "--") == 0 ? i + 1 : i;
            for (int k = from; k < argc; k++) {
                size_t n = strlen(argv[k]);
                char *p = realloc(*prompt, plen + n + 2);
                if (!p)
                    return 1;
                *prompt = p;
                if (plen)
                    p[plen++] = ' ';
                memcpy(p + plen, argv[k], n + 1);
                plen += n;
            }
            return 0;
        } else if (!v) {
            return bad(a, "missing value", "");
        } else if (strcmp(a, "--model") == 0) {
            o->model = v;
        } else if (strcmp(a, "--system") == 0) {
            o->system = v;
        } else if (strcmp(a, "--grammar") == 0) {
            o->grammar_file = v;
        } else if (strcmp(a, "--json-schema") == 0) {
            o->schema_file = v;
        } else if (strcmp(a, "--max-tokens") == 0) {
            rc = parse_u64(a, v, HR_MODEL_MAX_CTX, &u);
            o->max_tokens = (uint32_t)u;
        } else if (strcmp(a, "--temperature") == 0) {
            rc = parse_float(a, v, 0.0f, 100.0f, &o->temperature);
        } else if (strcmp(a, "--top-k") == 0) {
            rc = parse_u64(a, v, INT32_MAX, &u);
            o->top_k = (int32_t)u;
        } else if (strcmp(a, "--top-p") == 0) {
            rc = parse_float(a, v, 1e-6f, 1.0f, &o->top_p);
        } else if (strcmp(a, "--seed") == 0) {
            rc = parse_u64(a, v, UINT64_MAX, &o->seed);
            o->has_seed = true;
        } else if (strcmp(a, "--threads") == 0) {
            rc = parse_u64(a, v, HR_MAX_THREADS, &u);
            o->threads = (uint32_t)u;
        } else if (strcmp(a, "--ctx") == 0) {
            rc = parse_u64(a, v, HR_MODEL_MAX_CTX, &u);
            o->ctx = (uint32_t)u;
        } else {
            fprintf(stderr, "hearth: run: unknown option '%s' (see hearth run --help)\n", a);
            return 2;
        }
        if (rc)
            return rc;
        i++;
    }
    return 0;
}

static char *read_stdin(size_t *n_out)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= HR_MAX_PROMPT_BYTES) {
                fprintf(stderr, "hearth: run: stdin: prompt longer than %u bytes\n",
                        HR_MAX_PROMPT_BYTES);
                free(buf);
                return NULL;
            }
            char *p = realloc(buf, cap * 2);
            if (!p)
                break;
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, stdin);
        n += got;
        if (got == 0)
            break;
    }
    if (buf) {
        buf[n] = '\0';
        *n_out = n;
    }
    return buf;
}

static char *render_chat(const struct hr_model *m, const struct run_opts *o, const char *prompt)
{
    struct hr_chat_msg msgs[2];
    size_t n = 0;
    if (o->system)
        msgs[n++] = (struct hr_chat_msg){"system", o->system};
    msgs[n++] = (struct hr_chat_msg){"user", prompt};
    struct hr_jval *list = hr_chat_messages(msgs, n);
    char *out = NULL;
    struct hr_diag d = {{0}};
    int err = list ? hr_model_apply_chat(m, list, NULL, true, (int64_t)time(NULL), &out, &d)
                   : HR_ENOMEM;
    hr_jval_unref(list);
    if (err)
        fprintf(stderr, "hearth: run: chat template: %s\n", d.msg[0] ? d.msg : hr_err_str(err));
    return out;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int mask_cb(void *ud, float *logits)
{
    return hr_grammar_apply_mask(ud, logits);
}

static int generate(const struct hr_model *m, const struct run_opts *o, const int32_t *prompt,
                    size_t n_prompt, uint32_t n_ctx, struct hr_grammar *g)
{
    struct hr_grammar_vocab *gv = NULL;
    struct hr_grammar_state *gs = NULL;
    struct hr_pool *pool = NULL;
    struct hr_ctx *ctx = NULL;
    struct hr_sampler sampler;
    bool has_sampler = false;
    float *logits = malloc((size_t)m->n_vocab * sizeof *logits);
    int status = 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = o->threads ? (int)o->threads : (int)(ncpu > 0 ? ncpu : 1);
    struct hr_sampler_params sp = {
        .temperature = o->temperature, .top_k = o->top_k, .top_p = o->top_p, .seed = o->seed};
    if (!logits || hr_pool_new(&pool, threads) != 0 || hr_ctx_new(&ctx, m, n_ctx) != 0) {
        fprintf(stderr, "hearth: run: out of memory for a context of %u tokens\n", n_ctx);
        goto done;
    }
    if (hr_sampler_init(&sampler, &sp, (int32_t)m->n_vocab) != 0) {
        fprintf(stderr, "hearth: run: invalid sampling parameters\n");
        goto done;
    }
    has_sampler = true;
    if (g && (hr_grammar_vocab_new(&gv, m->tok) || hr_grammar_state_new(&gs, g, gv) ||
              hr_sampler_set_mask(&sampler, mask_cb, gs))) {
        fprintf(stderr, "hearth: run: cannot start the grammar\n");
        goto done;
    }
    double t0 = now_ms();
    int rc = hr_ctx_eval(ctx, prompt, (uint32_t)n_prompt, 0, logits, pool);
    double t1 = now_ms();
    uint32_t n_gen = 0;
    uint32_t pos = (uint32_t)n_prompt;
    uint32_t limit = o->max_tokens ? (uint32_t)n_prompt + o->max_tokens : n_ctx;
    if (limit > n_ctx)
        limit = n_ctx;
    struct hr_detok dt;
    hr_detok_init(&dt);
    char buf[HR_TOK_MAX_PIECE + 16];
    while (rc == 0 && pos < limit) {
        int32_t tok = hr_sampler_sample(&sampler, logits);
        if (tok < 0 || (gs && !hr_tok_is_eog(m->tok, tok) && hr_grammar_accept_token(gs, tok))) {
            fprintf(stderr, "hearth: run: the grammar cannot continue: %s\n",
                    hr_err_str(tok < 0 ? sampler.mask_err : HR_EINVAL));
            goto done;
        }
        if ((!o->ignore_eos || gs) && hr_tok_is_eog(m->tok, tok))
            break;
        size_t nb = hr_detok_push(&dt, m->tok, tok, buf, sizeof buf);
        if (nb && (fwrite(buf, 1, nb, stdout) != nb || fflush(stdout) != 0))
            goto done; /* stdout closed (a pipe's reader left): stop quietly */
        n_gen++;
        if (pos + 1 >= limit || (gs && hr_grammar_is_complete(gs)))
            break;
        rc = hr_ctx_eval(ctx, &tok, 1, pos, logits, pool);
        pos++;
    }
    double t2 = now_ms();
    if (rc != 0) {
        fprintf(stderr, "hearth: run: forward pass failed: %s\n", hr_err_str(rc));
        goto done;
    }
    size_t nb = hr_detok_flush(&dt, buf, sizeof buf);
    fwrite(buf, 1, nb, stdout);
    if (isatty(STDOUT_FILENO))
        fputc('\n', stdout);
    fflush(stdout);
    if (o->timings)
        fprintf(stderr,
                "hearth: timings: prompt %zu tokens in %.1f ms (%.1f tok/s); generation %u "
                "tokens in %.1f ms (%.1f tok/s); %d threads; kernels %s\n",
                n_prompt, t1 - t0, n_prompt * 1e3 / (t1 - t0 > 0 ? t1 - t0 : 1), n_gen,
                t2 - t1, n_gen * 1e3 / (t2 - t1 > 0 ? t2 - t1 : 1), threads, hr_kernels_name());
    if (o->verbose) {
        /* resident pages from /proc: what the process really holds, mapped weights included */
        long pages = 0, resident = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f) {
            if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
                resident = 0;
            fclose(f);
        }
        double mib = 1024.0 * 1024.0;
        fprintf(stderr,
                "hearth: memory: weights %.1f MiB (mapped file, not copied); KV cache %.1f MiB "
                "(%u tokens); scratch %.1f MiB; resident %.1f MiB\n",
                (double)m->file_bytes / mib, (double)hr_ctx_kv_bytes(ctx) / mib, n_ctx,
                (double)hr_ctx_scratch_bytes(ctx) / mib,
                (double)resident * (double)sysconf(_SC_PAGESIZE) / mib);
    }
    status = 0;
done:
    if (has_sampler)
        hr_sampler_deinit(&sampler);
    hr_ctx_free(ctx);
    hr_pool_free(pool);
    hr_grammar_state_free(gs);
    hr_grammar_vocab_free(gv);
    free(logits);
    return status;
}

int hr_cmd_run(int argc, char **argv)
{
    struct run_opts o = {0};
    o.max_tokens = 256;
    o.temperature = 0.8f;
    o.top_k = 40;
    o.top_p = 0.95f;
    char *prompt = NULL;
    int rc = parse_opts(argc, argv, &o, &prompt);
    if (rc != 0) {
        free(prompt);
        return rc < 0 ? 0 : rc;
    }
    if (!o.model) {
        free(prompt);
        fprintf(stderr, "hearth: run: --model: a GGUF file is required\n");
        return 2;
    }
    struct hr_grammar *g = NULL;
    rc = hr_cmd_load_grammar(o.grammar_file, o.schema_file, o.strict, o.json, &g, NULL);
    if (rc != 0) {
        free(prompt);
        return rc;
    }
    if (!o.has_seed && getrandom(&o.seed, sizeof o.seed, 0) != (ssize_t)sizeof o.seed)
        o.seed = (uint64_t)getpid();
    size_t prompt_len = 0;
    if (!prompt) {
        prompt = read_stdin(&prompt_len);
        if (!prompt) {
            hr_grammar_unref(g);
            return 1;
        }
    } else {
        prompt_len = strlen(prompt);
    }
    hr_log_set_level(HR_LOG_WARN);
    struct hr_model *m = NULL;
    struct hr_diag d = {{0}};
    int status = 1;
    int32_t *ids = NULL;
    char *rendered = NULL;
    rc = hr_model_load(&m, o.model, &d);
    if (rc != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        goto done;
    }
    const char *text = prompt;
    bool add_special = true, parse_special = false;
    if (o.chat) {
        rendered = render_chat(m, &o, prompt);
        if (!rendered)
            goto done;
        text = rendered;
        prompt_len = strlen(rendered);
        add_special = false;
        parse_special = true;
    }
    size_t n = 0, cap = hr_tok_max_tokens(prompt_len);
    ids = malloc(cap * sizeof *ids);
    if (!ids || hr_tok_encode(m->tok, text, prompt_len, add_special, parse_special, ids, cap,
                              &n) != 0) {
        fprintf(stderr, "hearth: run: cannot tokenize the prompt\n");
        goto done;
    }
    uint32_t n_ctx = o.ctx ? o.ctx : (m->n_ctx_train < 4096 ? m->n_ctx_train : 4096);
    if (n == 0 || n >= n_ctx) {
        fprintf(stderr, "hearth: run: the prompt has %zu tokens; the context holds %u\n", n,
                n_ctx);
        goto done;
    }
    status = generate(m, &o, ids, n, n_ctx, g);
done:
    hr_grammar_unref(g);
    free(ids);
    free(rendered);
    free(prompt);
    hr_model_free(m);
    return status;
}
