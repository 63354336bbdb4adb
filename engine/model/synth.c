/* make-model: a GGUF v3 model (llama or another architecture) in a preset shape with seeded
 * random weights. Each tensor's values come from its own generator (seed mixed with the tensor
 * index), so the file is byte-identical for the same preset, type and seed. Tensors are
 * generated and written one at a time; the file is written under a temporary name, synced and
 * renamed, so out_path never holds a partial model. Any thread. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/err.h"
#include "../kernels/kernels.h"
#include "model.h"
#include "synth_int.h"

static const struct hr_synth_preset presets[] = {
    {"tiny", 64, 2, 4, 2, 172, 512, 10000.0f},
    {"smol", 576, 30, 9, 3, 1536, 8192, 100000.0f},
    {"1b", 2048, 16, 32, 8, 8192, 131072, 500000.0f},
};

const struct hr_synth_preset *hr_synth_preset_find(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (name && strcmp(name, presets[i].name) == 0)
            return &presets[i];
    return NULL;
}

static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-a, a). */
static float uniform(uint64_t *state, float a)
{
    double u = (double)(mix(state) >> 11) * 0x1.0p-53;
    return (float)((2.0 * u - 1.0) * a);
}

/* The shape written: the preset's, adjusted for the architecture. gemma3 gets at least six
 * layers (five local, one global), an explicit head size (tiny: 32, twice n_embd / n_head, so
 * Q is wider than the residual stream) and a sliding window (tiny: 6, short enough for a
 * dozen-token test to cross it). */
struct shape {
    uint32_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
    uint32_t window; /* 0: no sliding_window key */
    bool key_length; /* write attention.key_length / value_length */
};

static struct shape shape_of(const struct hr_synth_preset *ps, const char *arch)
{
    struct shape s = {ps->n_embd, ps->n_layer, ps->n_head, ps->n_head_kv, ps->n_embd / ps->n_head,
                      ps->n_ff, ps->n_ctx, 0, false};
    if (!strcmp(arch, "gemma2"))
        s.window = 4096; /* Gemma 2's own value; it only matters beyond 4096 positions */
    if (!strcmp(arch, "gemma3")) {
        bool tiny = !strcmp(ps->name, "tiny");
        s.n_layer = s.n_layer < 6 ? 6 : s.n_layer;
        s.head_dim = tiny ? 2 * s.head_dim : s.head_dim;
        s.window = tiny ? 6 : 512; /* Gemma 3 1B's window is 512 */
        s.key_length = true;
    }
    return s;
}

struct tensor_spec {
    char name[64];
    uint64_t ne0, ne1; /* ne1 == 1: a norm vector (F32, ones plus noise) */
};

/* The type a matrix is stored in: the mix's rule, as `hearth quantize` applies it to a real
 * model (make-model writes no output.weight: token_embd is tied). Pure mixes keep a matrix
 * whose rows are not whole blocks (tiny's 172-wide ffn_down) in F16, as llama-quantize does. */
static uint32_t matrix_type(enum hr_qmix mix, uint32_t n_layer, const struct tensor_spec *s)
{
    struct hr_qmix_model mm = {n_layer, false};
    return hr_qmix_tensor_type(mix, &mm, s->name, 2, s->ne0, HR_TYPE_F32);
}

/* The pure mix of a matrix type; HR_QMIX_COUNT_ for a type make-model does not write. */
static enum hr_qmix pure_mix(uint32_t type)
{
    switch (type) {
    case HR_TYPE_F32:
        return HR_QMIX_F32;
    case HR_TYPE_F16:
        return HR_QMIX_F16;
    case HR_TYPE_Q8_0:
        return HR_QMIX_Q8_0;
    case HR_TYPE_Q4_0:
        return HR_QMIX_Q4_0;
    default:
        return HR_QMIX_COUNT_;
    }
}

