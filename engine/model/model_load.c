/* Loading a GGUF model (llama, qwen2, qwen3, phi3, gemma2, gemma3): hyper-parameters from
 * metadata, checked against the caps in limits.h and against each other; every weight bound as
 * a view whose shape and type are checked; the tokenizer built from the same file. Any failure
 * names the file and the tensor or key. Any thread (reads files: never the event loop). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "model_int.h"

static int bind(struct hr_model *m, struct hr_weight *w, const char *name, uint64_t ne0,
                uint64_t ne1, bool optional, struct hr_diag *d)
{
    const struct hr_gguf_tensor *t = hr_gguf_tensor(m->gguf, name);
    if (!t) {
        if (optional)
            return HR_ENOTFOUND;
        hr_diag_set(d, "%s: tensor '%s' is missing", m->path, name);
        return HR_EFORMAT;
    }
    uint64_t want_dims = ne1 == 1 ? 1 : 2;
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1 ||
        (t->n_dims != want_dims && !(t->n_dims == 2 && ne1 == 1))) {
        hr_diag_set(d, "%s: tensor '%s' has shape [%llu, %llu], expected [%llu, %llu]", m->path,
                    name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                    (unsigned long long)ne0, (unsigned long long)ne1);
        return HR_EFORMAT;
    }
    if (!hr_kernel_supported(t->type) || (ne1 == 1 && t->type != HR_TYPE_F32)) {
        const struct hr_dtype_info *ti = hr_dtype_get(t->type);
        hr_diag_set(d, "%s: tensor '%s' has type %s, which this build does not support%s",
                    m->path, name, ti ? ti->name : "unknown",
                    ne1 == 1 ? " for norm weights (F32 only)"
                             : " (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K)");
        return HR_EUNSUPPORTED;
    }
    w->data = t->data;
    w->type = t->type;
    w->n_cols = ne0;
    w->n_rows = ne1;
    w->row_bytes = t->n_bytes / ne1;
    return 0;
}

static int get_u32(struct hr_model *m, const char *suffix, uint32_t *out, uint32_t dflt,
                   bool required, struct hr_diag *d)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    struct hr_diag inner = {{0}};
    int rc = hr_gguf_get_u32(m->gguf, key, out, &inner);
    if (rc == HR_ENOTFOUND && !required) {
        *out = dflt;
        return 0;
    }
    if (rc == HR_ENOTFOUND)
        hr_diag_set(d, "%s: key '%s' is missing", m->path, key);
    else if (rc)
        hr_diag_set(d, "%s: %s", m->path, inner.msg);
    return rc ? HR_EFORMAT : 0;
}

/* An optional float `<arch>.<suffix>`: 0 when found, HR_ENOTFOUND (out untouched) when absent,
 * HR_EFORMAT with a diag when it is not a finite float. */
static int get_f32(struct hr_model *m, const char *suffix, float *out, struct hr_diag *d)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", m->arch, suffix);
    struct hr_diag inner = {{0}};
    int rc = hr_gguf_get_f32(m->gguf, key, out, &inner);
    if (rc != 0 && rc != HR_ENOTFOUND) {
        hr_diag_set(d, "%s: %s", m->path, inner.msg);
        return HR_EFORMAT;
    }
    return rc;
}

/* Key and value head sizes: attention.key_length / value_length when present (gemma and qwen3
 * heads need not be n_embd / n_head wide), else n_embd / n_head, as llama.cpp reads them. The
 * KV cache holds one head size, so the two must agree. */
