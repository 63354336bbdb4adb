/* Quantization mixes and hr_quantize_file: the per-tensor rule against llama-quantize's for
 * SmolLM2-135M's and Llama-3.2-1B's shapes (layers that get more bits, outputs, fallbacks);
 * a quantized file keeps every key but general.file_type, every tensor's name and shape, and
 * the bytes of what it does not convert; the same bytes for any thread count; make-model's
 * mixes give the same types; the logits of a quantized smol model stay close to the F32
 * model's; quantized inputs, missing files and unwritable outputs fail
 * with a diag and leave no file. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

static uint32_t rule(enum hr_qmix m, uint32_t n_layer, bool has_output, const char *name,
                     uint64_t ne0)
{
    struct hr_qmix_model mm = {n_layer, has_output};
    return hr_qmix_tensor_type(m, &mm, name, 2, ne0, HR_TYPE_F32);
}

/* The layers whose attn_v and ffn_down get Q6_K: llama.cpp's use_more_bits worked by hand. */
static void check_more_bits(uint32_t n_layer, const int *want, size_t n_want)
{
    for (enum hr_qmix m = HR_QMIX_Q4_K_M; m <= HR_QMIX_Q5_K_M; m++) {
        uint32_t base = m == HR_QMIX_Q4_K_M ? HR_TYPE_Q4_K : HR_TYPE_Q5_K;
        for (uint32_t l = 0; l < n_layer; l++) {
            bool more = false;
            for (size_t k = 0; k < n_want; k++)
                more = more || want[k] == (int)l;
            char v[64], down[64], q[64];
            snprintf(v, sizeof v, "blk.%u.attn_v.weight", l);
            snprintf(down, sizeof down, "blk.%u.ffn_down.weight", l);
            snprintf(q, sizeof q, "blk.%u.attn_q.weight", l);
            assert_int_equal(rule(m, n_layer, false, v, 2048), more ? HR_TYPE_Q6_K : base);
            assert_int_equal(rule(m, n_layer, false, down, 8192), more ? HR_TYPE_Q6_K : base);
            assert_int_equal(rule(m, n_layer, false, q, 2048), base);
            assert_int_equal(rule(HR_QMIX_Q6_K, n_layer, false, v, 2048), HR_TYPE_Q6_K);
        }
    }
}

static void test_rule_layers(void **state)
{
    (void)state;
    /* n = 30: n/8 = 3, 7n/8 = 26; between them (i - 3) % 3 == 2 */
    const int smol[] = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29};
    check_more_bits(30, smol, sizeof smol / sizeof smol[0]);
    /* n = 16: n/8 = 2, 7n/8 = 14 */
    const int one_b[] = {0, 1, 4, 7, 10, 13, 14, 15};
    check_more_bits(16, one_b, sizeof one_b / sizeof one_b[0]);
}

