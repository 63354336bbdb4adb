/* GGUF v3 writer (layout in gguf.h): metadata and tensor infos are collected in memory, the
 * header is written once all are known, then tensor data is streamed in declaration order so a
 * multi-gigabyte model never sits in memory. One thread. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "gguf.h"

struct wkv {
    char *key;
    uint32_t type;
    uint32_t arr_type;
    uint64_t arr_n;
    uint8_t *payload; /* serialized value bytes as they go to the file */
    size_t n_payload;
};

struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[4];
    uint64_t n_bytes;
    uint64_t offset;
};

struct hr_gguf_writer {
    struct wkv *kv;
    size_t n_kv, cap_kv;
    struct wtensor *t;
    size_t n_t, cap_t;
    uint32_t alignment;
    size_t next_write; /* index of the tensor whose data comes next */
    uint64_t data_pos; /* bytes of tensor data written so far */
};

int hr_gguf_writer_new(struct hr_gguf_writer **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return HR_ENOMEM;
    (*out)->alignment = 32;
    return 0;
}

void hr_gguf_writer_free(struct hr_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].payload);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static int add_kv(struct hr_gguf_writer *w, const char *key, uint32_t type, uint32_t arr_type,
                  uint64_t arr_n, const void *payload, size_t n)
{
    if (!key || !*key || strlen(key) > HR_GGUF_MAX_NAME)
        return HR_EINVAL;
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            return HR_EINVAL;
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        struct wkv *p = realloc(w->kv, cap * sizeof *p);
        if (!p)
            return HR_ENOMEM;
        w->kv = p;
        w->cap_kv = cap;
    }
    struct wkv *kv = &w->kv[w->n_kv];
    kv->key = strdup(key);
    kv->payload = malloc(n ? n : 1);
    if (!kv->key || !kv->payload) {
        free(kv->key);
        free(kv->payload);
        return HR_ENOMEM;
    }
    if (n)
        memcpy(kv->payload, payload, n);
    kv->n_payload = n;
    kv->type = type;
    kv->arr_type = arr_type;
    kv->arr_n = arr_n;
    w->n_kv++;
    if (strcmp(key, "general.alignment") == 0 && type == HR_GGUF_U32) {
        uint32_t a;
        memcpy(&a, payload, 4);
        if (a && !(a & (a - 1)) && a <= HR_GGUF_MAX_ALIGNMENT)
            w->alignment = a;
    }
    return 0;
}

int hr_gguf_writer_add_u32(struct hr_gguf_writer *w, const char *key, uint32_t v)
{
    return add_kv(w, key, HR_GGUF_U32, 0, 0, &v, 4);
}

int hr_gguf_writer_add_i32(struct hr_gguf_writer *w, const char *key, int32_t v)
{
    return add_kv(w, key, HR_GGUF_I32, 0, 0, &v, 4);
}

int hr_gguf_writer_add_f32(struct hr_gguf_writer *w, const char *key, float v)
{
    return add_kv(w, key, HR_GGUF_F32, 0, 0, &v, 4);
}

int hr_gguf_writer_add_bool(struct hr_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return add_kv(w, key, HR_GGUF_BOOL, 0, 0, &b, 1);
}

int hr_gguf_writer_add_str(struct hr_gguf_writer *w, const char *key, const char *v, size_t len)
{
    uint8_t *buf = malloc(8 + len);
    if (!buf)
        return HR_ENOMEM;
    uint64_t n = len;
    memcpy(buf, &n, 8);
    memcpy(buf + 8, v, len);
    int rc = add_kv(w, key, HR_GGUF_STRING, 0, 0, buf, 8 + len);
    free(buf);
    return rc;
}

int hr_gguf_writer_add_arr(struct hr_gguf_writer *w, const char *key, uint32_t elem_type,
                           const void *data, uint64_t n)
{
    size_t es = hr_gguf_vtype_size(elem_type);
    if (es == 0 || n > HR_GGUF_MAX_ARRAY)
        return HR_EINVAL;
    size_t bytes = 12 + (size_t)n * es;
    uint8_t *buf = malloc(bytes);
    if (!buf)
        return HR_ENOMEM;
    memcpy(buf, &elem_type, 4);
    memcpy(buf + 4, &n, 8);
    if (n)
        memcpy(buf + 12, data, (size_t)n * es);
    int rc = add_kv(w, key, HR_GGUF_ARRAY, elem_type, n, buf, bytes);
    free(buf);
    return rc;
}

int hr_gguf_writer_add_arr_str(struct hr_gguf_writer *w, const char *key,
                               const struct hr_str *strs, uint64_t n)
{
    if (n > HR_GGUF_MAX_ARRAY)
        return HR_EINVAL;
    size_t bytes = 12;
    for (uint64_t i = 0; i < n; i++)
        bytes += 8 + strs[i].len;
    uint8_t *buf = malloc(bytes);
    if (!buf)
        return HR_ENOMEM;
    uint32_t et = HR_GGUF_STRING;
    memcpy(buf, &et, 4);
    memcpy(buf + 4, &n, 8);
    size_t o = 12;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = strs[i].len;
        memcpy(buf + o, &len, 8);
        if (len)
            memcpy(buf + o + 8, strs[i].ptr, (size_t)len);
        o += 8 + (size_t)len;
    }
    int rc = add_kv(w, key, HR_GGUF_ARRAY, HR_GGUF_STRING, n, buf, bytes);
    free(buf);
    return rc;
}

