/* Embeddings (model_embed.c): pooled, L2-normalised final hidden states of make-model files
 * against tests/oracle/forward_ref.py --embed (numpy, float64) for every pooling type on three
 * architectures; unit norm; bit-identical alone, batched, reordered and threaded; the pooling
 * and causal keys read at load (out-of-range refused naming the key); bad inputs refused with
 * their codes, leaving the output untouched; make-model --pooling. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "engine/engine.h"

static const char *const pool_names[] = {"mean", "cls", "last"};
static const enum hr_pooling pool_ids[] = {HR_POOLING_MEAN, HR_POOLING_CLS, HR_POOLING_LAST};

static struct hr_model *make_model(const char *file, const char *arch, const char *pooling,
                                   uint32_t type, char *path, size_t cap)
{
    tu_tmpfile(file, path, cap);
    struct hr_synth_params p = {"tiny", type, path, NULL, 11, NULL, arch, pooling};
    struct hr_diag d = {{0}};
    if (hr_synth_write(&p, &d) != 0)
        fail_msg("make-model %s: %s", file, d.msg);
    struct hr_model *m = NULL;
    if (hr_model_load(&m, path, &d) != 0)
        fail_msg("load %s: %s", file, d.msg);
    return m;
}

/* The numpy oracle's embedding of toks (n_embd doubles, caller frees). */
static double *oracle_embed(const char *model, const char *pooling, bool raw, const int32_t *toks,
                            uint32_t n, uint32_t n_embd)
{
    char out[512], cmd[4096];
    tu_tmpfile("oracle.f64", out, sizeof out);
    size_t o = (size_t)snprintf(cmd, sizeof cmd,
                                "/usr/bin/python3 tests/oracle/forward_ref.py --embed %s%s %s %s",
                                pooling, raw ? " --raw" : "", model, out);
    for (uint32_t i = 0; i < n && o < sizeof cmd; i++)
        o += (size_t)snprintf(cmd + o, sizeof cmd - o, " %d", toks[i]);
    assert_true(o < sizeof cmd);
    assert_int_equal(system(cmd), 0);
    size_t nb = 0;
    char *bytes = tu_read_file(out, &nb);
    assert_non_null(bytes);
    assert_int_equal(nb, n_embd * sizeof(double));
    double *v = malloc(nb);
    memcpy(v, bytes, nb);
    free(bytes);
    return v;
}

static double l2(const float *v, uint32_t n)
{
    double ss = 0;
    for (uint32_t i = 0; i < n; i++)
        ss += (double)v[i] * v[i];
    return sqrt(ss);
}

/* 70 tokens: two forward batches and five KV blocks. */
static uint32_t test_tokens(int32_t *toks, uint32_t seed)
{
    toks[0] = 1;
    for (uint32_t i = 1; i < 70; i++)
        toks[i] = 3 + (int32_t)((i * 37 + seed * 101) % 500);
    return 70;
}

static void test_pooling_against_numpy(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        skip();
    /* gemma2: scaled input embeddings, and soft-capped logits that must not reach the vector */
    const char *arches[] = {"llama", "qwen2", "gemma2"};
    int32_t toks[70];
    uint32_t n = test_tokens(toks, 0);
    for (size_t a = 0; a < sizeof arches / sizeof arches[0]; a++) {
        for (int p = 0; p < 3; p++) {
            char file[64], path[512];
            snprintf(file, sizeof file, "emb-%s-%s.gguf", arches[a], pool_names[p]);
            struct hr_model *m = make_model(file, arches[a], pool_names[p], HR_TYPE_F32, path,
                                            sizeof path);
            assert_true(m->has_pooling);
            assert_int_equal(m->pooling, pool_ids[p]);
            assert_true(m->is_causal);
            struct hr_embedder *e = NULL;
            assert_int_equal(hr_embedder_new(&e, m, 128), 0);
            uint32_t ne = m->n_embd;
            float *got = malloc(ne * sizeof *got), *raw = malloc(ne * sizeof *raw);
            struct hr_embed_seq seq = {toks, n};
            assert_int_equal(
                hr_embedder_run(e, &seq, 1, HR_POOLING_UNSPECIFIED, true, got, NULL), 0);
            assert_int_equal(
                hr_embedder_run(e, &seq, 1, HR_POOLING_UNSPECIFIED, false, raw, NULL), 0);
            double *want = oracle_embed(path, pool_names[p], false, toks, n, ne);
            double *want_raw = oracle_embed(path, pool_names[p], true, toks, n, ne);
            double worst = 0, worst_raw = 0, scale = 0;
            for (uint32_t k = 0; k < ne; k++) {
                worst = fmax(worst, fabs(got[k] - want[k]));
                worst_raw = fmax(worst_raw, fabs(raw[k] - want_raw[k]));
                scale = fmax(scale, fabs(want_raw[k]));
            }
            double norm = l2(got, ne);
            printf("numpy %s %s: max |diff| %.2e normalised, %.2e raw (max |v| %.2f), "
                   "|v| - 1 = %.1e\n", arches[a], pool_names[p], worst, worst_raw, scale,
                   norm - 1);
            assert_true(worst < 1e-5);
            assert_true(worst_raw < 1e-5 * fmax(1.0, scale));
            assert_true(fabs(norm - 1) < 1e-6);
            assert_true(fabs(l2(raw, ne) - 1) > 1e-3); /* raw really is not normalised */
            free(want);
            free(want_raw);
            free(got);
            free(raw);
            hr_embedder_free(e);
            hr_model_free(m);
        }
    }
}

