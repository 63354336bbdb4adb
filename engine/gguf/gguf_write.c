/* GGUF v3 writer (layout in gguf.h): metadata and tensor infos are collected in memory, the
 * header is written once all are known, then tensor data is streamed in declaration order so a
 * multi-gigabyte model never sits in memory. It refuses what the reader would refuse (bad
 * names, duplicates, shapes, alignment), so whatever it writes reads back. One thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/err.h"
#include "../base/limits.h"
#include "gguf.h"

struct wkv {
    char *key; /* key_len bytes (NUL-terminated for messages; may hold NULs if copied) */
    size_t key_len;
    uint32_t type;
    uint8_t *payload; /* the value's bytes exactly as they go to the file */
    size_t n_payload;
};

struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[4];
    uint64_t n_bytes;
    uint64_t offset; /* in the data section, set by write_header */
};

struct hr_gguf_writer {
    struct wkv *kv;
    size_t n_kv, cap_kv;
    struct wtensor *t;
    size_t n_t, cap_t;
    uint32_t alignment;
    bool header_written;
    size_t next_write; /* index of the tensor whose data comes next */
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

static bool valid_alignment(uint32_t a)
{
    return a != 0 && (a & (a - 1)) == 0 && a <= HR_GGUF_MAX_ALIGNMENT;
}

/* Appends a kv whose value bytes are the concatenation of head and body (either may be
 * empty), so that arrays need no intermediate copy of their payload. */
static int add_kv(struct hr_gguf_writer *w, const char *key, size_t key_len, uint32_t type,
                  const void *head, size_t n_head, const void *body, size_t n_body)
{
    if (w->header_written || key_len == 0 || key_len > HR_GGUF_MAX_NAME ||
        w->n_kv >= HR_GGUF_MAX_KV)
        return HR_EINVAL;
    for (size_t i = 0; i < w->n_kv; i++)
        if (w->kv[i].key_len == key_len && memcmp(w->kv[i].key, key, key_len) == 0)
            return HR_EINVAL;
    bool is_alignment = key_len == 17 && memcmp(key, "general.alignment", 17) == 0;
    uint32_t alignment = 0;
    if (is_alignment) {
        /* The reader accepts only a valid u32 here, and every offset depends on it. */
        if (type != HR_GGUF_U32 || n_head != 4)
            return HR_EINVAL;
        memcpy(&alignment, head, 4);
        if (!valid_alignment(alignment))
            return HR_EINVAL;
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        struct wkv *p = realloc(w->kv, cap * sizeof *p);
        if (!p)
            return HR_ENOMEM;
        w->kv = p;
        w->cap_kv = cap;
    }
    struct wkv *kv = &w->kv[w->n_kv];
    kv->key = malloc(key_len + 1);
    kv->payload = malloc(n_head + n_body ? n_head + n_body : 1);
    if (!kv->key || !kv->payload) {
        free(kv->key);
        free(kv->payload);
        return HR_ENOMEM;
    }
    memcpy(kv->key, key, key_len);
    kv->key[key_len] = '\0';
    kv->key_len = key_len;
    if (n_head)
        memcpy(kv->payload, head, n_head);
    if (n_body)
        memcpy(kv->payload + n_head, body, n_body);
    kv->n_payload = n_head + n_body;
    kv->type = type;
    w->n_kv++;
    if (is_alignment)
        w->alignment = alignment;
    return 0;
}

static int add_scalar(struct hr_gguf_writer *w, const char *key, uint32_t type, const void *v)
{
    if (!key)
        return HR_EINVAL;
    return add_kv(w, key, strlen(key), type, v, hr_gguf_vtype_size(type), NULL, 0);
}

int hr_gguf_writer_add_u32(struct hr_gguf_writer *w, const char *key, uint32_t v)
{
    return add_scalar(w, key, HR_GGUF_U32, &v);
}

int hr_gguf_writer_add_i32(struct hr_gguf_writer *w, const char *key, int32_t v)
{
    return add_scalar(w, key, HR_GGUF_I32, &v);
}

int hr_gguf_writer_add_f32(struct hr_gguf_writer *w, const char *key, float v)
{
    return add_scalar(w, key, HR_GGUF_F32, &v);
}

int hr_gguf_writer_add_bool(struct hr_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return add_scalar(w, key, HR_GGUF_BOOL, &b);
}

static int add_str_n(struct hr_gguf_writer *w, const char *key, size_t key_len, const char *v,
                     size_t len)
{
    if (len > HR_GGUF_MAX_STRING || (len && !v))
        return HR_EINVAL;
    uint64_t n = len;
    return add_kv(w, key, key_len, HR_GGUF_STRING, &n, 8, v, len);
}

int hr_gguf_writer_add_str(struct hr_gguf_writer *w, const char *key, const char *v, size_t len)
{
    if (!key)
        return HR_EINVAL;
    return add_str_n(w, key, strlen(key), v, len);
}

static int add_arr_n(struct hr_gguf_writer *w, const char *key, size_t key_len,
                     uint32_t elem_type, const void *data, uint64_t n)
{
    size_t es = hr_gguf_vtype_size(elem_type);
    if (es == 0 || n > HR_GGUF_MAX_ARRAY || (n && !data))
        return HR_EINVAL;
    uint8_t head[12];
    memcpy(head, &elem_type, 4);
    memcpy(head + 4, &n, 8);
    return add_kv(w, key, key_len, HR_GGUF_ARRAY, head, 12, data, (size_t)n * es);
}

int hr_gguf_writer_add_arr(struct hr_gguf_writer *w, const char *key, uint32_t elem_type,
                           const void *data, uint64_t n)
{
    if (!key)
        return HR_EINVAL;
    return add_arr_n(w, key, strlen(key), elem_type, data, n);
}

static int add_arr_str_n(struct hr_gguf_writer *w, const char *key, size_t key_len,
                         const struct hr_str *strs, uint64_t n)
{
    if (n > HR_GGUF_MAX_ARRAY || (n && !strs))
        return HR_EINVAL;
    size_t bytes = 12;
    for (uint64_t i = 0; i < n; i++) {
        if (strs[i].len > HR_GGUF_MAX_STRING || (strs[i].len && !strs[i].ptr))
            return HR_EINVAL;
        /* n <= 2^24 strings of <= 2^26 bytes: the sum fits 64 bits. */
        bytes += 8 + strs[i].len;
    }
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
    int rc = add_kv(w, key, key_len, HR_GGUF_ARRAY, buf, bytes, NULL, 0);
    free(buf);
    return rc;
}

int hr_gguf_writer_add_arr_str(struct hr_gguf_writer *w, const char *key,
                               const struct hr_str *strs, uint64_t n)
{
    if (!key)
        return HR_EINVAL;
    return add_arr_str_n(w, key, strlen(key), strs, n);
}

int hr_gguf_writer_copy_kv(struct hr_gguf_writer *w, const struct hr_gguf_kv *kv)
{
    /* The key is copied byte for byte: a file's keys are not C strings. */
    const char *key = kv->key.ptr;
    size_t key_len = kv->key.len;
    switch (kv->type) {
    case HR_GGUF_STRING:
        return add_str_n(w, key, key_len, (const char *)kv->data, (size_t)kv->n_bytes);
    case HR_GGUF_ARRAY:
        if (kv->arr_type == HR_GGUF_STRING)
            return add_arr_str_n(w, key, key_len, kv->strs, kv->arr_n);
        if (kv->arr_n > HR_GGUF_MAX_ARRAY ||
            kv->n_bytes != kv->arr_n * hr_gguf_vtype_size(kv->arr_type))
            return HR_EINVAL;
        return add_arr_n(w, key, key_len, kv->arr_type, kv->data, kv->arr_n);
    default:
        if (hr_gguf_vtype_size(kv->type) == 0 || kv->n_bytes != hr_gguf_vtype_size(kv->type))
            return HR_EINVAL;
        return add_kv(w, key, key_len, kv->type, kv->data, (size_t)kv->n_bytes, NULL, 0);
    }
}

int hr_gguf_writer_add_tensor(struct hr_gguf_writer *w, const char *name, uint32_t type,
                              uint32_t n_dims, const uint64_t *ne)
{
    if (w->header_written || !name || !*name || strlen(name) > HR_GGUF_MAX_NAME || n_dims < 1 ||
        n_dims > HR_GGUF_MAX_DIMS || !ne || w->n_t >= HR_GGUF_MAX_TENSORS)
        return HR_EINVAL;
    /* The same shape rules as the reader: dims >= 1, element count < 2^63, whole blocks. */
    uint64_t n_elems = 1, row_bytes;
    for (uint32_t i = 0; i < n_dims; i++) {
        if (ne[i] == 0 || ne[i] > (uint64_t)INT64_MAX / n_elems)
            return HR_EINVAL;
        n_elems *= ne[i];
    }
    if (!hr_dtype_row_bytes(type, ne[0], &row_bytes))
        return HR_EINVAL;
    uint64_t rows = n_elems / ne[0];
    if (rows > UINT64_MAX / 2 / row_bytes)
        return HR_EINVAL;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return HR_EINVAL;
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
    t->n_bytes = rows * row_bytes;
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

static uint64_t padding(uint64_t pos, uint32_t alignment)
{
    return (alignment - pos % alignment) % alignment;
}

static int pad(FILE *f, uint64_t pos, uint32_t alignment, struct hr_diag *d)
{
    static const uint8_t zeros[256] = {0};
    uint64_t n = padding(pos, alignment);
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        int rc = put(f, zeros, k, d);
        if (rc)
            return rc;
        n -= k;
    }
    return 0;
}

/* Assigns each tensor its aligned offset in the data section. */
static int layout(struct hr_gguf_writer *w, struct hr_diag *d)
{
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        struct wtensor *t = &w->t[i];
        uint64_t step = t->n_bytes + padding(t->n_bytes, w->alignment);
        if (off > UINT64_MAX / 2 - step) {
            hr_diag_set(d, "tensor '%s': data section exceeds 2^63 bytes", t->name);
            return HR_EINVAL;
        }
        t->offset = off;
        off += step;
    }
    return 0;
}