static int add_metadata(struct hr_gguf_writer *w, const struct hr_synth_params *p, enum hr_qmix mix,
                        const struct hr_synth_preset *ps, const struct shape *sh,
                        uint32_t *n_vocab, struct hr_diag *d)
{
    char name[128];
    snprintf(name, sizeof name, "%s", p->name ? p->name : "");
    if (!p->name)
        snprintf(name, sizeof name, "hearth-%s", ps->name);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
    const char *arch = p->arch ? p->arch : "llama";
    bool gemma3 = !strcmp(arch, "gemma3");
    char key[96];
#define ARCH_KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, arch), key)
    int rc = hr_gguf_writer_add_str(w, "general.architecture", arch, strlen(arch));
    rc = rc ? rc : hr_gguf_writer_add_str(w, "general.name", name, strlen(name));
    rc = rc ? rc : hr_gguf_writer_add_u32(w, "general.file_type",
                                                  hr_qmix_file_type(mix));
    rc = rc ? rc : hr_gguf_writer_add_u32(w, "general.alignment", 32);
    rc = rc ? rc : hr_gguf_writer_add_bool(w, "hearth.synthetic", true);
    rc = rc ? rc : hr_gguf_writer_add_str(w, "hearth.seed", seed, strlen(seed));
    rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("context_length"), sh->n_ctx);
    rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("embedding_length"), sh->n_embd);
    rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("block_count"), sh->n_layer);
    rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("feed_forward_length"), sh->n_ff);
    rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("attention.head_count"), sh->n_head);
    rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("attention.head_count_kv"), sh->n_head_kv);
    if (sh->key_length) {
        rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("attention.key_length"), sh->head_dim);
        rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("attention.value_length"), sh->head_dim);
    }
    /* gemma3 converters write no rope.dimension_count: it defaults to the key length */
    if (!gemma3)
        rc = rc ? rc : hr_gguf_writer_add_u32(w, ARCH_KEY("rope.dimension_count"), sh->head_dim);
    /* gemma3: the base of the global layers, Gemma 3's 1e6, with its linear scaling by 8
     * (4B and up); local layers keep the default 10000 (no rope.freq_base_swa key) */
    rc = rc ? rc : hr_gguf_writer_add_f32(w, ARCH_KEY("rope.freq_base"),
                                          gemma3 ? 1e6f : ps->rope_theta);
    rc = rc ? rc : hr_gguf_writer_add_f32(w, ARCH_KEY("attention.layer_norm_rms_epsilon"),
                                          gemma3 ? 1e-6f : 1e-5f);
    if (!rc && !strcmp(arch, "gemma2")) {
        rc = hr_gguf_writer_add_f32(w, ARCH_KEY("attn_logit_softcapping"), 50.0f);
        rc = rc ? rc : hr_gguf_writer_add_f32(w, ARCH_KEY("final_logit_softcapping"), 30.0f);
    }
    if (!rc && p->pooling) {
        enum hr_pooling pool = HR_POOLING_NONE;
        hr_pooling_from_name(p->pooling, &pool); /* checked by hr_synth_write */
        rc = hr_gguf_writer_add_u32(w, ARCH_KEY("pooling_type"), (uint32_t)pool);
    }
    if (!rc && gemma3) {
        rc = hr_gguf_writer_add_str(w, ARCH_KEY("rope.scaling.type"), "linear", 6);
        rc = rc ? rc : hr_gguf_writer_add_f32(w, ARCH_KEY("rope.scaling.factor"), 8.0f);
    }
    if (!rc && sh->window)
        rc = hr_gguf_writer_add_u32(w, ARCH_KEY("attention.sliding_window"), sh->window);
    if (rc)
        return rc;
    if (!p->vocab_path)
        rc = hr_synth__builtin_vocab(w, n_vocab);
    else {
        struct hr_gguf *v = NULL;
        rc = hr_gguf_open(&v, p->vocab_path, d);
        if (rc)
            return rc;
        const struct hr_gguf_kv *toks = NULL;
        if (hr_gguf_get_arr(v, "tokenizer.ggml.tokens", HR_GGUF_STRING, &toks, NULL) != 0) {
            hr_diag_set(d, "%s: no tokenizer.ggml.tokens array to copy", p->vocab_path);
            hr_gguf_close(v);
            return HR_EFORMAT;
        }
        *n_vocab = (uint32_t)toks->arr_n;
        for (uint64_t i = 0; i < v->n_kv && !rc; i++)
            if (v->kv[i].key.len > 10 && memcmp(v->kv[i].key.ptr, "tokenizer.", 10) == 0)
                rc = hr_gguf_writer_copy_kv(w, &v->kv[i]);
        hr_gguf_close(v);
    }
    if (!rc)
        rc = hr_gguf_writer_add_u32(w, ARCH_KEY("vocab_size"), *n_vocab);
#undef ARCH_KEY
    return rc;
}