/* A model without pooling_type has NONE, as in llama.cpp: a request must name a pooling, and
 * then gets what a model carrying that key gives (same seed, same weights). */
static void test_model_without_pooling_key(void **state)
{
    (void)state;
    char path[512], path2[512];
    struct hr_model *m = make_model("emb-nokey.gguf", "llama", NULL, HR_TYPE_F32, path,
                                    sizeof path);
    assert_false(m->has_pooling);
    assert_int_equal(m->pooling, HR_POOLING_NONE);
    assert_true(m->is_causal);
    struct hr_model *last = make_model("emb-last.gguf", "llama", "last", HR_TYPE_F32, path2,
                                       sizeof path2);
    int32_t toks[70];
    uint32_t n = test_tokens(toks, 3);
    struct hr_embed_seq seq = {toks, n};
    struct hr_embedder *e = NULL, *e2 = NULL;
    assert_int_equal(hr_embedder_new(&e, m, 70), 0);
    assert_int_equal(hr_embedder_new(&e2, last, 70), 0);
    float a[64], b[64];
    assert_int_equal(hr_embedder_run(e, &seq, 1, HR_POOLING_UNSPECIFIED, true, a, NULL),
                     HR_EUNSUPPORTED);
    for (int p = 0; p < 3; p++) {
        assert_int_equal(hr_embedder_run(e, &seq, 1, pool_ids[p], true, a, NULL), 0);
        assert_int_equal(hr_embedder_run(e2, &seq, 1, pool_ids[p], true, b, NULL), 0);
        assert_memory_equal(a, b, sizeof a);
    }
    /* the three poolings give three different vectors */
    float c[3][64];
    for (int p = 0; p < 3; p++)
        assert_int_equal(hr_embedder_run(e, &seq, 1, pool_ids[p], true, c[p], NULL), 0);
    assert_true(memcmp(c[0], c[1], sizeof c[0]) != 0 && memcmp(c[1], c[2], sizeof c[0]) != 0 &&
                memcmp(c[0], c[2], sizeof c[0]) != 0);
    hr_embedder_free(e);
    hr_embedder_free(e2);
    hr_model_free(m);
    hr_model_free(last);
}

/* Sequences embedded alone, then together in one call, in reverse order, on two threads, and
 * among 200 others: every vector bit-identical. */