int hr_gguf_writer_write_header(struct hr_gguf_writer *w, FILE *f, struct hr_diag *d)
{
    if (w->header_written) {
        hr_diag_set(d, "GGUF header written twice");
        return HR_EINVAL;
    }
    int rc = layout(w, d);
    if (rc)
        return rc;
    uint32_t version = 3;
    uint64_t n_t = w->n_t, n_kv = w->n_kv;
    rc = put(f, "GGUF", 4, d);
    if (!rc)
        rc = put(f, &version, 4, d);
    if (!rc)
        rc = put(f, &n_t, 8, d);
    if (!rc)
        rc = put(f, &n_kv, 8, d);
    uint64_t pos = 24;
    for (size_t i = 0; !rc && i < w->n_kv; i++) {
        const struct wkv *kv = &w->kv[i];
        uint64_t klen = kv->key_len;
        rc = put(f, &klen, 8, d);
        if (!rc)
            rc = put(f, kv->key, kv->key_len, d);
        if (!rc)
            rc = put(f, &kv->type, 4, d);
        if (!rc)
            rc = put(f, kv->payload, kv->n_payload, d);
        pos += 8 + klen + 4 + kv->n_payload;
    }
    for (size_t i = 0; !rc && i < w->n_t; i++) {
        const struct wtensor *t = &w->t[i];
        uint64_t nlen = strlen(t->name);
        rc = put(f, &nlen, 8, d);
        if (!rc)
            rc = put(f, t->name, (size_t)nlen, d);
        if (!rc)
            rc = put(f, &t->n_dims, 4, d);
        if (!rc)
            rc = put(f, t->ne, 8 * (size_t)t->n_dims, d);
        if (!rc)
            rc = put(f, &t->type, 4, d);
        if (!rc)
            rc = put(f, &t->offset, 8, d);
        pos += 8 + nlen + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
    }
    /* A file without tensors ends after its metadata, as llama.cpp's vocab files do. */
    if (!rc && w->n_t)
        rc = pad(f, pos, w->alignment, d);
    if (!rc)
        w->header_written = true;
    return rc;
}

