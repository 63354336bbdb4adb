/* GGUF reader: maps the file read-only and walks header, metadata and tensor infos with a
 * cursor that knows its end, so every count, length, offset, shape and type is proven against
 * the file size before it is used (layout drawn in gguf.h). Tensor data is never read here:
 * only its range is checked. Any thread; the result is immutable. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/err.h"
#include "../base/limits.h"

struct cursor {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    const char *name; /* file name for messages */
    struct hr_diag *d;
};

static int fail(struct cursor *c, const char *fmt, const char *what, uint64_t a, uint64_t b)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, what, (unsigned long long)a, (unsigned long long)b);
    hr_diag_set(c->d, "%s: offset %llu: %s", c->name, (unsigned long long)c->pos, msg);
    return HR_EFORMAT;
}

static int need(struct cursor *c, uint64_t n, const char *what)
{
    if (n > c->size - c->pos)
        return fail(c, "%s needs %llu bytes but only %llu remain", what, n, c->size - c->pos);
    return 0;
}

static int rd_u32(struct cursor *c, uint32_t *v, const char *what)
{
    int rc = need(c, 4, what);
    if (rc)
        return rc;
    memcpy(v, c->base + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(struct cursor *c, uint64_t *v, const char *what)
{
    int rc = need(c, 8, what);
    if (rc)
        return rc;
    memcpy(v, c->base + c->pos, 8);
    c->pos += 8;
    return 0;
}

static int rd_str(struct cursor *c, struct hr_str *s, uint64_t max, const char *what)
{
    uint64_t len;
    int rc = rd_u64(c, &len, what);
    if (rc)
        return rc;
    if (len > max)
        return fail(c, "%s length %llu exceeds the limit of %llu", what, len, max);
    rc = need(c, len, what);
    if (rc)
        return rc;
    s->ptr = (const char *)c->base + c->pos;
    s->len = (size_t)len;
    c->pos += len;
    return 0;
}

size_t hr_gguf_vtype_size(uint32_t vtype)
{
    switch (vtype) {
    case HR_GGUF_U8:
    case HR_GGUF_I8:
    case HR_GGUF_BOOL:
        return 1;
    case HR_GGUF_U16:
    case HR_GGUF_I16:
        return 2;
    case HR_GGUF_U32:
    case HR_GGUF_I32:
    case HR_GGUF_F32:
        return 4;
    case HR_GGUF_U64:
    case HR_GGUF_I64:
    case HR_GGUF_F64:
        return 8;
    default:
        return 0;
    }
}

static bool key_eq(struct hr_str s, const char *key)
{
    size_t n = strlen(key);
    return s.len == n && memcmp(s.ptr, key, n) == 0;
}

static int read_value(struct cursor *c, struct hr_gguf_kv *kv, const char *key_for_msg)
{
    (void)key_for_msg;
    if (kv->type == HR_GGUF_STRING) {
        struct hr_str s;
        int rc = rd_str(c, &s, HR_GGUF_MAX_STRING, "string value");
        if (rc)
            return rc;
        kv->data = (const uint8_t *)s.ptr;
        kv->n_bytes = s.len;
        return 0;
    }
    if (kv->type == HR_GGUF_ARRAY) {
        int rc = rd_u32(c, &kv->arr_type, "array element type");
        if (!rc)
            rc = rd_u64(c, &kv->arr_n, "array length");
        if (rc)
            return rc;
        if (kv->arr_n > HR_GGUF_MAX_ARRAY)
            return fail(c, "%s %llu exceeds the limit of %llu", "array length", kv->arr_n,
                        HR_GGUF_MAX_ARRAY);
        kv->data = c->base + c->pos;
        if (kv->arr_type == HR_GGUF_STRING) {
            /* Each string needs at least its 8-byte length: bound the table before allocating. */
            if (kv->arr_n > (c->size - c->pos) / 8)
                return fail(c, "%s of %llu strings cannot fit in the %llu bytes left",
                            "array", kv->arr_n, c->size - c->pos);
            kv->strs = calloc(kv->arr_n ? kv->arr_n : 1, sizeof *kv->strs);
            if (!kv->strs)
                return HR_ENOMEM;
            for (uint64_t i = 0; i < kv->arr_n; i++) {
                rc = rd_str(c, &kv->strs[i], HR_GGUF_MAX_STRING, "array string");
                if (rc)
                    return rc;
            }
        } else {
            size_t es = hr_gguf_vtype_size(kv->arr_type);
            if (es == 0)
                return fail(c, "%s type %llu is not a scalar type%.0llu", "array element",
                            kv->arr_type, 0);
            if (kv->arr_n > (c->size - c->pos) / es)
                return fail(c, "%s of %llu elements cannot fit in the %llu bytes left",
                            "array", kv->arr_n, c->size - c->pos);
            c->pos += kv->arr_n * es;
        }
        kv->n_bytes = (uint64_t)(c->base + c->pos - kv->data);
        return 0;
    }
    size_t es = hr_gguf_vtype_size(kv->type);
    if (es == 0)
        return fail(c, "%s type %llu is unknown%.0llu", "value", kv->type, 0);
    int rc = need(c, es, "value");
    if (rc)
        return rc;
    kv->data = c->base + c->pos;
    kv->n_bytes = es;
    c->pos += es;
    return 0;
}

static int cmp_offset(const void *a, const void *b)
{
    const struct hr_gguf_tensor *x = *(const struct hr_gguf_tensor *const *)a;
    const struct hr_gguf_tensor *y = *(const struct hr_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int read_tensor_info(struct cursor *c, struct hr_gguf_tensor *t)
{
    int rc = rd_str(c, &t->name, HR_GGUF_MAX_NAME, "tensor name");
    if (rc)
        return rc;
    if (t->name.len == 0)
        return fail(c, "%s is empty%.0llu%.0llu", "tensor name", 0, 0);
    rc = rd_u32(c, &t->n_dims, "tensor dimension count");
    if (rc)
        return rc;
    if (t->n_dims < 1 || t->n_dims > HR_GGUF_MAX_DIMS)
        return fail(c, "%s %llu is outside 1..%llu", "tensor dimension count", t->n_dims,
                    HR_GGUF_MAX_DIMS);
    uint64_t n_elems = 1;
    for (uint32_t i = 0; i < 4; i++)
        t->ne[i] = 1;
    for (uint32_t i = 0; i < t->n_dims; i++) {
        rc = rd_u64(c, &t->ne[i], "tensor dimension");
        if (rc)
            return rc;
        if (t->ne[i] == 0 || t->ne[i] > (UINT64_MAX >> 1) / n_elems)
            return fail(c, "%s %llu is zero or overflows the element count%.0llu",
                        "tensor dimension", t->ne[i], 0);
        n_elems *= t->ne[i];
    }
    rc = rd_u32(c, &t->type, "tensor type");
    if (!rc)
        rc = rd_u64(c, &t->offset, "tensor offset");
    if (rc)
        return rc;
    const struct hr_dtype_info *ti = hr_dtype_get(t->type);
    if (!ti)
        return fail(c, "%s %llu is unknown%.0llu", "tensor type", t->type, 0);
    uint64_t row_bytes;
    if (!hr_dtype_row_bytes(t->type, t->ne[0], &row_bytes))
        return fail(c, "%s %llu is not a multiple of the block size %llu", "tensor row length",
                    t->ne[0], ti->block_elems);
    uint64_t rows = n_elems / t->ne[0];
    if (rows > UINT64_MAX / row_bytes)
        return fail(c, "%s of %llu rows x %llu bytes overflows", "tensor size", rows, row_bytes);
    t->n_bytes = rows * row_bytes;
    return 0;
}

static int parse(struct hr_gguf *g, struct cursor *c)
{
    uint32_t magic;
    int rc = rd_u32(c, &magic, "magic");
    if (rc)
        return rc;
    if (memcmp(&magic, "GGUF", 4) != 0) {
        hr_diag_set(c->d, "%s: not a GGUF file (bad magic)", c->name);
        return HR_EFORMAT;
    }
    rc = rd_u32(c, &g->version, "version");
    if (rc)
        return rc;
    if (g->version != 2 && g->version != 3) {
        hr_diag_set(c->d, "%s: GGUF version %u is not supported (2 and 3 are)", c->name,
                    g->version);
        return HR_EUNSUPPORTED;
    }
    if ((rc = rd_u64(c, &g->n_tensors, "tensor count")) || (rc = rd_u64(c, &g->n_kv, "key count")))
        return rc;
    /* Caps first, then plausibility: every kv takes >= 12 bytes, every tensor info >= 28. */
    if (g->n_kv > HR_GGUF_MAX_KV || g->n_kv > (c->size - c->pos) / 12)
        return fail(c, "%s %llu is impossible for a file of %llu bytes", "key count", g->n_kv,
                    c->size);
    if (g->n_tensors > HR_GGUF_MAX_TENSORS || g->n_tensors > (c->size - c->pos) / 28)
        return fail(c, "%s %llu is impossible for a file of %llu bytes", "tensor count",
                    g->n_tensors, c->size);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors)
        return HR_ENOMEM;
    g->alignment = 32;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        struct hr_gguf_kv *kv = &g->kv[i];
        rc = rd_str(c, &kv->key, HR_GGUF_MAX_NAME, "key");
        if (rc)
            return rc;
        if (kv->key.len == 0)
            return fail(c, "%s %llu is empty%.0llu", "key", i, 0);
        for (uint64_t k = 0; k < i; k++)
            if (g->kv[k].key.len == kv->key.len &&
                memcmp(g->kv[k].key.ptr, kv->key.ptr, kv->key.len) == 0) {
                hr_diag_set(c->d, "%s: key '%.*s' appears twice", c->name, (int)kv->key.len,
                            kv->key.ptr);
                return HR_EFORMAT;
            }
        rc = rd_u32(c, &kv->type, "value type");
        if (!rc)
            rc = read_value(c, kv, NULL);
        if (rc) {
            if (rc == HR_EFORMAT && c->d && !strstr(c->d->msg, "key '")) {
                char prev[HR_DIAG_MAX];
                snprintf(prev, sizeof prev, "%s", c->d->msg);
                hr_diag_clear(c->d);
                hr_diag_set(c->d, "%s (key '%.*s')", prev, (int)kv->key.len, kv->key.ptr);
            }
            return rc;
        }
        if (key_eq(kv->key, "general.alignment")) {
            uint32_t a = 0;
            if (kv->type == HR_GGUF_U32)
                memcpy(&a, kv->data, 4);
            if (kv->type != HR_GGUF_U32 || a == 0 || (a & (a - 1)) || a > HR_GGUF_MAX_ALIGNMENT) {
                hr_diag_set(c->d, "%s: general.alignment must be a u32 power of two up to %u",
                            c->name, HR_GGUF_MAX_ALIGNMENT);
                return HR_EFORMAT;
            }
            g->alignment = a;
        }
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        rc = read_tensor_info(c, &g->tensors[i]);
        if (rc)
            return rc;
    }
    uint64_t data = c->pos + (g->alignment - c->pos % g->alignment) % g->alignment;
    if (data > c->size && g->n_tensors > 0)
        return fail(c, "%s at %llu is past the end of the file (%llu bytes)", "tensor data",
                    data, c->size);
    g->data_offset = data;
    struct hr_gguf_tensor **order = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *order);
    if (!order)
        return HR_ENOMEM;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct hr_gguf_tensor *t = &g->tensors[i];
        order[i] = t;
        const char *err = NULL;
        if (t->offset % g->alignment)
            err = "offset is not aligned";
        else if (t->offset > c->size - data || t->n_bytes > c->size - data - t->offset)
            err = "data runs past the end of the file";
        if (err) {
            hr_diag_set(c->d, "%s: tensor '%.*s': %s (data [%llu, +%llu) in a file of %llu bytes)",
                        c->name, (int)t->name.len, t->name.ptr, err,
                        (unsigned long long)(data + t->offset), (unsigned long long)t->n_bytes,
                        (unsigned long long)c->size);
            free(order);
            return HR_EFORMAT;
        }
        t->data = c->base + data + t->offset;
    }
    qsort(order, g->n_tensors, sizeof *order, cmp_offset);
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->n_bytes > b->offset) {
            hr_diag_set(c->d, "%s: tensors '%.*s' and '%.*s' overlap", c->name,
                        (int)a->name.len, a->name.ptr, (int)b->name.len, b->name.ptr);
            free(order);
            return HR_EFORMAT;
        }
    }
    free(order);
    /* Duplicate names would make lookups ambiguous. */
    for (uint64_t i = 0; i < g->n_tensors; i++)
        for (uint64_t k = i + 1; k < g->n_tensors; k++)
            if (g->tensors[i].name.len == g->tensors[k].name.len &&
                memcmp(g->tensors[i].name.ptr, g->tensors[k].name.ptr,
                       g->tensors[i].name.len) == 0) {
                hr_diag_set(c->d, "%s: tensor '%.*s' appears twice", c->name,
                            (int)g->tensors[i].name.len, g->tensors[i].name.ptr);
                return HR_EFORMAT;
            }
    return 0;
}