static void check_batch_invariance(const char *arch, uint32_t type)
{
    char path[512], file[64];
    snprintf(file, sizeof file, "emb-batch-%s-%u.gguf", arch, type);
    struct hr_model *m = make_model(file, arch, "mean", type, path, sizeof path);
    uint32_t ne = m->n_embd;
    enum { N = 6 };
    const uint32_t lens[N] = {5, 70, 1, 17, 64, 3};
    static int32_t toks[N][70];
    struct hr_embed_seq seqs[N], rev[N];
    for (int s = 0; s < N; s++) {
        for (uint32_t i = 0; i < lens[s]; i++)
            toks[s][i] = 3 + (int32_t)((i * 53 + (uint32_t)s * 29) % 400);
        seqs[s] = (struct hr_embed_seq){toks[s], lens[s]};
        rev[N - 1 - s] = seqs[s];
    }
    struct hr_embedder *e = NULL;
    assert_int_equal(hr_embedder_new(&e, m, 70), 0);
    struct hr_pool *pool = NULL;
    assert_int_equal(hr_pool_new(&pool, 2), 0);
    float *alone = malloc((size_t)N * ne * sizeof *alone);
    float *got = malloc((size_t)N * ne * sizeof *got);
    /* 200 sequences: lengths 1..40, the N test sequences at indices 7, 37, ... */
    enum { MANY = 200 };
    static int32_t filler[40];
    for (int i = 0; i < 40; i++)
        filler[i] = 5 + i * 7;
    struct hr_embed_seq many[MANY];
    float *many_out = malloc((size_t)MANY * ne * sizeof *many_out);
    for (int p = 0; p < 3; p++) {
        for (int s = 0; s < N; s++)
            assert_int_equal(
                hr_embedder_run(e, &seqs[s], 1, pool_ids[p], true, alone + (size_t)s * ne, NULL),
                0);
        assert_int_equal(hr_embedder_run(e, seqs, N, pool_ids[p], true, got, NULL), 0);
        assert_memory_equal(alone, got, (size_t)N * ne * sizeof *got);
        assert_int_equal(hr_embedder_run(e, rev, N, pool_ids[p], true, got, pool), 0);
        for (int s = 0; s < N; s++)
            assert_memory_equal(alone + (size_t)s * ne, got + (size_t)(N - 1 - s) * ne,
                                ne * sizeof *got);
        for (int i = 0; i < MANY; i++)
            many[i] = (struct hr_embed_seq){filler, 1 + (uint32_t)(i * 13) % 40};
        for (int s = 0; s < N; s++)
            many[7 + 30 * s] = seqs[s];
        assert_int_equal(hr_embedder_run(e, many, MANY, pool_ids[p], true, many_out, pool), 0);
        for (int s = 0; s < N; s++)
            assert_memory_equal(alone + (size_t)s * ne, many_out + (size_t)(7 + 30 * s) * ne,
                                ne * sizeof *got);
        /* equal inputs anywhere in the call give equal vectors (i and i + 40: same length) */
        for (int i = 0; i + 40 < MANY; i++)
            if (many[i].tokens == filler && many[i + 40].tokens == filler)
                assert_memory_equal(many_out + (size_t)i * ne, many_out + (size_t)(i + 40) * ne,
                                    ne * sizeof *got);
    }
    printf("batch invariance %s %s: bit-identical alone, batched, reversed, threaded, among %d\n",
           arch, type == HR_TYPE_F32 ? "F32" : "Q8_0", MANY);
    free(many_out);
    free(alone);
    free(got);
    hr_pool_free(pool);
    hr_embedder_free(e);
    hr_model_free(m);
}

