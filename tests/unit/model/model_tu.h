/* Helpers of the model tests (test_model.c, test_gemma3.c): every position's logits of a
 * prompt, batch invariance of a model, agreement with the numpy oracle, and edited copies of
 * GGUF files. Header-only (static inline) so each test binary links nothing more. */
#ifndef HR_MODEL_TU_H
#define HR_MODEL_TU_H

#include "testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

/* Logits for every position of tokens, from an empty cache, in chunks of `chunk` tokens. */
static inline float *eval_all(struct hr_model *m, const int32_t *toks, uint32_t n, uint32_t chunk,
                       struct hr_pool *pool)
{
    struct hr_ctx *c = NULL;
    assert_int_equal(hr_ctx_new(&c, m, 512), 0);
    float *all = malloc((size_t)n * m->n_vocab * sizeof *all);
    for (uint32_t p = 0; p < n; p += chunk) {
        uint32_t k = n - p < chunk ? n - p : chunk;
        assert_int_equal(hr_ctx_eval_all(c, toks + p, k, p, all + (size_t)p * m->n_vocab, pool),
                         0);
    }
    hr_ctx_free(c);
    return all;
}

/* The logits of toks are bit-identical evaluated at once, token by token, in chunks of 7, and
 * in chunks of `chunk` on a pool of `threads`. Returns the all-at-once logits (caller frees). */
static inline float *check_chunk_thread_invariance(struct hr_model *m, const int32_t *toks,
                                                   uint32_t n, uint32_t chunk, int threads)
{
    float *one = eval_all(m, toks, n, n, NULL);
    float *by1 = eval_all(m, toks, n, 1, NULL);
    float *by7 = eval_all(m, toks, n, 7, NULL);
    struct hr_pool *pool = NULL;
    assert_int_equal(hr_pool_new(&pool, threads), 0);
    float *threaded = eval_all(m, toks, n, chunk, pool);
    size_t bytes = (size_t)n * m->n_vocab * sizeof(float);
    assert_memory_equal(one, by1, bytes);
    assert_memory_equal(one, by7, bytes);
    assert_memory_equal(one, threaded, bytes);
    hr_pool_free(pool);
    free(by1);
    free(by7);
    free(threaded);
    return one;
}

/* Three sequences evaluated alone, then together in ragged batches (interleaved, in other
 * orders, prefill chunks mixed with single decode tokens, on 1 and 2 threads): every logits row
 * must be bit-identical. */
static inline void check_batch_invariance_of(struct hr_model *m, const char *label)
{
    const uint32_t lens[3] = {21, 7, 34};
    uint32_t span = m->n_vocab - 3 < 1000 ? m->n_vocab - 3 : 1000;
    int32_t toks[3][34];
    for (int s = 0; s < 3; s++)
        for (uint32_t i = 0; i < lens[s]; i++)
            toks[s][i] = 3 + (int32_t)((i * 37 + (uint32_t)s * 101) % span);
    float *alone[3];
    for (int s = 0; s < 3; s++)
        alone[s] = eval_all(m, toks[s], lens[s], lens[s], NULL);
    for (int threads = 1; threads <= 2; threads++) {
        struct hr_pool *pool = NULL;
        assert_int_equal(hr_pool_new(&pool, threads), 0);
        struct hr_runner *r = NULL;
        struct hr_kv *kv = NULL;
        assert_int_equal(hr_runner_new(&r, m, 64), 0);
        assert_int_equal(hr_kv_new(&kv, m, HR_KV_F32, 8, 3, 64), 0); /* 6 used, 2 spare */
        for (uint32_t s = 0; s < 3; s++)
            assert_int_equal(hr_kv_seq_reserve(kv, s, lens[s]), 0);
        /* batches as (seq, count) runs: each sequence advances through its tokens in order */
        const uint32_t plan[][6] = {{2, 5, 0, 10, 1, 3},
                                    {0, 1, 2, 9, 1, 4},
                                    {1, 0, 0, 1, 2, 1},
                                    {2, 19, 0, 9, 0, 0}};
        uint32_t next[3] = {0, 0, 0};
        struct hr_batch_tok batch[64];
        float *out = malloc(64 * (size_t)m->n_vocab * sizeof *out);
        for (size_t b = 0; b < sizeof plan / sizeof plan[0]; b++) {
            uint32_t n = 0;
            for (int k = 0; k < 3; k++) {
                uint32_t seq = plan[b][2 * k], count = plan[b][2 * k + 1];
                for (uint32_t i = 0; i < count && next[seq] < lens[seq]; i++, next[seq]++)
                    batch[n++] = (struct hr_batch_tok){toks[seq][next[seq]], seq, next[seq], true};
            }
            if (!n)
                continue;
            assert_int_equal(hr_runner_eval(r, kv, batch, n, out, pool), 0);
            for (uint32_t i = 0; i < n; i++)
                assert_memory_equal(out + (size_t)i * m->n_vocab,
                                    alone[batch[i].seq] + (size_t)batch[i].pos * m->n_vocab,
                                    m->n_vocab * sizeof(float));
        }
        for (int s = 0; s < 3; s++)
            assert_int_equal(next[s], lens[s]);
        /* positions beyond a sequence's blocks and unknown sequences are refused */
        struct hr_batch_tok bad = {5, 1, 40, true};
        assert_int_equal(hr_runner_eval(r, kv, &bad, 1, out, pool), HR_ECONTEXT);
        bad.seq = 7;
        assert_int_equal(hr_runner_eval(r, kv, &bad, 1, out, pool), HR_ERANGE);
        /* blocks come back on release and run out when over-asked */
        uint32_t before = hr_kv_free_blocks(kv);
        hr_kv_seq_release(kv, 1);
        assert_int_equal(hr_kv_free_blocks(kv), before + 1);
        assert_int_equal(hr_kv_seq_reserve(kv, 1, 64), HR_EFULL);
        free(out);
        hr_kv_free(kv);
        hr_runner_free(r);
        hr_pool_free(pool);
    }
    printf("batch invariance %s: bit-identical in every batch\n", label);
    for (int s = 0; s < 3; s++)
        free(alone[s]);
}

