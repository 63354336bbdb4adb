/* gemma3 (text): the tiny make-model shape as loaded (wide heads, five local layers to one
 * global, per-kind RoPE), bit-identical results however chunked, threaded or batched, the
 * window cutting as llama.cpp's, variants and layer counts against the numpy oracle, and
 * broken files refused by name. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "model_tu.h"

/* The keys the oracle reads beyond make-model's defaults: another local/global pattern with
 * its own local RoPE base and no scaling; and no sliding window at all (every layer global,
 * as llama.cpp runs a gemma3 whose window is absent or 0). */
static void test_gemma3_variants_against_numpy(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        skip();
    char model[512];
    tu_tmpfile("gemma3-base.gguf", model, sizeof model);
    struct hr_synth_params p = {"tiny", HR_TYPE_F32, model, NULL, 11, NULL, "gemma3", NULL};
    assert_int_equal(hr_synth_write(&p, NULL), 0);
    char variant[512];
    tu_tmpfile("arch-gemma3-variant.gguf", variant, sizeof variant);
    const struct gguf_edit pattern3[] = {
        {"gemma3.attention.sliding_window_pattern", 'u', 3, 0, NULL, NULL},
        {"gemma3.rope.freq_base_swa", 'f', 0, 500.0f, NULL, NULL},
        {"gemma3.rope.scaling.type", 's', 0, 0, "none", NULL},
        {"gemma3.attention.sliding_window", 'u', 4, 0, NULL, NULL},
    };
    write_edited(model, variant, pattern3, 4);
    assert_true(numpy_worst(variant, "gemma3-pattern3-base500-noscale-window4") < 2e-5);
    const struct gguf_edit no_window[] = {
        {"gemma3.attention.sliding_window", 'u', 0, 0, NULL, NULL},
        {"gemma3.rope.scaling.factor", 'f', 0, 2.0f, NULL, NULL},
    };
    write_edited(model, variant, no_window, 2);
    assert_true(numpy_worst(variant, "gemma3-window0-factor2") < 2e-5);
    unlink(variant);
    unlink(model);
}

/* tiny gemma3's shape as loaded: 32-wide heads on a 64-wide stream, five local layers then a
 * global one, each kind with its own RoPE; results bit-identical however the prompt is
 * chunked, on any thread count and in any batch; the window really cuts. */
static void test_gemma3_tiny(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("gemma3-tiny.gguf", path, sizeof path);
    struct hr_synth_params p = {"tiny", HR_TYPE_Q8_0, path, NULL, 5, NULL, "gemma3", NULL};
    struct hr_diag d = {{0}};
    if (hr_synth_write(&p, &d) != 0)
        fail_msg("%s", d.msg);
    struct hr_model *m = NULL;
    if (hr_model_load(&m, path, &d) != 0)
        fail_msg("%s", d.msg);
    assert_int_equal(m->arch_id, HR_ARCH_GEMMA3);
    assert_true(m->rope_neox && m->ffn_gelu && m->is_tied);
    assert_int_equal(m->n_layer, 6);
    assert_int_equal(m->head_dim, 32);
    assert_int_equal(m->q_dim, 128);
    assert_int_equal(m->n_rot, 32);
    assert_int_equal(m->sliding_window, 6);
    for (uint32_t l = 0; l < 6; l++)
        assert_int_equal(m->layers[l].is_swa, l != 5);
    assert_true(m->rope_theta == 1e6f && m->rope_scale == 0.125f);
    assert_true(m->rope_theta_swa == 10000.0f && m->rope_scale_swa == 1.0f);
    assert_true(m->attn_scale == 1.0f / sqrtf(32.0f));
    assert_true(m->embed_scale == 8.0f);
    assert_true(m->attn_softcap == 0 && m->final_softcap == 0);
    assert_non_null(m->layers[0].q_norm.data);
    assert_non_null(m->layers[5].post_ffn_norm.data);
    int32_t toks[40];
    for (int i = 0; i < 40; i++)
        toks[i] = 3 + (i * 53) % 300;
    float *one = check_chunk_thread_invariance(m, toks, 40, 40, 2);
    /* a token beyond the window of every local layer changes nothing there but still reaches
     * the global layer: replacing toks[0] must move the logits at position 20 */
    int32_t other[40];
    memcpy(other, toks, sizeof other);
    other[0] = 200;
    float *moved = eval_all(m, other, 40, 40, NULL);
    size_t row = (size_t)m->n_vocab;
    assert_true(memcmp(one + 20 * row, moved + 20 * row, row * sizeof(float)) != 0);
    free(moved);
    /* with every layer local, each layer reaches 5 positions further back: after six,
     * position 30 still depends on position 0 and position 31 no longer does */
    char all_local[512];
    tu_tmpfile("gemma3-all-local.gguf", all_local, sizeof all_local);
    const struct gguf_edit e = {"gemma3.attention.sliding_window_pattern", 'u', 0, 0, NULL, NULL};
    write_edited(path, all_local, &e, 1);
    struct hr_model *ml = NULL;
    if (hr_model_load(&ml, all_local, &d) != 0)
        fail_msg("%s", d.msg);
    for (uint32_t l = 0; l < 6; l++)
        assert_true(ml->layers[l].is_swa);
    float *a = eval_all(ml, toks, 40, 40, NULL), *b = eval_all(ml, other, 40, 40, NULL);
    assert_true(memcmp(a + 30 * row, b + 30 * row, row * sizeof(float)) != 0);
    assert_memory_equal(a + 31 * row, b + 31 * row, 9 * row * sizeof(float));
    free(a);
    free(b);
    hr_model_free(ml);
    check_batch_invariance_of(m, "generated gemma3 tiny Q8_0");
    free(one);
    hr_model_free(m);
    unlink(all_local);
    unlink(path);
}