static int write_tensors(struct hr_gguf_writer *w, FILE *f, const struct hr_synth_params *p,
                         enum hr_qmix mix, uint32_t n_layer, const struct tensor_spec *specs,
                         size_t n_specs, struct hr_diag *d)
{
    uint64_t max_elems = 0;
    for (size_t i = 0; i < n_specs; i++)
        if (specs[i].ne0 * specs[i].ne1 > max_elems)
            max_elems = specs[i].ne0 * specs[i].ne1;
    float *vals = malloc(max_elems * sizeof *vals);
    uint8_t *bytes = malloc(max_elems * sizeof(float));
    int rc = vals && bytes ? 0 : HR_ENOMEM;
    for (size_t i = 0; i < n_specs && !rc; i++) {
        const struct tensor_spec *s = &specs[i];
        uint64_t state = p->seed ^ (0xA5A5A5A5ull * (i + 1));
        bool is_norm = s->ne1 == 1;
        /* std ~ 1/sqrt(fan-in) keeps activations finite through every layer */
        float a = is_norm ? 0.05f : sqrtf(3.0f / (float)s->ne0);
        uint64_t n = s->ne0 * s->ne1;
        for (uint64_t k = 0; k < n; k++)
            vals[k] = (is_norm && !strstr(s->name, ".bias") ? 1.0f : 0.0f) + uniform(&state, a);
        uint32_t type = is_norm ? HR_TYPE_F32 : matrix_type(mix, n_layer, s);
        uint64_t row_bytes = 0;
        hr_dtype_row_bytes(type, s->ne0, &row_bytes);
        for (uint64_t r = 0; r < s->ne1; r++)
            hr_quant_row(type, vals + r * s->ne0, bytes + r * row_bytes, s->ne0);
        rc = hr_gguf_writer_write_tensor(w, f, bytes, row_bytes * s->ne1, d);
    }
    free(vals);
    free(bytes);
    return rc;
}

static int write_model(const struct hr_synth_params *p, enum hr_qmix mix,
                       const struct hr_synth_preset *ps, FILE *f, struct hr_diag *d)
{
    struct hr_gguf_writer *w = NULL;
    int rc = hr_gguf_writer_new(&w);
    if (rc)
        return rc;
    uint32_t n_vocab = 0;
    const char *arch = p->arch ? p->arch : "llama";
    struct shape sh = shape_of(ps, arch);
    rc = add_metadata(w, p, mix, ps, &sh, &n_vocab, d);
    size_t n_specs = 2 + 14 * (size_t)sh.n_layer; /* room for every architecture's extras */
    struct tensor_spec *specs = calloc(n_specs, sizeof *specs);
    if (!rc && !specs)
        rc = HR_ENOMEM;
    if (!rc) {
        bool phi3 = !strcmp(arch, "phi3"), qwen2 = !strcmp(arch, "qwen2");
        bool gemma3 = !strcmp(arch, "gemma3"), gemma2 = !strcmp(arch, "gemma2");
        bool qk_norm = !strcmp(arch, "qwen3") || gemma3, post_norms = gemma2 || gemma3;
        uint64_t e = sh.n_embd, hd = sh.head_dim, q = sh.n_head * hd, kv = sh.n_head_kv * hd;
        uint64_t ff = sh.n_ff;
        size_t k = 0;
#define SPEC(fmt, l, a, b)                                                           \
    do {                                                                             \
        snprintf(specs[k].name, sizeof specs[k].name, fmt, l);                       \
        specs[k].ne0 = a;                                                            \
        specs[k].ne1 = b;                                                            \
        k++;                                                                         \
    } while (0)
        SPEC("token_embd.weight%.0u", 0u, e, n_vocab);
        SPEC("output_norm.weight%.0u", 0u, e, 1);
        for (uint32_t l = 0; l < sh.n_layer; l++) {
            SPEC("blk.%u.attn_norm.weight", l, e, 1);
            if (phi3) {
                SPEC("blk.%u.attn_qkv.weight", l, e, q + 2 * kv);
            } else {
                SPEC("blk.%u.attn_q.weight", l, e, q);
                SPEC("blk.%u.attn_k.weight", l, e, kv);
                SPEC("blk.%u.attn_v.weight", l, e, kv);
            }
            if (qwen2) {
                SPEC("blk.%u.attn_q.bias", l, q, 1);
                SPEC("blk.%u.attn_k.bias", l, kv, 1);
                SPEC("blk.%u.attn_v.bias", l, kv, 1);
            }
            if (qk_norm) {
                SPEC("blk.%u.attn_q_norm.weight", l, hd, 1);
                SPEC("blk.%u.attn_k_norm.weight", l, hd, 1);
            }
            SPEC("blk.%u.attn_output.weight", l, q, e);
            if (post_norms)
                SPEC("blk.%u.post_attention_norm.weight", l, e, 1);
            SPEC("blk.%u.ffn_norm.weight", l, e, 1);
            if (phi3) {
                SPEC("blk.%u.ffn_up.weight", l, e, 2 * ff);
            } else {
                SPEC("blk.%u.ffn_gate.weight", l, e, ff);
                SPEC("blk.%u.ffn_up.weight", l, e, ff);
            }
            SPEC("blk.%u.ffn_down.weight", l, ff, e);
            if (post_norms)
                SPEC("blk.%u.post_ffw_norm.weight", l, e, 1);
        }
#undef SPEC
        n_specs = k;
        for (size_t i = 0; i < n_specs && !rc; i++) {
            uint64_t ne[2] = {specs[i].ne0, specs[i].ne1};
            bool is_norm = specs[i].ne1 == 1;
            rc = hr_gguf_writer_add_tensor(w, specs[i].name,
                                           is_norm ? HR_TYPE_F32 : matrix_type(mix, sh.n_layer,
                                                                               &specs[i]),
                                           is_norm ? 1 : 2, ne);
            if (rc)
                hr_diag_set(d, "cannot declare tensor '%s'", specs[i].name);
        }
    }
    if (!rc)
        rc = hr_gguf_writer_write_header(w, f, d);
    if (!rc)
        rc = write_tensors(w, f, p, mix, sh.n_layer, specs, n_specs, d);
    free(specs);
    hr_gguf_writer_free(w);
    return rc;
}