static int open_common(struct hr_gguf **out, const uint8_t *bytes, uint64_t n, const char *name,
                       void *map, size_t map_bytes, struct hr_diag *d)
{
    *out = NULL;
    struct hr_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        if (map)
            munmap(map, map_bytes);
        return HR_ENOMEM;
    }
    g->base = bytes;
    g->size = n;
    g->map_ = map;
    g->map_bytes_ = map_bytes;
    struct cursor c = {bytes, n, 0, name, d};
    int rc = parse(g, &c);
    if (rc) {
        hr_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int hr_gguf_open_mem(struct hr_gguf **out, const void *bytes, size_t n_bytes, struct hr_diag *d)
{
    return open_common(out, bytes, n_bytes, "<memory>", NULL, 0, d);
}

int hr_gguf_open(struct hr_gguf **out, const char *path, struct hr_diag *d)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        hr_diag_set(d, "%s: cannot open: %s", path, strerror(errno));
        return HR_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        hr_diag_set(d, "%s: not a regular file", path);
        close(fd);
        return HR_EIO;
    }
    if (st.st_size < 24) {
        close(fd);
        hr_diag_set(d, "%s: too small to be a GGUF file (%lld bytes)", path,
                    (long long)st.st_size);
        return HR_EFORMAT;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        hr_diag_set(d, "%s: cannot map: %s", path, strerror(errno));
        return HR_EIO;
    }
    return open_common(out, map, (uint64_t)st.st_size, path, map, (size_t)st.st_size, d);
}

void hr_gguf_close(struct hr_gguf *g)
{
    if (!g)
        return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++)
            free(g->kv[i].strs);
    free(g->kv);
    free(g->tensors);
    if (g->map_)
        munmap(g->map_, g->map_bytes_);
    free(g);
}