/* Copies a gemma3 model with n_layer layers, layer l being a copy of the source's l % 6. */
static void write_gemma3_layers(const char *src, const char *dst, uint32_t n_layer)
{
    struct hr_gguf *g = NULL;
    assert_int_equal(hr_gguf_open(&g, src, NULL), 0);
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.len != 18 || memcmp(g->kv[i].key.ptr, "gemma3.block_count", 18))
            assert_int_equal(hr_gguf_writer_copy_kv(w, &g->kv[i]), 0);
    assert_int_equal(hr_gguf_writer_add_u32(w, "gemma3.block_count", n_layer), 0);
    const struct hr_gguf_tensor **order = calloc(g->n_tensors * n_layer, sizeof *order);
    size_t n = 0;
    char name[128];
    for (uint32_t l = 0; l <= n_layer; l++)
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const struct hr_gguf_tensor *t = &g->tensors[i];
            char orig[128];
            snprintf(orig, sizeof orig, "%.*s", (int)t->name.len, t->name.ptr);
            unsigned src_l = 0;
            int used = 0;
            bool is_blk = sscanf(orig, "blk.%u.%n", &src_l, &used) == 1 && used > 0;
            if (l == n_layer ? is_blk : (!is_blk || src_l != l % 6))
                continue;
            if (is_blk)
                snprintf(name, sizeof name, "blk.%u.%s", l, orig + used);
            else
                snprintf(name, sizeof name, "%s", orig);
            assert_int_equal(hr_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne), 0);
            order[n++] = t;
        }
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(hr_gguf_writer_write_tensor(w, f, order[i]->data, order[i]->n_bytes,
                                                     NULL),
                         0);
    fclose(f);
    free(order);
    hr_gguf_writer_free(w);
    hr_gguf_close(g);
}

/* Gemma 3 27B (62 layers) scales queries by 1/sqrt(n_embd / n_head), every other size by
 * 1/sqrt(head_dim); 26 layers (1B) end on two local layers. Both against numpy. */
static void test_gemma3_layer_counts(void **state)
{
    (void)state;
    char src[512], path[512];
    tu_tmpfile("gemma3-src.gguf", src, sizeof src);
    tu_tmpfile("gemma3-layers.gguf", path, sizeof path);
    struct hr_synth_params p = {"tiny", HR_TYPE_F32, src, NULL, 13, NULL, "gemma3", NULL};
    assert_int_equal(hr_synth_write(&p, NULL), 0);
    const uint32_t counts[] = {26, 62};
    bool numpy = system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0;
    for (size_t k = 0; k < 2; k++) {
        write_gemma3_layers(src, path, counts[k]);
        struct hr_model *m = NULL;
        struct hr_diag d = {{0}};
        if (hr_model_load(&m, path, &d) != 0)
            fail_msg("%s", d.msg);
        assert_int_equal(m->n_layer, counts[k]);
        assert_true(m->attn_scale == 1.0f / sqrtf(counts[k] == 62 ? 16.0f : 32.0f));
        for (uint32_t l = 0; l < m->n_layer; l++)
            assert_int_equal(m->layers[l].is_swa, l % 6 != 5);
        hr_model_free(m);
        char label[32];
        snprintf(label, sizeof label, "gemma3-%u-layers", counts[k]);
        if (numpy)
            assert_true(numpy_worst(path, label) < 2e-5);
    }
    unlink(path);
    unlink(src);
}