static void test_rule_outputs_fallbacks_and_pure_mixes(void **state)
{
    (void)state;
    struct hr_qmix_model tied = {30, false};
    const enum hr_qmix k_mixes[] = {HR_QMIX_Q4_K_M, HR_QMIX_Q5_K_M, HR_QMIX_Q6_K};
    const uint32_t fallback[] = {HR_TYPE_Q5_0, HR_TYPE_Q5_1, HR_TYPE_Q8_0};
    for (size_t i = 0; i < 3; i++) {
        enum hr_qmix m = k_mixes[i];
        /* tied embeddings are typed as the output; separate ones as any matrix */
        assert_int_equal(rule(m, 16, false, "token_embd.weight", 2048), HR_TYPE_Q6_K);
        assert_int_equal(rule(m, 16, true, "output.weight", 2048), HR_TYPE_Q6_K);
        assert_int_equal(rule(m, 16, true, "token_embd.weight", 2048),
                         m == HR_QMIX_Q4_K_M   ? HR_TYPE_Q4_K
                         : m == HR_QMIX_Q5_K_M ? HR_TYPE_Q5_K
                                               : HR_TYPE_Q6_K);
        /* 576-wide rows (smol) are not whole 256-blocks */
        assert_int_equal(rule(m, 30, false, "token_embd.weight", 576), HR_TYPE_Q8_0);
        assert_int_equal(rule(m, 30, false, "blk.3.attn_q.weight", 576), fallback[i]);
        /* a layer with more bits (or q6_k): Q6_K, which falls back to Q8_0 */
        assert_int_equal(rule(m, 30, false, "blk.0.attn_v.weight", 576), HR_TYPE_Q8_0);
        assert_int_equal(rule(m, 30, false, "blk.3.attn_v.weight", 576), fallback[i]);
        /* 172-wide rows (tiny's ffn_down) are not even whole 32-blocks */
        assert_int_equal(rule(m, 2, false, "blk.0.ffn_down.weight", 172), HR_TYPE_F16);
        /* fused qkv follows attn_v: llama.cpp's attn_v branch catches it first */
        assert_int_equal(rule(m, 16, false, "blk.0.attn_qkv.weight", 2048), HR_TYPE_Q6_K);
        /* not matrices, norms, not weights: unchanged */
        assert_int_equal(hr_qmix_tensor_type(m, &tied, "blk.0.attn_norm.weight", 1, 2048,
                                             HR_TYPE_BF16),
                         HR_TYPE_BF16);
        assert_int_equal(hr_qmix_tensor_type(m, &tied, "blk.0.attn_q_norm.weight", 2, 256,
                                             HR_TYPE_F32),
                         HR_TYPE_F32);
        assert_int_equal(hr_qmix_tensor_type(m, &tied, "blk.0.attn_q.bias", 2, 256, HR_TYPE_F16),
                         HR_TYPE_F16);
    }
    assert_int_equal(rule(HR_QMIX_Q5_K_M, 16, false, "blk.3.attn_qkv.weight", 2048),
                     HR_TYPE_Q5_K);
    /* pure mixes: every matrix, outputs included; F16 where rows are not whole blocks */
    assert_int_equal(rule(HR_QMIX_Q4_0, 2, false, "token_embd.weight", 64), HR_TYPE_Q4_0);
    assert_int_equal(rule(HR_QMIX_Q8_0, 2, true, "output.weight", 64), HR_TYPE_Q8_0);
    assert_int_equal(rule(HR_QMIX_Q8_0, 2, false, "blk.1.ffn_down.weight", 172), HR_TYPE_F16);
    assert_int_equal(rule(HR_QMIX_F16, 2, false, "blk.1.ffn_down.weight", 172), HR_TYPE_F16);
    /* names and file types as llama.cpp numbers them */
    const char *names[] = {"f32", "f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};
    const uint32_t ftypes[] = {0, 1, 7, 2, 15, 17, 18};
    for (int i = 0; i < HR_QMIX_COUNT_; i++) {
        enum hr_qmix m;
        assert_int_equal(hr_qmix_from_name(names[i], &m), 0);
        assert_int_equal(m, i);
        assert_string_equal(hr_qmix_name(m), names[i]);
        assert_int_equal(hr_qmix_file_type(m), ftypes[i]);
    }
    enum hr_qmix m;
    assert_int_equal(hr_qmix_from_name("q4_k_s", &m), HR_EINVAL);
}

static bool kv_equal(const struct hr_gguf_kv *a, const struct hr_gguf_kv *b)
{
    return a->key.len == b->key.len && memcmp(a->key.ptr, b->key.ptr, a->key.len) == 0 &&
           a->type == b->type && a->arr_type == b->arr_type && a->arr_n == b->arr_n &&
           a->n_bytes == b->n_bytes && memcmp(a->data, b->data, a->n_bytes) == 0;
}

static bool key_is(const struct hr_gguf_kv *kv, const char *key)
{
    return kv->key.len == strlen(key) && memcmp(kv->key.ptr, key, kv->key.len) == 0;
}

/* A quantized file against its source: keys, tensor names, shapes, types by the rule, and the
 * untouched tensors' bytes. */
static void check_file(const char *src, const char *dst, enum hr_qmix m)
{
    struct hr_gguf *a = NULL, *b = NULL;
    assert_int_equal(hr_gguf_open(&a, src, NULL), 0);
    assert_int_equal(hr_gguf_open(&b, dst, NULL), 0);
    uint64_t kb = 0;
    for (uint64_t i = 0; i < a->n_kv; i++, kb++) {
        assert_true(kb < b->n_kv);
        if (key_is(&a->kv[i], "general.file_type"))
            continue;
        assert_true(kv_equal(&a->kv[i], &b->kv[kb]));
    }
    uint32_t ft = 0, qv = 0;
    assert_int_equal(hr_gguf_get_u32(b, "general.file_type", &ft, NULL), 0);
    assert_int_equal(ft, hr_qmix_file_type(m));
    assert_int_equal(hr_gguf_get_u32(b, "general.quantization_version", &qv, NULL), 0);
    assert_int_equal(qv, 2);
    assert_int_equal(b->n_kv, a->n_kv + 1);
    assert_int_equal(a->n_tensors, b->n_tensors);
    struct hr_qmix_model mm = {0, hr_gguf_tensor(a, "output.weight") != NULL};
    assert_int_equal(hr_gguf_get_u32(a, "llama.block_count", &mm.n_layer, NULL), 0);
    for (uint64_t i = 0; i < a->n_tensors; i++) {
        const struct hr_gguf_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        assert_int_equal(x->name.len, y->name.len);
        assert_memory_equal(x->name.ptr, y->name.ptr, x->name.len);
        assert_int_equal(x->n_dims, y->n_dims);
        assert_memory_equal(x->ne, y->ne, sizeof x->ne);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)x->name.len, x->name.ptr);
        assert_int_equal(y->type, hr_qmix_tensor_type(m, &mm, name, x->n_dims, x->ne[0], x->type));
        if (x->type == y->type) {
            assert_int_equal(x->n_bytes, y->n_bytes);
            assert_memory_equal(x->data, y->data, x->n_bytes);
        }
    }
    hr_gguf_close(a);
    hr_gguf_close(b);
}

