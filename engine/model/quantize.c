/* Quantization mixes and whole-file quantization (see quantize.h). The K mixes restate
 * llama-quantize's choice for its Q4_K_M, Q5_K_M and Q6_K file types (llama_tensor_get_type
 * in llama.cpp's src/llama-quant.cpp) for the dense architectures Hearth loads; what it does
 * for MoE models, Falcon and 70B shapes is left out. Files stream tensor by tensor from the
 * input's mapping. Any thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../gguf/gguf.h"
#include "../kernels/kernels.h"
#include "quantize.h"

static const struct {
    const char *name;
    uint32_t base_type; /* the type of most matrices */
    uint32_t file_type;
} mixes[HR_QMIX_COUNT_] = {
    [HR_QMIX_F32] = {"f32", HR_TYPE_F32, 0},
    [HR_QMIX_F16] = {"f16", HR_TYPE_F16, 1},
    [HR_QMIX_Q8_0] = {"q8_0", HR_TYPE_Q8_0, 7},
    [HR_QMIX_Q4_0] = {"q4_0", HR_TYPE_Q4_0, 2},
    [HR_QMIX_Q4_K_M] = {"q4_k_m", HR_TYPE_Q4_K, 15},
    [HR_QMIX_Q5_K_M] = {"q5_k_m", HR_TYPE_Q5_K, 17},
    [HR_QMIX_Q6_K] = {"q6_k", HR_TYPE_Q6_K, 18},
};

int hr_qmix_from_name(const char *name, enum hr_qmix *out)
{
    for (int i = 0; i < HR_QMIX_COUNT_ && name; i++)
        if (strcmp(name, mixes[i].name) == 0) {
            *out = (enum hr_qmix)i;
            return 0;
        }
    return HR_EINVAL;
}

const char *hr_qmix_name(enum hr_qmix m)
{
    return (unsigned)m < HR_QMIX_COUNT_ ? mixes[m].name : "?";
}