static int read_head_dim(struct hr_model *m, struct hr_diag *d)
{
    uint32_t k_len = 0, v_len = 0;
    int rc = get_u32(m, "attention.key_length", &k_len, 0, false, d);
    rc = rc ? rc : get_u32(m, "attention.value_length", &v_len, 0, false, d);
    if (rc)
        return rc;
    char key[96];
    snprintf(key, sizeof key, "%s.attention.key_length", m->arch);
    bool has_k = hr_gguf_find(m->gguf, key) != NULL;
    snprintf(key, sizeof key, "%s.attention.value_length", m->arch);
    if ((has_k && !k_len) || (hr_gguf_find(m->gguf, key) && !v_len)) {
        hr_diag_set(d, "%s: key '%s.attention.%s_length' is 0", m->path, m->arch,
                    has_k && !k_len ? "key" : "value");
        return HR_EFORMAT;
    }
    if (!k_len && m->n_embd % m->n_head) {
        hr_diag_set(d, "%s: key '%s.attention.head_count' = %u does not divide embedding_length "
                       "%u and no attention.key_length gives the head size", m->path, m->arch,
                    m->n_head, m->n_embd);
        return HR_EFORMAT;
    }
    m->head_dim = k_len ? k_len : m->n_embd / m->n_head;
    uint32_t v_dim = v_len ? v_len : m->n_embd / m->n_head;
    if (m->head_dim > HR_MODEL_MAX_HEAD_DIM) {
        hr_diag_set(d, "%s: head size %u is larger than %u", m->path, m->head_dim,
                    HR_MODEL_MAX_HEAD_DIM);
        return HR_EUNSUPPORTED;
    }
    if (v_dim != m->head_dim) {
        hr_diag_set(d, "%s: key '%s.attention.value_length' = %u differs from the key head size "
                       "%u, which this build does not support", m->path, m->arch, v_dim,
                    m->head_dim);
        return HR_EUNSUPPORTED;
    }
    m->q_dim = m->n_head * m->head_dim; /* <= HR_MODEL_MAX_HEADS * HR_MODEL_MAX_HEAD_DIM */
    return 0;
}

/* gemma3's RoPE scaling for its global layers, as llama.cpp applies it: rope.scaling.type
 * "linear" (the default) divides positions by rope.scaling.factor (or the older
 * rope.scale_linear; 0 or absent: 1), "none" never scales, YaRN and LongRoPE are not run. */
static int read_rope_scaling(struct hr_model *m, struct hr_diag *d)
{
    char key[96];
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch);
    struct hr_str type = {"linear", 6};
    struct hr_diag inner = {{0}};
    int rc = hr_gguf_get_str(m->gguf, key, &type, &inner);
    if (rc != 0 && rc != HR_ENOTFOUND) {
        hr_diag_set(d, "%s: %s", m->path, inner.msg);
        return HR_EFORMAT;
    }
    bool is_none = type.len == 4 && memcmp(type.ptr, "none", 4) == 0;
    bool is_linear = type.len == 6 && memcmp(type.ptr, "linear", 6) == 0;
    if (!is_none && !is_linear) {
        bool known = (type.len == 4 && memcmp(type.ptr, "yarn", 4) == 0) ||
                     (type.len == 8 && memcmp(type.ptr, "longrope", 8) == 0);
        hr_diag_set(d, "%s: key '%s' = '%.*s' %s", m->path, key,
                    (int)(type.len < 32 ? type.len : 32), type.ptr,
                    known ? "is not supported for this architecture (none, linear)"
                          : "is not a RoPE scaling type (none, linear, yarn, longrope)");
        return known ? HR_EUNSUPPORTED : HR_EFORMAT;
    }
    float factor = 0;
    rc = get_f32(m, "rope.scaling.factor", &factor, d);
    if (rc == HR_ENOTFOUND)
        rc = get_f32(m, "rope.scale_linear", &factor, d);
    if (rc != 0 && rc != HR_ENOTFOUND)
        return rc;
    if (factor != 0 && !(factor >= 1e-3f && factor <= 1e6f)) {
        hr_diag_set(d, "%s: key '%s.rope.scaling.factor' = %g must be 0 (none) or within "
                       "[0.001, 1e6]", m->path, m->arch, (double)factor);
        return HR_EFORMAT;
    }
    m->rope_scale = is_none || factor == 0 ? 1.0f : 1.0f / factor;
    return 0;
}

/* gemma3 (llama.cpp's llama_model_gemma3::load_arch_hparams): a sliding window only when
 * attention.sliding_window is present and non-zero; then layer il is local unless
 * il % pattern == pattern - 1 (attention.sliding_window_pattern, default 6: five local layers,
 * one global; 0: every layer local). Local layers rotate with rope.freq_base_swa (default
 * 10000) unscaled; global ones with rope.freq_base and the linear scaling. No attention
 * soft-capping; the final one is optional. */