/* Broken gemma3 files are refused with a diag naming the key or tensor, never a crash. */
static void test_gemma3_hostile(void **state)
{
    (void)state;
    char good[512], bad[512];
    tu_tmpfile("gemma3-good.gguf", good, sizeof good);
    tu_tmpfile("gemma3-bad.gguf", bad, sizeof bad);
    struct hr_synth_params p = {"tiny", HR_TYPE_F32, good, NULL, 3, NULL, "gemma3", NULL};
    assert_int_equal(hr_synth_write(&p, NULL), 0);
    const struct {
        struct gguf_edit e[2];
        int rc;
        const char *needle;
    } cases[] = {
        {{{"gemma3.attention.sliding_window", 'u', 5000000, 0, NULL, NULL}}, HR_EFORMAT,
         "attention.sliding_window"},
        {{{"gemma3.attention.sliding_window", 's', 0, 0, "six", NULL}}, HR_EFORMAT,
         "attention.sliding_window"},
        {{{"gemma3.attention.sliding_window_pattern", 'f', 0, 6.0f, NULL, NULL}}, HR_EFORMAT,
         "sliding_window_pattern"},
        {{{"gemma3.attention.key_length", 'u', 0, 0, NULL, NULL}}, HR_EFORMAT, "key_length"},
        {{{"gemma3.attention.key_length", 'u', 4096, 0, NULL, NULL}}, HR_EUNSUPPORTED,
         "head size 4096"},
        {{{"gemma3.attention.key_length", 'u', 33, 0, NULL, NULL},
          {"gemma3.attention.value_length", 'u', 33, 0, NULL, NULL}},
         HR_EFORMAT, "rope.dimension_count"},
        {{{"gemma3.attention.key_length", 'u', 24, 0, NULL, NULL},
          {"gemma3.attention.value_length", 'u', 24, 0, NULL, NULL}},
         HR_EFORMAT, "blk.0.attn_q.weight"},
        {{{"gemma3.attention.value_length", 'u', 16, 0, NULL, NULL}}, HR_EUNSUPPORTED,
         "value_length"},
        {{{"gemma3.attention.key_length", '-', 0, 0, NULL, NULL},
          {"gemma3.attention.head_count", 'u', 3, 0, NULL, NULL}},
         HR_EFORMAT, "head_count"},
        {{{"gemma3.attention.head_count_kv", 'u', 3, 0, NULL, NULL}}, HR_EFORMAT,
         "head_count_kv"},
        {{{NULL, 0, 0, 0, NULL, "blk.3.attn_q_norm.weight"}}, HR_EFORMAT,
         "blk.3.attn_q_norm.weight"},
        {{{NULL, 0, 0, 0, NULL, "blk.5.post_ffw_norm.weight"}}, HR_EFORMAT,
         "blk.5.post_ffw_norm.weight"},
        {{{"gemma3.rope.scaling.type", 's', 0, 0, "yarn", NULL}}, HR_EUNSUPPORTED,
         "rope.scaling.type"},
        {{{"gemma3.rope.scaling.type", 's', 0, 0, "sideways", NULL}}, HR_EFORMAT,
         "rope.scaling.type"},
        {{{"gemma3.rope.scaling.factor", 'f', 0, -8.0f, NULL, NULL}}, HR_EFORMAT,
         "rope.scaling.factor"},
        {{{"gemma3.rope.freq_base_swa", 'f', 0, 0.0f, NULL, NULL}}, HR_EFORMAT,
         "rope.freq_base_swa"},
        {{{"gemma3.final_logit_softcapping", 'f', 0, -30.0f, NULL, NULL}}, HR_EFORMAT,
         "final_logit_softcapping"},
        {{{"gemma3.block_count", 'u', 7, 0, NULL, NULL}}, HR_EFORMAT, "blk.6.attn_norm.weight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_edited(good, bad, cases[i].e, 2);
        struct hr_model *m = NULL;
        struct hr_diag d = {{0}};
        int rc = hr_model_load(&m, bad, &d);
        if (rc != cases[i].rc || !strstr(d.msg, cases[i].needle) || !strstr(d.msg, bad))
            fail_msg("case %zu: rc %s, diag '%s'", i, hr_err_name(rc), d.msg);
        assert_null(m);
    }
    unlink(bad);
    unlink(good);
}

int main(void)
{
    hr_log_set_level(HR_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma3_variants_against_numpy),
        cmocka_unit_test(test_gemma3_tiny),
        cmocka_unit_test(test_gemma3_layer_counts),
        cmocka_unit_test(test_gemma3_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