uint32_t hr_qmix_file_type(enum hr_qmix m)
{
    return (unsigned)m < HR_QMIX_COUNT_ ? mixes[m].file_type : 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool fits(uint32_t type, uint64_t ne0)
{
    uint64_t bytes;
    return hr_dtype_row_bytes(type, ne0, &bytes);
}

/* llama-quantize's "use more bits" layers: the first and last eighth, and every third layer
 * in between, where the sensitive attn_v / ffn_down matrices get Q6_K. */
static bool more_bits(long layer, long n_layer)
{
    if (layer < 0)
        return false;
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

static long layer_of(const char *name)
{
    if (strncmp(name, "blk.", 4) != 0)
        return -1;
    char *end = NULL;
    long l = strtol(name + 4, &end, 10);
    return end != name + 4 && *end == '.' && l >= 0 ? l : -1;
}

uint32_t hr_qmix_tensor_type(enum hr_qmix m, const struct hr_qmix_model *mm, const char *name,
                             uint32_t n_dims, uint64_t ne0, uint32_t cur_type)
{
    if ((unsigned)m >= HR_QMIX_COUNT_ || n_dims < 2 || !ends_with(name, "weight") ||
        strstr(name, "_norm.weight"))
        return cur_type;
    uint32_t t = mixes[m].base_type;
    if (t == HR_TYPE_F32 || t == HR_TYPE_F16)
        return t;
    if (m == HR_QMIX_Q8_0 || m == HR_QMIX_Q4_0)
        return fits(t, ne0) ? t : HR_TYPE_F16;
    bool is_output = strcmp(name, "output.weight") == 0 ||
                     (!mm->has_output && strcmp(name, "token_embd.weight") == 0);
    bool mixed = m == HR_QMIX_Q4_K_M || m == HR_QMIX_Q5_K_M;
    if (is_output) {
        t = fits(HR_TYPE_Q6_K, ne0) ? HR_TYPE_Q6_K : HR_TYPE_Q8_0;
    } else if (strstr(name, "attn_v.weight") || strstr(name, "attn_qkv.weight") ||
               strstr(name, "ffn_down")) {
        /* llama.cpp counts attn_v tensors (fused qkv included: its attn_v branch comes
         * first) and ffn_down tensors in layer order; in a dense model that is the layer. */
        if (mixed && more_bits(layer_of(name), (long)mm->n_layer))
            t = HR_TYPE_Q6_K;
    }
    if (!fits(t, ne0)) {
        switch (t) {
        case HR_TYPE_Q4_K:
            t = HR_TYPE_Q5_0;
            break;
        case HR_TYPE_Q5_K:
            t = HR_TYPE_Q5_1;
            break;
        case HR_TYPE_Q6_K:
            t = HR_TYPE_Q8_0;
            break;
        default:
            break;
        }
        if (!fits(t, ne0))
            t = HR_TYPE_F16;
    }
    return t;
}

/* --- files --- */

struct job {
    const struct hr_gguf *in;
    const char *in_path;
    enum hr_qmix mix;
    uint32_t *types; /* output type per tensor */
    struct hr_quantize_stats *st;
    struct hr_pool *pool;
};

static bool is_float_type(uint32_t t)
{
    return t == HR_TYPE_F32 || t == HR_TYPE_F16 || t == HR_TYPE_BF16;
}

/* Rows of a tensor: every dimension past the first. */
static uint64_t n_rows_of(const struct hr_gguf_tensor *t)
{
    uint64_t r = 1;
    for (uint32_t k = 1; k < t->n_dims; k++)
        r *= t->ne[k];
    return r;
}

static int add_metadata(struct hr_gguf_writer *w, const struct job *j)
{
    const struct hr_gguf *g = j->in;
    bool has_ft = false, has_qv = false;
    int rc = 0;
    for (uint64_t i = 0; i < g->n_kv && !rc; i++) {
        const struct hr_gguf_kv *kv = &g->kv[i];
        if (kv->key.len == 17 && memcmp(kv->key.ptr, "general.file_type", 17) == 0) {
            /* in its old place, so the key order stays the input's */
            rc = hr_gguf_writer_add_u32(w, "general.file_type", hr_qmix_file_type(j->mix));
            has_ft = true;
            continue;
        }
        if (kv->key.len == 28 && memcmp(kv->key.ptr, "general.quantization_version", 28) == 0)
            has_qv = true;
        rc = hr_gguf_writer_copy_kv(w, kv);
    }
    if (!rc && !has_ft)
        rc = hr_gguf_writer_add_u32(w, "general.file_type", hr_qmix_file_type(j->mix));
    if (!rc && !has_qv)
        rc = hr_gguf_writer_add_u32(w, "general.quantization_version", 2);
    return rc;
}

/* Rows [begin, end) of one tensor, on a pool thread: each row is decoded and encoded on its
 * own, so the bytes do not depend on how rows are split. */
struct rows_job {
    const struct hr_gguf_tensor *t;
    uint32_t type;
    uint64_t in_rb, out_rb;
    uint8_t *out;
    int rc; /* set by any range that fails; every range writes the same value */
};

static void convert_rows(void *ud, size_t begin, size_t end)
{
    struct rows_job *rj = ud;
    size_t n = (size_t)rj->t->ne[0];
    float *row = malloc(n * sizeof *row); /* once per range: one per thread and tensor */
    if (!row) {
        rj->rc = HR_ENOMEM;
        return;
    }
    const uint8_t *in = rj->t->data;
    for (size_t r = begin; r < end; r++) {
        hr_dequant_row(rj->t->type, in + r * rj->in_rb, row, n);
        if (!hr_quant_row(rj->type, row, rj->out + r * rj->out_rb, n))
            rj->rc = HR_EINTERNAL; /* the rule never picks a type without a quantizer */
    }
    free(row);
}

static int write_tensor(FILE *f, struct hr_gguf_writer *w, const struct hr_gguf_tensor *t,
                        uint32_t type, struct hr_pool *pool, uint8_t *out, struct hr_diag *d)
{
    if (type == t->type)
        return hr_gguf_writer_write_tensor(w, f, t->data, t->n_bytes, d);
    struct rows_job rj = {t, type, 0, 0, out, 0};
    hr_dtype_row_bytes(t->type, t->ne[0], &rj.in_rb);
    hr_dtype_row_bytes(type, t->ne[0], &rj.out_rb);
    uint64_t n_rows = n_rows_of(t);
    hr_pool_run(pool, (size_t)n_rows, convert_rows, &rj);
    if (rj.rc) {
        if (rj.rc == HR_EINTERNAL)
            hr_diag_set(d, "no quantizer for type %u", type);
        return rj.rc;
    }
    return hr_gguf_writer_write_tensor(w, f, out, rj.out_rb * n_rows, d);
}

static int write_all(FILE *f, void *ud, struct hr_diag *d)
{
    const struct job *j = ud;
    const struct hr_gguf *g = j->in;
    struct hr_gguf_writer *w = NULL;
    uint8_t *out = NULL;
    int rc = hr_gguf_writer_new(&w);
    if (rc)
        return rc;
    rc = add_metadata(w, j);
    if (rc)
        hr_diag_set(d, "%s: cannot copy the metadata", j->in_path);
    uint64_t max_out = 1; /* the largest converted tensor: the only one held in memory */
    for (uint64_t i = 0; i < g->n_tensors && !rc; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        rc = hr_gguf_writer_add_tensor(w, name, j->types[i], t->n_dims, t->ne);
        if (rc) {
            hr_diag_set(d, "%s: tensor '%s': cannot declare it", j->in_path, name);
            break;
        }
        uint64_t rb = 0;
        hr_dtype_row_bytes(j->types[i], t->ne[0], &rb);
        if (j->types[i] != t->type && rb * n_rows_of(t) > max_out)
            max_out = rb * n_rows_of(t);
        j->st->n_tensors[j->types[i]]++;
        j->st->n_bytes[j->types[i]] += rb * n_rows_of(t);
        j->st->in_bytes += t->n_bytes;
        j->st->out_bytes += rb * n_rows_of(t);
    }
    if (!rc && max_out > SIZE_MAX)
        rc = HR_ENOMEM;
    if (!rc) {
        out = malloc((size_t)max_out);
        rc = out ? 0 : HR_ENOMEM;
    }
    if (!rc)
        rc = hr_gguf_writer_write_header(w, f, d);
    for (uint64_t i = 0; i < g->n_tensors && !rc; i++)
        rc = write_tensor(f, w, &g->tensors[i], j->types[i], j->pool, out, d);
    free(out);
    hr_gguf_writer_free(w);
    return rc;
}

int hr_quantize_file(const char *in_path, const char *out_path, enum hr_qmix m,
                     int n_threads, struct hr_quantize_stats *st, struct hr_diag *d)
{
    if ((unsigned)m >= HR_QMIX_COUNT_) {
        hr_diag_set(d, "%s: unknown quantization mix %d", out_path, (int)m);
        return HR_EINVAL;
    }
    struct hr_quantize_stats local;
    st = st ? st : &local;
    memset(st, 0, sizeof *st);
    struct hr_gguf *g = NULL;
    int rc = hr_gguf_open(&g, in_path, d);
    if (rc)
        return rc;
    uint32_t *types = calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *types);
    if (!types) {
        hr_gguf_close(g);
        return HR_ENOMEM;
    }
    struct hr_qmix_model mm = {0, false};
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        if (t->name.len == 13 && memcmp(t->name.ptr, "output.weight", 13) == 0)
            mm.has_output = true;
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 31 ? t->name.len : 31),
                 t->name.ptr);
        long l = layer_of(name);
        if (l >= 0 && l < (long)UINT32_MAX && (uint32_t)l + 1 > mm.n_layer)
            mm.n_layer = (uint32_t)l + 1;
    }
    for (uint64_t i = 0; i < g->n_tensors && !rc; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        const struct hr_dtype_info *ti = hr_dtype_get(t->type);
        if (!is_float_type(t->type)) {
            hr_diag_set(d, "%s: tensor '%.*s' is already quantized (%s); quantize from an F32, "
                           "F16 or BF16 model", in_path, (int)t->name.len, t->name.ptr,
                        ti && ti->name ? ti->name : "unknown type");
            rc = HR_EUNSUPPORTED;
            break;
        }
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        types[i] = hr_qmix_tensor_type(m, &mm, name, t->n_dims, t->ne[0], t->type);
    }
    struct hr_pool *pool = NULL;
    if (!rc)
        rc = hr_pool_new(&pool, n_threads < 1 ? 1 : n_threads);
    struct job j = {g, in_path, m, types, st, pool};
    if (!rc)
        rc = hr_gguf_write_file(out_path, write_all, &j, d);
    hr_pool_free(pool);
    free(types);
    hr_gguf_close(g);
    return rc;
}