int hr_gguf_writer_copy_kv(struct hr_gguf_writer *w, const struct hr_gguf_kv *kv)
{
    char key[HR_GGUF_MAX_NAME + 1];
    if (kv->key.len > HR_GGUF_MAX_NAME)
        return HR_EINVAL;
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = '\0';
    switch (kv->type) {
    case HR_GGUF_STRING:
        return hr_gguf_writer_add_str(w, key, (const char *)kv->data, (size_t)kv->n_bytes);
    case HR_GGUF_ARRAY:
        if (kv->arr_type == HR_GGUF_STRING)
            return hr_gguf_writer_add_arr_str(w, key, kv->strs, kv->arr_n);
        return hr_gguf_writer_add_arr(w, key, kv->arr_type, kv->data, kv->arr_n);
    default:
        return add_kv(w, key, kv->type, 0, 0, kv->data, (size_t)kv->n_bytes);
    }
}

int hr_gguf_writer_add_tensor(struct hr_gguf_writer *w, const char *name, uint32_t type,
                              uint32_t n_dims, const uint64_t *ne)
{
    if (!name || !*name || strlen(name) > HR_GGUF_MAX_NAME || n_dims < 1 ||
        n_dims > HR_GGUF_MAX_DIMS)
        return HR_EINVAL;
    uint64_t row_bytes, rows = 1;
    if (!hr_dtype_row_bytes(type, ne[0], &row_bytes))
        return HR_EINVAL;
    for (uint32_t i = 1; i < n_dims; i++)
        rows *= ne[i];
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        struct wtensor *p = realloc(w->t, cap * sizeof *p);
        if (!p)
            return HR_ENOMEM;
        w->t = p;
        w->cap_t = cap;
    }
    struct wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name)
        return HR_ENOMEM;
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t i = 0; i < 4; i++)
        t->ne[i] = i < n_dims ? ne[i] : 1;
    t->n_bytes = row_bytes * rows;
    w->n_t++;
    return 0;
}

static int put(FILE *f, const void *p, size_t n, struct hr_diag *d)
{
    if (n && fwrite(p, 1, n, f) != n) {
        hr_diag_set(d, "write failed (disk full?)");
        return HR_EIO;
    }
    return 0;
}

static int pad(FILE *f, uint64_t pos, uint32_t alignment, struct hr_diag *d)
{
    static const uint8_t zeros[64] = {0};
    uint64_t n = (alignment - pos % alignment) % alignment;
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        int rc = put(f, zeros, k, d);
        if (rc)
            return rc;
        n -= k;
    }
    return 0;
}

int hr_gguf_writer_write_header(struct hr_gguf_writer *w, FILE *f, struct hr_diag *d)
{
    uint64_t pos = 0;
    uint32_t version = 3;
    uint64_t n_t = w->n_t, n_kv = w->n_kv;
    int rc = put(f, "GGUF", 4, d);
    if (!rc)
        rc = put(f, &version, 4, d);
    if (!rc)
        rc = put(f, &n_t, 8, d);
    if (!rc)
        rc = put(f, &n_kv, 8, d);
    pos = 24;
    for (size_t i = 0; !rc && i < w->n_kv; i++) {
        uint64_t klen = strlen(w->kv[i].key);
        rc = put(f, &klen, 8, d);
        if (!rc)
            rc = put(f, w->kv[i].key, (size_t)klen, d);
        if (!rc)
            rc = put(f, &w->kv[i].type, 4, d);
        if (!rc)
            rc = put(f, w->kv[i].payload, w->kv[i].n_payload, d);
        pos += 12 + klen + w->kv[i].n_payload;
    }
    uint64_t off = 0;
    for (size_t i = 0; !rc && i < w->n_t; i++) {
        struct wtensor *t = &w->t[i];
        t->offset = off;
        off += t->n_bytes + (w->alignment - t->n_bytes % w->alignment) % w->alignment;
        uint64_t nlen = strlen(t->name);
        rc = put(f, &nlen, 8, d);
        if (!rc)
            rc = put(f, t->name, (size_t)nlen, d);
        if (!rc)
            rc = put(f, &t->n_dims, 4, d);
        if (!rc)
            rc = put(f, t->ne, 8 * t->n_dims, d);
        if (!rc)
            rc = put(f, &t->type, 4, d);
        if (!rc)
            rc = put(f, &t->offset, 8, d);
        pos += 8 + nlen + 4 + 8 * t->n_dims + 4 + 8;
    }
    if (!rc && w->n_t)
        rc = pad(f, pos, w->alignment, d);
    w->next_write = 0;
    w->data_pos = 0;
    return rc;
}

int hr_gguf_writer_write_tensor(struct hr_gguf_writer *w, FILE *f, const void *data,
                                uint64_t n_bytes, struct hr_diag *d)
{
    if (w->next_write >= w->n_t) {
        hr_diag_set(d, "more tensor data than declared tensors");
        return HR_EINVAL;
    }
    struct wtensor *t = &w->t[w->next_write];
    if (n_bytes != t->n_bytes) {
        hr_diag_set(d, "tensor '%s': %llu bytes given, %llu expected", t->name,
                    (unsigned long long)n_bytes, (unsigned long long)t->n_bytes);
        return HR_EINVAL;
    }
    int rc = put(f, data, (size_t)n_bytes, d);
    if (!rc)
        rc = pad(f, n_bytes, w->alignment, d);
    w->data_pos += n_bytes;
    w->next_write++;
    return rc;
}