static int read_gemma3(struct hr_model *m, struct hr_diag *d)
{
    int rc = read_rope_scaling(m, d);
    rc = rc ? rc : get_u32(m, "attention.sliding_window", &m->sliding_window, 0, false, d);
    rc = rc ? rc : get_u32(m, "attention.sliding_window_pattern", &m->swa_period, 6, false, d);
    if (rc)
        return rc;
    if (m->sliding_window > HR_MODEL_MAX_CTX) {
        hr_diag_set(d, "%s: key '%s.attention.sliding_window' = %u is more than %u positions",
                    m->path, m->arch, m->sliding_window, HR_MODEL_MAX_CTX);
        return HR_EFORMAT;
    }
    m->rope_theta_swa = 10000.0f;
    rc = get_f32(m, "rope.freq_base_swa", &m->rope_theta_swa, d);
    if (rc != 0 && rc != HR_ENOTFOUND)
        return rc;
    if (!(m->rope_theta_swa > 0)) {
        hr_diag_set(d, "%s: key '%s.rope.freq_base_swa' must be positive", m->path, m->arch);
        return HR_EFORMAT;
    }
    if (!m->sliding_window) { /* every layer global */
        m->rope_theta_swa = m->rope_theta;
        m->rope_scale_swa = m->rope_scale;
    }
    rc = get_f32(m, "final_logit_softcapping", &m->final_softcap, d);
    if (rc != 0 && rc != HR_ENOTFOUND)
        return rc;
    if (m->final_softcap < 0) {
        hr_diag_set(d, "%s: key '%s.final_logit_softcapping' must not be negative", m->path,
                    m->arch);
        return HR_EFORMAT;
    }
    return 0;
}

static int read_hparams(struct hr_model *m, struct hr_diag *d)
{
    int rc = 0;
    rc = rc ? rc : get_u32(m, "embedding_length", &m->n_embd, 0, true, d);
    rc = rc ? rc : get_u32(m, "block_count", &m->n_layer, 0, true, d);
    rc = rc ? rc : get_u32(m, "feed_forward_length", &m->n_ff, 0, true, d);
    rc = rc ? rc : get_u32(m, "attention.head_count", &m->n_head, 0, true, d);
    if (rc)
        return rc;
    rc = get_u32(m, "attention.head_count_kv", &m->n_head_kv, m->n_head, false, d);
    rc = rc ? rc : get_u32(m, "context_length", &m->n_ctx_train, 2048, false, d);
    if (rc)
        return rc;
    const char *bad = NULL;
    if (m->n_embd == 0 || m->n_embd > HR_MODEL_MAX_EMBD)
        bad = "embedding_length";
    else if (m->n_layer == 0 || m->n_layer > HR_MODEL_MAX_LAYERS)
        bad = "block_count";
    else if (m->n_ff == 0 || m->n_ff > 16 * HR_MODEL_MAX_EMBD)
        bad = "feed_forward_length";
    else if (m->n_head == 0 || m->n_head > HR_MODEL_MAX_HEADS)
        bad = "attention.head_count";
    else if (m->n_head_kv == 0 || m->n_head % m->n_head_kv)
        bad = "attention.head_count_kv";
    else if (m->n_ctx_train == 0 || m->n_ctx_train > HR_MODEL_MAX_CTX)
        bad = "context_length";
    if (bad) {
        hr_diag_set(d, "%s: key '%s.%s' has an impossible value (embd %u, layers %u, ff %u, "
                       "heads %u/%u, ctx %u)", m->path, m->arch, bad, m->n_embd, m->n_layer, m->n_ff,
                    m->n_head, m->n_head_kv, m->n_ctx_train);
        return HR_EFORMAT;
    }
    rc = read_head_dim(m, d);
    rc = rc ? rc : get_u32(m, "rope.dimension_count", &m->n_rot, m->head_dim, false, d);
    if (rc)
        return rc;
    if (m->n_rot == 0 || m->n_rot > m->head_dim || m->n_rot % 2) {
        hr_diag_set(d, "%s: key '%s.rope.dimension_count' = %u (default: the head size) must be "
                       "even and at most the head size %u", m->path, m->arch, m->n_rot,
                    m->head_dim);
        return HR_EFORMAT;
    }
    m->rope_theta = 10000.0f;
    m->norm_eps = 1e-5f;
    rc = get_f32(m, "rope.freq_base", &m->rope_theta, d);
    if (rc != 0 && rc != HR_ENOTFOUND)
        return rc;
    rc = get_f32(m, "attention.layer_norm_rms_epsilon", &m->norm_eps, d);
    if (rc != 0 && rc != HR_ENOTFOUND)
        return rc;
    if (!(m->rope_theta > 0) || !(m->norm_eps > 0 && m->norm_eps < 1)) {
        hr_diag_set(d, "%s: rope.freq_base or layer_norm_rms_epsilon out of range", m->path);
        return HR_EFORMAT;
    }
    m->rope_scale = 1.0f;
    m->embed_scale = 1.0f;
    if (m->arch_id == HR_ARCH_GEMMA2) {
        char key[96];
        m->embed_scale = sqrtf((float)m->n_embd);
        m->ffn_gelu = true;
        snprintf(key, sizeof key, "%s.attn_logit_softcapping", m->arch);
        hr_gguf_get_f32(m->gguf, key, &m->attn_softcap, NULL);
        snprintf(key, sizeof key, "%s.final_logit_softcapping", m->arch);
        hr_gguf_get_f32(m->gguf, key, &m->final_softcap, NULL);
        rc = get_u32(m, "attention.sliding_window", &m->sliding_window, 0, false, d);
        if (rc)
            return rc;
        if (m->attn_softcap < 0 || m->final_softcap < 0) {
            hr_diag_set(d, "%s: soft-capping values must not be negative", m->path);
            return HR_EFORMAT;
        }
        m->swa_period = 2; /* even layers local */
    }
    m->rope_theta_swa = m->rope_theta;
    m->rope_scale_swa = m->rope_scale;
    if (m->arch_id == HR_ARCH_GEMMA3) {
        m->embed_scale = sqrtf((float)m->n_embd);
        m->ffn_gelu = true;
        rc = read_gemma3(m, d);
        if (rc)
            return rc;
    }
    /* gemma_pytorch scales the 27B models' queries by 1/sqrt(n_embd / n_head) (their
     * query_pre_attn_scalar); llama.cpp tells them by their layer count */
    bool big_gemma = (m->arch_id == HR_ARCH_GEMMA2 && m->n_layer == 46) ||
                     (m->arch_id == HR_ARCH_GEMMA3 && m->n_layer == 62);
    m->attn_scale = 1.0f / sqrtf((float)(big_gemma ? m->n_embd / m->n_head : m->head_dim));
    return 0;
}