struct write_ctx {
    const struct hr_synth_params *p;
    enum hr_qmix mix;
    const struct hr_synth_preset *ps;
};

static int write_cb(FILE *f, void *ud, struct hr_diag *d)
{
    const struct write_ctx *c = ud;
    return write_model(c->p, c->mix, c->ps, f, d);
}

int hr_synth_write(const struct hr_synth_params *p, struct hr_diag *d)
{
    if (pure_mix(p->type) == HR_QMIX_COUNT_) {
        hr_diag_set(d, "type %u is not one make-model writes (f32, f16, q8_0, q4_0)", p->type);
        return HR_EINVAL;
    }
    return hr_synth_write_mix(p, pure_mix(p->type), d);
}

int hr_synth_write_mix(const struct hr_synth_params *p, enum hr_qmix mix, struct hr_diag *d)
{
    const struct hr_synth_preset *ps = hr_synth_preset_find(p->preset);
    if (!ps) {
        hr_diag_set(d, "preset '%s' is unknown (tiny, smol, 1b)", p->preset ? p->preset : "");
        return HR_EINVAL;
    }
    const char *arch = p->arch ? p->arch : "llama";
    if (strcmp(arch, "llama") && strcmp(arch, "qwen2") && strcmp(arch, "qwen3") &&
        strcmp(arch, "phi3") && strcmp(arch, "gemma2") && strcmp(arch, "gemma3")) {
        hr_diag_set(d, "architecture '%s' is not one make-model writes (llama, qwen2, qwen3, "
                       "phi3, gemma2, gemma3)", arch);
        return HR_EINVAL;
    }
    enum hr_pooling pool = HR_POOLING_NONE;
    if (p->pooling && (hr_pooling_from_name(p->pooling, &pool) != 0 ||
                       (pool != HR_POOLING_MEAN && pool != HR_POOLING_CLS &&
                        pool != HR_POOLING_LAST))) {
        hr_diag_set(d, "pooling '%s' is not one make-model writes (mean, cls, last)", p->pooling);
        return HR_EINVAL;
    }
    if ((unsigned)mix >= HR_QMIX_COUNT_) {
        hr_diag_set(d, "mix %d is not one make-model writes", (int)mix);
        return HR_EINVAL;
    }
    struct write_ctx ctx = {p, mix, ps};
    return hr_gguf_write_file(p->out_path, write_cb, &ctx, d);
}