#define NUMPY_N 20 /* positions: past gemma3 tiny's 6-position window and a KV block */

/* Max |diff| between every position's logits from Hearth (prefill in chunks of 5) and from
 * tests/oracle/forward_ref.py (numpy, float64, written from the architectures' definitions)
 * for the F32 model at path. */
static inline double numpy_worst(const char *path, const char *label)
{
    static const int32_t toks[NUMPY_N] = {1,  300, 301, 302, 40,  41,  500, 7,   100, 101,
                                          270, 280, 350, 351, 60,  61,  400, 9,   120, 121};
    char out[512], cmd[1400], name[96];
    snprintf(name, sizeof name, "numpy-%s.f32", label);
    tu_tmpfile(name, out, sizeof out);
    struct hr_model *m = NULL;
    struct hr_diag d = {{0}};
    if (hr_model_load(&m, path, &d) != 0)
        fail_msg("%s: %s", label, d.msg);
    size_t o = (size_t)snprintf(cmd, sizeof cmd,
                                "/usr/bin/python3 tests/oracle/forward_ref.py %s %s", path, out);
    for (int i = 0; i < NUMPY_N; i++)
        o += (size_t)snprintf(cmd + o, sizeof cmd - o, " %d", toks[i]);
    assert_int_equal(system(cmd), 0);
    size_t nb = 0;
    char *ref = tu_read_file(out, &nb);
    assert_int_equal(nb, NUMPY_N * (size_t)m->n_vocab * sizeof(float));
    float *got = eval_all(m, toks, NUMPY_N, 5, NULL);
    double worst = 0;
    for (size_t i = 0; i < NUMPY_N * (size_t)m->n_vocab; i++) {
        float r;
        memcpy(&r, ref + i * 4, 4);
        worst = fmax(worst, fabs(got[i] - r));
    }
    printf("numpy reference %s: max |diff| %.2e over %d positions\n", label, worst, NUMPY_N);
    unlink(out);
    free(got);
    free(ref);
    hr_model_free(m);
    return worst;
}

/* One edit of a GGUF copy: a key replaced (or added) with a value of kind 'u' (u32), 'f'
 * (f32) or 's' (string), or dropped ('-'); or a tensor left out. */
struct gguf_edit {
    const char *key;
    char kind;
    uint32_t u;
    float f;
    const char *str;
    const char *drop_tensor;
};

static inline void write_edited(const char *src, const char *dst, const struct gguf_edit *e,
                                size_t n)
{
    struct hr_gguf *g = NULL;
    assert_int_equal(hr_gguf_open(&g, src, NULL), 0);
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        bool replaced = false;
        for (size_t k = 0; k < n; k++)
            replaced |= e[k].key && g->kv[i].key.len == strlen(e[k].key) &&
                        memcmp(g->kv[i].key.ptr, e[k].key, g->kv[i].key.len) == 0;
        if (!replaced)
            assert_int_equal(hr_gguf_writer_copy_kv(w, &g->kv[i]), 0);
    }
    for (size_t k = 0; k < n; k++) {
        if (!e[k].key || e[k].kind == '-')
            continue;
        if (e[k].kind == 'u')
            assert_int_equal(hr_gguf_writer_add_u32(w, e[k].key, e[k].u), 0);
        else if (e[k].kind == 'f')
            assert_int_equal(hr_gguf_writer_add_f32(w, e[k].key, e[k].f), 0);
        else
            assert_int_equal(hr_gguf_writer_add_str(w, e[k].key, e[k].str, strlen(e[k].str)), 0);
    }
    char name[128];
    bool *keep = calloc(g->n_tensors, sizeof *keep);
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        keep[i] = true;
        for (size_t k = 0; k < n; k++)
            keep[i] &= !(e[k].drop_tensor && strcmp(e[k].drop_tensor, name) == 0);
        if (keep[i])
            assert_int_equal(hr_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne), 0);
    }
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (keep[i])
            assert_int_equal(hr_gguf_writer_write_tensor(w, f, g->tensors[i].data,
                                                         g->tensors[i].n_bytes, NULL),
                             0);
    fclose(f);
    free(keep);
    hr_gguf_writer_free(w);
    hr_gguf_close(g);
}

#endif