static int bind_weights(struct hr_model *m, struct hr_diag *d)
{
    uint32_t e = m->n_embd, q = m->q_dim, kv = m->n_head_kv * m->head_dim, v = m->n_vocab;
    bool gemma = m->arch_id == HR_ARCH_GEMMA2 || m->arch_id == HR_ARCH_GEMMA3;
    int rc = bind(m, &m->tok_embd, "token_embd.weight", e, v, false, d);
    rc = rc ? rc : bind(m, &m->output_norm, "output_norm.weight", e, 1, false, d);
    if (rc)
        return rc;
    rc = bind(m, &m->output, "output.weight", e, v, true, d);
    if (rc == HR_ENOTFOUND) {
        m->output = m->tok_embd;
        m->is_tied = true;
        rc = 0;
    } else if (rc) {
        return rc;
    }
    /* Llama 3.1+: per-dimension RoPE frequency divisors for long contexts (gemma3 has none:
     * llama.cpp's builder passes no factors) */
    if (m->arch_id != HR_ARCH_GEMMA3)
        rc = bind(m, &m->rope_freqs, "rope_freqs.weight", m->n_rot / 2, 1, true, d);
    if (rc == HR_ENOTFOUND)
        rc = 0;
    else if (rc)
        return rc;
    m->layers = calloc(m->n_layer, sizeof *m->layers);
    if (!m->layers)
        return HR_ENOMEM;
    for (uint32_t i = 0; i < m->n_layer && !rc; i++) {
        struct hr_layer *l = &m->layers[i];
        uint32_t p = m->swa_period;
        l->is_swa = m->sliding_window && (p == 0 || i % p < p - 1);
        char name[96];
#define BIND(field, suffix, a, b)                                              \
    if (!rc) {                                                                 \
        snprintf(name, sizeof name, "blk.%u." suffix, i);                      \
        rc = bind(m, &l->field, name, a, b, false, d);                         \
    }
        BIND(attn_norm, "attn_norm.weight", e, 1);
        if (m->arch_id == HR_ARCH_PHI3) {
            BIND(wqkv, "attn_qkv.weight", e, q + 2 * kv);
        } else {
            BIND(wq, "attn_q.weight", e, q);
            BIND(wk, "attn_k.weight", e, kv);
            BIND(wv, "attn_v.weight", e, kv);
        }
        if (m->arch_id == HR_ARCH_QWEN2) {
            BIND(bq, "attn_q.bias", q, 1);
            BIND(bk, "attn_k.bias", kv, 1);
            BIND(bv, "attn_v.bias", kv, 1);
        }
        if (m->arch_id == HR_ARCH_QWEN3 || m->arch_id == HR_ARCH_GEMMA3) {
            BIND(q_norm, "attn_q_norm.weight", m->head_dim, 1);
            BIND(k_norm, "attn_k_norm.weight", m->head_dim, 1);
        }
        BIND(wo, "attn_output.weight", q, e);
        BIND(ffn_norm, "ffn_norm.weight", e, 1);
        if (m->arch_id == HR_ARCH_PHI3) {
            BIND(w_up, "ffn_up.weight", e, 2 * m->n_ff);
        } else {
            BIND(w_gate, "ffn_gate.weight", e, m->n_ff);
            BIND(w_up, "ffn_up.weight", e, m->n_ff);
        }
        BIND(w_down, "ffn_down.weight", m->n_ff, e);
        if (gemma) {
            BIND(post_attn_norm, "post_attention_norm.weight", e, 1);
            BIND(post_ffn_norm, "post_ffw_norm.weight", e, 1);
        }
#undef BIND
    }
    return rc;
}