static void test_tiny_file_every_mix(void **state)
{
    (void)state;
    char src[512], dst[512], dst2[512], synth[512];
    tu_tmpfile("q-src.gguf", src, sizeof src);
    tu_tmpfile("q-dst.gguf", dst, sizeof dst);
    tu_tmpfile("q-dst2.gguf", dst2, sizeof dst2);
    tu_tmpfile("q-synth.gguf", synth, sizeof synth);
    struct hr_synth_params p = {"tiny", HR_TYPE_F32, src, NULL, 4, NULL, NULL, NULL};
    assert_int_equal(hr_synth_write(&p, NULL), 0);
    for (int m = HR_QMIX_Q8_0; m < HR_QMIX_COUNT_; m++) {
        struct hr_quantize_stats st;
        struct hr_diag d = {{0}};
        if (hr_quantize_file(src, dst, (enum hr_qmix)m, 1, &st, &d) != 0)
            fail_msg("%s", d.msg);
        check_file(src, dst, (enum hr_qmix)m);
        uint32_t n = 0;
        uint64_t bytes = 0;
        for (int t = 0; t < HR_TYPE_COUNT_; t++) {
            n += st.n_tensors[t];
            bytes += st.n_bytes[t];
        }
        assert_int_equal(n, 2 + 9 * 2);
        assert_int_equal(bytes, st.out_bytes);
        assert_true(st.out_bytes < st.in_bytes);
        /* any thread count, the same bytes */
        assert_int_equal(hr_quantize_file(src, dst2, (enum hr_qmix)m, 3, NULL, NULL), 0);
        size_t n1, n2;
        char *x = tu_read_file(dst, &n1), *y = tu_read_file(dst2, &n2);
        assert_true(x && y && n1 == n2 && memcmp(x, y, n1) == 0);
        free(x);
        free(y);
        /* make-model's mix: the same type for every tensor */
        p.out_path = synth;
        assert_int_equal(hr_synth_write_mix(&p, (enum hr_qmix)m, NULL), 0);
        p.out_path = src;
        struct hr_gguf *a = NULL, *b = NULL;
        assert_int_equal(hr_gguf_open(&a, dst, NULL), 0);
        assert_int_equal(hr_gguf_open(&b, synth, NULL), 0);
        for (uint64_t i = 0; i < a->n_tensors; i++)
            assert_int_equal(a->tensors[i].type, b->tensors[i].type);
        uint32_t ft = 0;
        assert_int_equal(hr_gguf_get_u32(b, "general.file_type", &ft, NULL), 0);
        assert_int_equal(ft, hr_qmix_file_type((enum hr_qmix)m));
        hr_gguf_close(a);
        hr_gguf_close(b);
    }
}

/* Logits of the same prompt from two files; returns the RMS difference over the RMS of the
 * reference's centred logits, and whether their argmax agrees. */
static double logit_distance(const char *ref, const char *other, bool *same_top)
{
    struct hr_model *ma = NULL, *mb = NULL;
    struct hr_diag d = {{0}};
    if (hr_model_load(&ma, ref, &d) != 0 || hr_model_load(&mb, other, &d) != 0)
        fail_msg("%s", d.msg);
    const int32_t toks[] = {1, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100};
    uint32_t n = sizeof toks / sizeof toks[0];
    float *la = malloc(ma->n_vocab * sizeof *la), *lb = malloc(mb->n_vocab * sizeof *lb);
    struct hr_ctx *ca = NULL, *cb = NULL;
    assert_true(la && lb && ma->n_vocab == mb->n_vocab);
    assert_int_equal(hr_ctx_new(&ca, ma, 64), 0);
    assert_int_equal(hr_ctx_new(&cb, mb, 64), 0);
    assert_int_equal(hr_ctx_eval(ca, toks, n, 0, la, NULL), 0);
    assert_int_equal(hr_ctx_eval(cb, toks, n, 0, lb, NULL), 0);
    double mean = 0, se = 0, sv = 0;
    uint32_t ta = 0, tb = 0;
    for (uint32_t k = 0; k < ma->n_vocab; k++) {
        assert_true(isfinite(lb[k]));
        mean += la[k];
        ta = la[k] > la[ta] ? k : ta;
        tb = lb[k] > lb[tb] ? k : tb;
    }
    mean /= ma->n_vocab;
    for (uint32_t k = 0; k < ma->n_vocab; k++) {
        se += ((double)lb[k] - la[k]) * ((double)lb[k] - la[k]);
        sv += (la[k] - mean) * (la[k] - mean);
    }
    *same_top = ta == tb;
    hr_ctx_free(ca);
    hr_ctx_free(cb);
    free(la);
    free(lb);
    hr_model_free(ma);
    hr_model_free(mb);
    return sqrt(se / sv);
}