static void test_batched_bit_identical(void **state)
{
    (void)state;
    check_batch_invariance("llama", HR_TYPE_F32);
    check_batch_invariance("qwen3", HR_TYPE_Q8_0);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    char path[512];
    struct hr_model *m = make_model("emb-bad.gguf", "llama", "last", HR_TYPE_F32, path,
                                    sizeof path);
    struct hr_embedder *e = NULL;
    assert_int_equal(hr_embedder_new(&e, m, 0), HR_EINVAL);
    assert_null(e);
    assert_int_equal(hr_embedder_new(&e, m, HR_MODEL_MAX_CTX + 1), HR_EINVAL);
    assert_int_equal(hr_embedder_new(&e, m, 20), 0);
    int32_t toks[21];
    for (int i = 0; i < 21; i++)
        toks[i] = 10 + i;
    float ref[64], out[2 * 64];
    struct hr_embed_seq ok = {toks, 20};
    assert_int_equal(hr_embedder_run(e, &ok, 1, HR_POOLING_UNSPECIFIED, true, ref, NULL), 0);
    int32_t bad_lo[3] = {1, -1, 2}, bad_hi[2] = {1, (int32_t)m->n_vocab};
    const struct {
        struct hr_embed_seq second;
        uint32_t n_seqs;
        enum hr_pooling pooling;
        int rc;
    } cases[] = {
        {{toks, 0}, 2, HR_POOLING_UNSPECIFIED, HR_EINVAL},    /* empty input */
        {{NULL, 3}, 2, HR_POOLING_UNSPECIFIED, HR_EINVAL},    /* no tokens */
        {{toks, 5}, 0, HR_POOLING_UNSPECIFIED, HR_EINVAL},    /* no sequences */
        {{toks, 21}, 2, HR_POOLING_UNSPECIFIED, HR_ECONTEXT}, /* longer than the context */
        {{bad_lo, 3}, 2, HR_POOLING_UNSPECIFIED, HR_ERANGE},  /* negative id */
        {{bad_hi, 2}, 2, HR_POOLING_UNSPECIFIED, HR_ERANGE},  /* id past the vocabulary */
        {{toks, 5}, 2, HR_POOLING_NONE, HR_EUNSUPPORTED},
        {{toks, 5}, 2, HR_POOLING_RANK, HR_EUNSUPPORTED},
        {{toks, 5}, 2, (enum hr_pooling)9, HR_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hr_embed_seq seqs[2] = {ok, cases[i].second};
        for (int k = 0; k < 2 * 64; k++)
            out[k] = 7.0f;
        int rc = hr_embedder_run(e, seqs, cases[i].n_seqs, cases[i].pooling, true, out, NULL);
        if (rc != cases[i].rc)
            fail_msg("case %zu: %s, expected %s", i, hr_err_name(rc), hr_err_name(cases[i].rc));
        for (int k = 0; k < 2 * 64; k++)
            assert_true(out[k] == 7.0f); /* nothing written, not even the good sequence */
    }
    assert_int_equal(hr_embedder_run(e, NULL, 1, HR_POOLING_UNSPECIFIED, true, out, NULL),
                     HR_EINVAL);
    assert_int_equal(hr_embedder_run(e, &ok, 1, HR_POOLING_UNSPECIFIED, true, NULL, NULL),
                     HR_EINVAL);
    /* exactly the context fits, and the embedder still gives the same answer */
    struct hr_embed_seq two[2] = {ok, ok};
    assert_int_equal(hr_embedder_run(e, two, 2, HR_POOLING_UNSPECIFIED, true, out, NULL), 0);
    assert_memory_equal(out, ref, sizeof ref);
    assert_memory_equal(out + 64, ref, sizeof ref);
    assert_true(hr_embedder_bytes(e) > 0);
    hr_embedder_free(e);
    hr_embedder_free(NULL);
    hr_model_free(m);
}

enum kv_kind { KV_U32, KV_I32, KV_BOOL, KV_STR };

/* Copies src to dst with key set to the given value (replacing any copy of it). */
static void copy_with_key(const char *src, const char *dst, const char *key, enum kv_kind kind,
                          int64_t value)
{
    struct hr_gguf *g = NULL;
    assert_int_equal(hr_gguf_open(&g, src, NULL), 0);
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.len != strlen(key) || memcmp(g->kv[i].key.ptr, key, g->kv[i].key.len))
            assert_int_equal(hr_gguf_writer_copy_kv(w, &g->kv[i]), 0);
    if (kind == KV_U32)
        assert_int_equal(hr_gguf_writer_add_u32(w, key, (uint32_t)value), 0);
    else if (kind == KV_I32)
        assert_int_equal(hr_gguf_writer_add_i32(w, key, (int32_t)value), 0);
    else if (kind == KV_BOOL)
        assert_int_equal(hr_gguf_writer_add_bool(w, key, value != 0), 0);
    else
        assert_int_equal(hr_gguf_writer_add_str(w, key, "mean", 4), 0);
    char name[128];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        assert_int_equal(hr_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne), 0);
    }
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        assert_int_equal(
            hr_gguf_writer_write_tensor(w, f, g->tensors[i].data, g->tensors[i].n_bytes, NULL), 0);
    fclose(f);
    hr_gguf_writer_free(w);
    hr_gguf_close(g);
}