/* The most common matrix type, for the model's description. */
static uint32_t dominant_type(const struct hr_model *m)
{
    uint64_t bytes[HR_TYPE_COUNT_] = {0};
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &m->gguf->tensors[i];
        if (t->n_dims >= 2 && t->type < HR_TYPE_COUNT_)
            bytes[t->type] += t->n_bytes;
    }
    uint32_t best = HR_TYPE_F32;
    for (uint32_t t = 0; t < HR_TYPE_COUNT_; t++)
        if (bytes[t] > bytes[best])
            best = t;
    return best;
}

int hr_model_load(struct hr_model **out, const char *path, struct hr_diag *d)
{
    *out = NULL;
    /* a HEARTH_KERNELS this CPU cannot honour fails here, before any work, not silently later */
    int krc = hr_kernels_start(d);
    if (krc)
        return krc;
    struct hr_model *m = calloc(1, sizeof *m);
    if (!m)
        return HR_ENOMEM;
    snprintf(m->path, sizeof m->path, "%s", path);
    int rc = hr_gguf_open(&m->gguf, path, d);
    if (rc)
        goto fail;
    m->file_bytes = m->gguf->size;
    struct hr_str s;
    if (hr_gguf_get_str(m->gguf, "general.architecture", &s, NULL) != 0) {
        hr_diag_set(d, "%s: key 'general.architecture' is missing or not a string", path);
        rc = HR_EFORMAT;
        goto fail;
    }
    snprintf(m->arch, sizeof m->arch, "%.*s", (int)(s.len < 31 ? s.len : 31), s.ptr);
    static const struct {
        const char *name;
        enum hr_arch id;
        bool neox;
    } arches[] = {{"llama", HR_ARCH_LLAMA, false},
                  {"qwen2", HR_ARCH_QWEN2, true},
                  {"qwen3", HR_ARCH_QWEN3, true},
                  {"phi3", HR_ARCH_PHI3, true},
                  {"gemma2", HR_ARCH_GEMMA2, true},
                  {"gemma3", HR_ARCH_GEMMA3, true}};
    bool known = false;
    for (size_t i = 0; i < sizeof arches / sizeof arches[0] && !known; i++)
        if (s.len == strlen(arches[i].name) && memcmp(s.ptr, arches[i].name, s.len) == 0) {
            known = true;
            m->arch_id = arches[i].id;
            m->rope_neox = arches[i].neox;
        }
    if (!known) {
        hr_diag_set(d, "%s: architecture '%.*s' is not supported (supported: llama, qwen2, qwen3, "
                       "phi3, gemma2, gemma3)", path, (int)(s.len < 64 ? s.len : 64), s.ptr);
        rc = HR_EUNSUPPORTED;
        goto fail;
    }
    if (hr_gguf_get_str(m->gguf, "general.name", &s, NULL) == 0 && s.len)
        snprintf(m->name, sizeof m->name, "%.*s", (int)(s.len < 127 ? s.len : 127), s.ptr);
    else
        snprintf(m->name, sizeof m->name, "%s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    rc = read_hparams(m, d);
    if (!rc)
        rc = hr_model__read_embed_meta(m, d);
    if (rc)
        goto fail;
    struct hr_diag td = {{0}};
    rc = hr_tok_new_from_gguf(&m->tok, m->gguf, &td);
    if (rc) {
        hr_diag_set(d, "%s: %s", path, td.msg[0] ? td.msg : "cannot build the tokenizer");
        goto fail;
    }
    m->n_vocab = (uint32_t)hr_tok_n_vocab(m->tok);
    uint32_t vocab_key = 0;
    char vkey[64];
    snprintf(vkey, sizeof vkey, "%s.vocab_size", m->arch);
    if (hr_gguf_get_u32(m->gguf, vkey, &vocab_key, NULL) == 0 && vocab_key != m->n_vocab) {
        hr_diag_set(d, "%s: %s %u disagrees with the %u tokens of the vocabulary", path, vkey,
                    vocab_key, m->n_vocab);
        rc = HR_EFORMAT;
        goto fail;
    }
    rc = bind_weights(m, d);
    if (rc)
        goto fail;
    m->file_type = dominant_type(m);
    if (hr_gguf_get_str(m->gguf, "tokenizer.chat_template", &s, NULL) == 0) {
        m->chat_template = malloc(s.len + 1);
        if (!m->chat_template) {
            rc = HR_ENOMEM;
            goto fail;
        }
        memcpy(m->chat_template, s.ptr, s.len);
        m->chat_template[s.len] = '\0';
    }
    struct hr_diag td2 = {{0}};
    rc = hr_chat_template_new(&m->chat, m->chat_template, m->chat_template ? s.len : 0, &td2);
    if (rc) {
        hr_diag_set(d, "%s: tokenizer.chat_template: %s", path, td2.msg);
        goto fail;
    }
    *out = m;
    return 0;
fail:
    hr_model_free(m);
    return rc;
}

void hr_model_free(struct hr_model *m)
{
    if (!m)
        return;
    free(m->chat_template);
    hr_chat_template_free(m->chat);
    hr_weight__free_packed(&m->output);
    for (uint32_t i = 0; m->layers && i < m->n_layer; i++) {
        struct hr_layer *L = &m->layers[i];
        struct hr_weight *mats[] = {&L->wqkv, &L->wq, &L->wk, &L->wv, &L->wo,
                                    &L->w_gate, &L->w_up, &L->w_down};
        for (size_t j = 0; j < sizeof mats / sizeof mats[0]; j++)
            hr_weight__free_packed(mats[j]);
    }
    free(m->layers);
    hr_tok_free(m->tok);
    hr_gguf_close(m->gguf);
    free(m);
}

const char *hr_model_type_name(const struct hr_model *m)
{
    static _Thread_local char buf[96];
    uint64_t params = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &m->gguf->tensors[i];
        params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    const struct hr_dtype_info *ti = hr_dtype_get(m->file_type);
    if (params >= 1000000000ull)
        snprintf(buf, sizeof buf, "%s %.1fB %s", m->arch, params / 1e9, ti ? ti->name : "?");
    else if (params >= 1000000ull)
        snprintf(buf, sizeof buf, "%s %.0fM %s", m->arch, params / 1e6, ti ? ti->name : "?");
    else
        snprintf(buf, sizeof buf, "%s %.0fK %s", m->arch, params / 1e3, ti ? ti->name : "?");
    return buf;
}