int hr_gguf_writer_write_tensor(struct hr_gguf_writer *w, FILE *f, const void *data,
                                uint64_t n_bytes, struct hr_diag *d)
{
    if (!w->header_written) {
        hr_diag_set(d, "tensor data before the GGUF header");
        return HR_EINVAL;
    }
    if (w->next_write >= w->n_t) {
        hr_diag_set(d, "more tensor data than declared tensors (%zu)", w->n_t);
        return HR_EINVAL;
    }
    const struct wtensor *t = &w->t[w->next_write];
    if (n_bytes != t->n_bytes) {
        hr_diag_set(d, "tensor '%s': %llu bytes given, %llu expected", t->name,
                    (unsigned long long)n_bytes, (unsigned long long)t->n_bytes);
        return HR_EINVAL;
    }
    if (n_bytes > SIZE_MAX) {
        hr_diag_set(d, "tensor '%s': too large for this platform", t->name);
        return HR_EINVAL;
    }
    /* Each tensor starts aligned, so the padding after it depends on its size alone. */
    int rc = put(f, data, (size_t)n_bytes, d);
    if (!rc)
        rc = pad(f, n_bytes, w->alignment, d);
    if (!rc)
        w->next_write++;
    return rc;
}

int hr_gguf_write_file(const char *path, hr_gguf_write_fn fn, void *ud, struct hr_diag *d)
{
    if (!path || !*path) {
        hr_diag_set(d, "an output path is required");
        return HR_EINVAL;
    }
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= sizeof tmp) {
        hr_diag_set(d, "%s: path too long", path);
        return HR_EINVAL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        hr_diag_set(d, "%s: cannot create: %s", path, strerror(errno));
        return HR_EIO;
    }
    fchmod(fd, 0644); /* a model file is not secret; mkstemp made it 0600 */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return HR_ENOMEM;
    }
    int rc = fn(f, ud, d);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        if (!rc)
            hr_diag_set(d, "%s: write failed: %s", path, strerror(errno));
        rc = rc ? rc : HR_EIO;
    }
    if (fclose(f) != 0 && !rc) {
        hr_diag_set(d, "%s: write failed: %s", path, strerror(errno));
        rc = HR_EIO;
    }
    if (!rc && rename(tmp, path) != 0) {
        hr_diag_set(d, "%s: cannot rename into place: %s", path, strerror(errno));
        rc = HR_EIO;
    }
    if (rc)
        unlink(tmp);
    return rc;
}