static void test_smol_logits_close(void **state)
{
    (void)state;
    char src[512], dst[512];
    tu_tmpfile("q-smol.gguf", src, sizeof src);
    tu_tmpfile("q-smol-q.gguf", dst, sizeof dst);
    struct hr_synth_params p = {"smol", HR_TYPE_F32, src, NULL, 7, NULL, NULL, NULL};
    assert_int_equal(hr_synth_write(&p, NULL), 0);
    /* q5_k_m left out: it costs as much as q4_k_m (a sanitizer build is slow) and its
     * types are checked above */
    const enum hr_qmix mixes[] = {HR_QMIX_Q8_0, HR_QMIX_Q6_K, HR_QMIX_Q4_K_M};
    /* Measured (avx512vnni kernels / plain C): q8_0 3.6% / 2.5%, q6_k 3.7% / 2.9%, q5_k_m and
     * q4_k_m 14.3-14.5% (smol's 576-wide matrices fall back to Q5_1 / Q5_0, 3.4-4.2% weight
     * error). A random 30-layer model amplifies weight noise several times over; bounds are
     * about 1.5x the worst measured. A broken quantizer (or layout) gives unrelated logits,
     * a distance near sqrt(2). */
    const double bound[] = {0.06, 0.06, 0.22};
    for (size_t i = 0; i < 3; i++) {
        struct hr_diag d = {{0}};
        if (hr_quantize_file(src, dst, mixes[i], 2, NULL, &d) != 0)
            fail_msg("%s", d.msg);
        bool same_top = false;
        double e = logit_distance(src, dst, &same_top);
        printf("smol %s: logits relative RMS difference %.4f (bound %.3f), same top token: %s\n",
               hr_qmix_name(mixes[i]), e, bound[i], same_top ? "yes" : "no");
        assert_true(e < bound[i]);
        assert_true(e > 1e-4); /* the weights did change */
    }
    unlink(src);
    unlink(dst);
}

static void test_errors_leave_no_file(void **state)
{
    (void)state;
    char src[512], q[512], out[512];
    tu_tmpfile("e-src.gguf", src, sizeof src);
    tu_tmpfile("e-q.gguf", q, sizeof q);
    tu_tmpfile("e-out.gguf", out, sizeof out);
    struct hr_synth_params p = {"tiny", HR_TYPE_Q8_0, src, NULL, 4, NULL, NULL, NULL};
    assert_int_equal(hr_synth_write(&p, NULL), 0);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_quantize_file(src, out, HR_QMIX_Q4_K_M, 1, NULL, &d), HR_EUNSUPPORTED);
    assert_non_null(strstr(d.msg, "token_embd.weight"));
    assert_non_null(strstr(d.msg, "Q8_0"));
    assert_non_null(strstr(d.msg, src));
    assert_int_equal(access(out, F_OK), -1);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.gguf", tu_tmpdir());
    hr_diag_clear(&d);
    assert_int_equal(hr_quantize_file(missing, out, HR_QMIX_Q6_K, 1, NULL, &d), HR_EIO);
    assert_non_null(strstr(d.msg, "none.gguf"));
    p.type = HR_TYPE_F32;
    assert_int_equal(hr_synth_write(&p, NULL), 0);
    char bad_dir[600];
    snprintf(bad_dir, sizeof bad_dir, "%s/no/such/dir/out.gguf", tu_tmpdir());
    hr_diag_clear(&d);
    assert_int_equal(hr_quantize_file(src, bad_dir, HR_QMIX_Q6_K, 1, NULL, &d), HR_EIO);
    assert_non_null(strstr(d.msg, "out.gguf"));
    assert_int_equal(hr_quantize_file(src, out, HR_QMIX_COUNT_, 1, NULL, NULL), HR_EINVAL);
    assert_int_equal(access(out, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_layers),
        cmocka_unit_test(test_rule_outputs_fallbacks_and_pure_mixes),
        cmocka_unit_test(test_tiny_file_every_mix),
        cmocka_unit_test(test_errors_leave_no_file),
        cmocka_unit_test(test_smol_logits_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