static void test_load_metadata(void **state)
{
    (void)state;
    char src[512], dst[512];
    struct hr_model *base = make_model("emb-meta.gguf", "qwen2", NULL, HR_TYPE_F32, src,
                                       sizeof src);
    hr_model_free(base);
    tu_tmpfile("emb-meta-edit.gguf", dst, sizeof dst);
    const struct {
        const char *key;
        enum kv_kind kind;
        int64_t value;
        int rc;
        enum hr_pooling pooling;
    } cases[] = {
        {"qwen2.pooling_type", KV_U32, 0, 0, HR_POOLING_NONE},
        {"qwen2.pooling_type", KV_U32, 1, 0, HR_POOLING_MEAN},
        {"qwen2.pooling_type", KV_I32, 2, 0, HR_POOLING_CLS},
        {"qwen2.pooling_type", KV_U32, 3, 0, HR_POOLING_LAST},
        {"qwen2.pooling_type", KV_U32, 4, 0, HR_POOLING_RANK},
        {"qwen2.pooling_type", KV_U32, 5, HR_EFORMAT, 0},
        {"qwen2.pooling_type", KV_U32, 4000000000, HR_EFORMAT, 0},
        {"qwen2.pooling_type", KV_I32, -1, HR_EFORMAT, 0},
        {"qwen2.pooling_type", KV_STR, 0, HR_EFORMAT, 0},
        {"qwen2.attention.causal", KV_BOOL, 1, 0, HR_POOLING_NONE},
        {"qwen2.attention.causal", KV_BOOL, 0, HR_EUNSUPPORTED, 0},
        {"qwen2.attention.causal", KV_U32, 1, HR_EFORMAT, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        copy_with_key(src, dst, cases[i].key, cases[i].kind, cases[i].value);
        struct hr_model *m = NULL;
        struct hr_diag d = {{0}};
        int rc = hr_model_load(&m, dst, &d);
        if (rc != cases[i].rc)
            fail_msg("case %zu: %s, expected %s (%s)", i, hr_err_name(rc),
                     hr_err_name(cases[i].rc), d.msg);
        if (rc) {
            /* one line naming the file and the key */
            assert_non_null(strstr(d.msg, dst));
            assert_non_null(strstr(d.msg, cases[i].key));
            assert_null(strchr(d.msg, '\n'));
            assert_null(m);
            printf("refused: %s\n", d.msg);
            continue;
        }
        assert_int_equal(m->pooling, cases[i].pooling);
        assert_int_equal(m->has_pooling, strstr(cases[i].key, "pooling") != NULL);
        assert_true(m->is_causal);
        if (cases[i].pooling == HR_POOLING_RANK || cases[i].pooling == HR_POOLING_NONE) {
            struct hr_embedder *e = NULL;
            assert_int_equal(hr_embedder_new(&e, m, 8), 0);
            int32_t t = 5;
            struct hr_embed_seq q = {&t, 1};
            float v[64];
            assert_int_equal(hr_embedder_run(e, &q, 1, HR_POOLING_UNSPECIFIED, true, v, NULL),
                             HR_EUNSUPPORTED);
            hr_embedder_free(e);
        }
        hr_model_free(m);
    }
}

static void test_pooling_names(void **state)
{
    (void)state;
    const char *names[] = {"none", "mean", "cls", "last", "rank"};
    for (int p = 0; p < 5; p++) {
        enum hr_pooling got = HR_POOLING_UNSPECIFIED;
        assert_int_equal(hr_pooling_from_name(names[p], &got), 0);
        assert_int_equal(got, p);
        assert_string_equal(hr_pooling_name((enum hr_pooling)p), names[p]);
    }
    enum hr_pooling got = HR_POOLING_MEAN;
    assert_int_equal(hr_pooling_from_name("max", &got), HR_EINVAL);
    assert_int_equal(hr_pooling_from_name(NULL, &got), HR_EINVAL);
    assert_int_equal(got, HR_POOLING_MEAN);
    assert_string_equal(hr_pooling_name(HR_POOLING_UNSPECIFIED), "?");
}

/* hr_synth_write and `hearth make-model --pooling` write the key, and refuse other values. */
static void test_make_model_pooling(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("emb-synth-bad.gguf", path, sizeof path);
    const char *bad[] = {"none", "rank", "max", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hr_synth_params p = {"tiny", HR_TYPE_F32, path, NULL, 1, NULL, NULL, bad[i]};
        struct hr_diag d = {{0}};
        assert_int_equal(hr_synth_write(&p, &d), HR_EINVAL);
        assert_non_null(strstr(d.msg, "pooling"));
        assert_null(tu_read_file(path, NULL));
    }
    const char *bin = getenv("HEARTH_BIN");
    if (!bin || !*bin) {
        printf("make-model CLI: skipped (HEARTH_BIN unset)\n");
        return;
    }
    char cmd[2048];
    for (int p = 0; p < 3; p++) {
        snprintf(cmd, sizeof cmd, "%s make-model --arch phi3 --pooling %s --out %s 2>/dev/null",
                 bin, pool_names[p], path);
        assert_int_equal(system(cmd), 0);
        struct hr_model *m = NULL;
        struct hr_diag d = {{0}};
        if (hr_model_load(&m, path, &d) != 0)
            fail_msg("%s", d.msg);
        assert_true(m->has_pooling);
        assert_int_equal(m->pooling, pool_ids[p]);
        hr_model_free(m);
    }
    snprintf(cmd, sizeof cmd, "%s make-model --pooling max --out %s.x 2>/dev/null", bin, path);
    int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

int main(void)
{
    hr_log_set_level(HR_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pooling_against_numpy),
        cmocka_unit_test(test_model_without_pooling_key),
        cmocka_unit_test(test_batched_bit_identical),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_load_metadata),
        cmocka_unit_test(test_pooling_names),
        cmocka_unit_test(test_make_model_pooling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
