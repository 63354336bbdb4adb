/* GGUF reader: maps the file read-only and walks header, metadata and tensor infos with a
 * cursor that knows its end, so every count, length, offset, shape and type is proven against
 * the file size before it is used (layout drawn in gguf.h). Tensor data is never touched here,
 * only its range is checked; typed lookups live in gguf_access.c. Any thread; the result is
 * immutable. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/err.h"
#include "../base/limits.h"

/* Smallest possible encodings, used to prove a count plausible before allocating for it:
 * a kv is at least a key length (8) and a value type (4); a tensor info at least a name
 * length (8), n_dims (4), one dimension (8), a type (4) and an offset (8). */
#define MIN_KV_BYTES 12
#define MIN_TENSOR_INFO_BYTES 32

struct cursor {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    uint64_t mark;    /* start of the field being checked: the offset messages report */
    const char *file; /* path (or "<memory>") for messages */
    struct hr_diag *d;
    char ctx[128]; /* "key 'x': " or "tensor 'y': " while inside one, else "" */
};

/* Copies an untrusted name into buf for a message: printable ASCII kept, other bytes as \xHH,
 * long names cut with "...", so a hostile file cannot garble the log line. */
static const char *quote(struct hr_str s, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (o + 8 >= cap) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
    }
    buf[o] = '\0';
    return buf;
}

static void set_ctx(struct cursor *c, const char *what, struct hr_str name)
{
    char q[80];
    snprintf(c->ctx, sizeof c->ctx, "%s '%s': ", what, quote(name, q, sizeof q));
}

__attribute__((format(printf, 2, 3))) static int fail(struct cursor *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hr_diag_set(c->d, "%s: offset %llu: %s%s", c->file, (unsigned long long)c->mark, c->ctx,
                msg);
    return HR_EFORMAT;
}

static uint64_t left(const struct cursor *c)
{
    return c->size - c->pos;
}

static int skip(struct cursor *c, size_t n, const char *what)
{
    c->mark = c->pos;
    if (n > left(c))
        return fail(c, "%s needs %zu bytes but only %llu are left", what, n,
                    (unsigned long long)left(c));
    c->pos += n;
    return 0;
}

static int rd_fixed(struct cursor *c, void *out, size_t n, const char *what)
{
    int rc = skip(c, n, what);
    if (rc == 0)
        memcpy(out, c->base + c->pos - n, n);
    return rc;
}

static int rd_u32(struct cursor *c, uint32_t *v, const char *what)
{
    return rd_fixed(c, v, 4, what);
}

static int rd_u64(struct cursor *c, uint64_t *v, const char *what)
{
    return rd_fixed(c, v, 8, what);
}

/* A length-prefixed string as a view into the file. */
static int rd_str(struct cursor *c, struct hr_str *s, uint64_t max, const char *what)
{
    uint64_t len;
    int rc = rd_u64(c, &len, what);
    if (rc)
        return rc;
    if (len > max)
        return fail(c, "%s length %llu exceeds the limit of %llu", what,
                    (unsigned long long)len, (unsigned long long)max);
    if (len > left(c))
        return fail(c, "%s length %llu exceeds the %llu bytes left", what,
                    (unsigned long long)len, (unsigned long long)left(c));
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

static int read_array(struct cursor *c, struct hr_gguf_kv *kv)
{
    int rc = rd_u32(c, &kv->arr_type, "array element type");
    if (rc)
        return rc;
    if (kv->arr_type == HR_GGUF_ARRAY)
        return fail(c, "arrays of arrays are not supported");
    if (kv->arr_type != HR_GGUF_STRING && hr_gguf_vtype_size(kv->arr_type) == 0)
        return fail(c, "array element type %u is unknown", kv->arr_type);
    rc = rd_u64(c, &kv->arr_n, "array count");
    if (rc)
        return rc;
    if (kv->arr_n > HR_GGUF_MAX_ARRAY)
        return fail(c, "array count %llu exceeds the limit of %u",
                    (unsigned long long)kv->arr_n, HR_GGUF_MAX_ARRAY);
    kv->data = c->base + c->pos;
    if (kv->arr_type == HR_GGUF_STRING) {
        /* Each string needs at least its 8-byte length: bound the table before allocating. */
        if (kv->arr_n > left(c) / 8)
            return fail(c, "array of %llu strings cannot fit in the %llu bytes left",
                        (unsigned long long)kv->arr_n, (unsigned long long)left(c));
        kv->strs = calloc(kv->arr_n ? (size_t)kv->arr_n : 1, sizeof *kv->strs);
        if (!kv->strs)
            return HR_ENOMEM;
        for (uint64_t i = 0; i < kv->arr_n; i++) {
            rc = rd_str(c, &kv->strs[i], HR_GGUF_MAX_STRING, "array string");
            if (rc)
                return rc;
        }
    } else {
        size_t es = hr_gguf_vtype_size(kv->arr_type);
        if (kv->arr_n > left(c) / es)
            return fail(c, "array of %llu x %zu-byte elements exceeds the %llu bytes left",
                        (unsigned long long)kv->arr_n, es, (unsigned long long)left(c));
        c->pos += kv->arr_n * es;
    }
    kv->n_bytes = (uint64_t)(c->base + c->pos - kv->data);
    return 0;
}

static int read_kv(struct cursor *c, struct hr_gguf_kv *kv, uint64_t i)
{
    int rc = rd_str(c, &kv->key, HR_GGUF_MAX_NAME, "key");
    if (rc)
        return rc;
    if (kv->key.len == 0)
        return fail(c, "key %llu is empty", (unsigned long long)i);
    set_ctx(c, "key", kv->key);
    rc = rd_u32(c, &kv->type, "value type");
    if (rc)
        return rc;
    if (kv->type == HR_GGUF_STRING) {
        struct hr_str s = {NULL, 0};
        rc = rd_str(c, &s, HR_GGUF_MAX_STRING, "string");
        kv->data = (const uint8_t *)s.ptr;
        kv->n_bytes = s.len;
    } else if (kv->type == HR_GGUF_ARRAY) {
        rc = read_array(c, kv);
    } else {
        size_t es = hr_gguf_vtype_size(kv->type);
        if (es == 0)
            return fail(c, "value type %u is unknown", kv->type);
        kv->data = c->base + c->pos;
        kv->n_bytes = es;
        rc = skip(c, es, "value");
    }
    if (rc)
        return rc;
    c->mark = (uint64_t)(kv->data - c->base);
    if (kv->key.len == 17 && memcmp(kv->key.ptr, "general.alignment", 17) == 0) {
        uint32_t a = 0;
        if (kv->type == HR_GGUF_U32)
            memcpy(&a, kv->data, 4);
        if (kv->type != HR_GGUF_U32 || a == 0 || (a & (a - 1)) || a > HR_GGUF_MAX_ALIGNMENT)
            return fail(c, "must be a u32 power of two in 1..%u", HR_GGUF_MAX_ALIGNMENT);
    }
    c->ctx[0] = '\0';
    return 0;
}

static int read_tensor_info(struct cursor *c, struct hr_gguf_tensor *t, uint64_t i)
{
    int rc = rd_str(c, &t->name, HR_GGUF_MAX_NAME, "tensor name");
    if (rc)
        return rc;
    if (t->name.len == 0)
        return fail(c, "tensor %llu has an empty name", (unsigned long long)i);
    set_ctx(c, "tensor", t->name);
    rc = rd_u32(c, &t->n_dims, "dimension count");
    if (rc)
        return rc;
    if (t->n_dims < 1 || t->n_dims > HR_GGUF_MAX_DIMS)
        return fail(c, "dimension count %u is outside 1..%d", t->n_dims, HR_GGUF_MAX_DIMS);
    /* Element counts stay below 2^63 so that signed arithmetic on them is safe downstream. */
    uint64_t n_elems = 1, ne_at = c->pos;
    for (uint32_t k = 0; k < 4; k++)
        t->ne[k] = 1;
    for (uint32_t k = 0; k < t->n_dims; k++) {
        rc = rd_u64(c, &t->ne[k], "dimension");
        if (rc)
            return rc;
        if (t->ne[k] == 0)
            return fail(c, "dimension %u is 0", k);
        if (t->ne[k] > (uint64_t)INT64_MAX / n_elems)
            return fail(c, "dimension %u (%llu) makes the element count overflow", k,
                        (unsigned long long)t->ne[k]);
        n_elems *= t->ne[k];
    }
    rc = rd_u32(c, &t->type, "tensor type");
    if (rc)
        return rc;
    const struct hr_dtype_info *ti = hr_dtype_get(t->type);
    if (!ti)
        return fail(c, "tensor type %u is unknown", t->type);
    rc = rd_u64(c, &t->offset, "tensor offset");
    if (rc)
        return rc;
    c->mark = ne_at;
    uint64_t row_bytes;
    if (!hr_dtype_row_bytes(t->type, t->ne[0], &row_bytes))
        return fail(c, "row length %llu is not a multiple of the %s block size %u",
                    (unsigned long long)t->ne[0], ti->name, ti->block_elems);
    uint64_t rows = n_elems / t->ne[0];
    if (rows > UINT64_MAX / row_bytes)
        return fail(c, "size of %llu rows x %llu bytes overflows", (unsigned long long)rows,
                    (unsigned long long)row_bytes);
    t->n_bytes = rows * row_bytes;
    c->ctx[0] = '\0';
    return 0;
}

static int cmp_str(const struct hr_str *a, const struct hr_str *b)
{
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->ptr, b->ptr, a->len);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return cmp_str(*(const struct hr_str *const *)a, *(const struct hr_str *const *)b);
}

/* The first name that occurs twice among n names (each `stride` bytes apart), via a sorted
 * copy so that hostile files with 65536 entries cost n log n, not n^2. NULL if none. */
static int find_dup(const struct hr_str *first, uint64_t n, size_t stride,
                    const struct hr_str **dup)
{
    *dup = NULL;
    if (n < 2)
        return 0;
    const struct hr_str **v = malloc((size_t)n * sizeof *v);
    if (!v)
        return HR_ENOMEM;
    for (uint64_t i = 0; i < n; i++)
        v[i] = (const struct hr_str *)((const char *)first + i * stride);
    qsort(v, (size_t)n, sizeof *v, cmp_str_ptr);
    for (uint64_t i = 1; i < n && !*dup; i++)
        if (cmp_str(v[i - 1], v[i]) == 0)
            *dup = v[i];
    free(v);
    return 0;
}

static int cmp_offset(const void *a, const void *b)
{
    const struct hr_gguf_tensor *x = *(const struct hr_gguf_tensor *const *)a;
    const struct hr_gguf_tensor *y = *(const struct hr_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Proves each tensor's data inside the file, aligned, and disjoint from every other's. */
static int place_tensors(struct hr_gguf *g, struct cursor *c)
{
    char q[80], q2[80];
    uint64_t room = c->size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct hr_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment) {
            hr_diag_set(c->d, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                        c->file, quote(t->name, q, sizeof q), (unsigned long long)t->offset,
                        g->alignment);
            return HR_EFORMAT;
        }
        if (t->offset > room) {
            hr_diag_set(c->d, "%s: tensor '%s': data offset %llu is past end of file (%llu bytes)",
                        c->file, quote(t->name, q, sizeof q), (unsigned long long)t->offset,
                        (unsigned long long)c->size);
            return HR_EFORMAT;
        }
        if (t->n_bytes > room - t->offset) {
            uint64_t start = g->data_offset + t->offset; /* <= size: no overflow */
            if (t->n_bytes <= UINT64_MAX - start)
                hr_diag_set(c->d, "%s: tensor '%s': data [%llu..%llu) past end of file "
                            "(%llu bytes)", c->file, quote(t->name, q, sizeof q),
                            (unsigned long long)start, (unsigned long long)(start + t->n_bytes),
                            (unsigned long long)c->size);
            else
                hr_diag_set(c->d, "%s: tensor '%s': data [%llu..+%llu) past end of file "
                            "(%llu bytes)", c->file, quote(t->name, q, sizeof q),
                            (unsigned long long)start, (unsigned long long)t->n_bytes,
                            (unsigned long long)c->size);
            return HR_EFORMAT;
        }
        t->data = c->base + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2)
        return 0;
    struct hr_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order)
        return HR_ENOMEM;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_offset);
    int rc = 0;
    for (uint64_t i = 1; i < g->n_tensors && !rc; i++) {
        const struct hr_gguf_tensor *a = order[i - 1], *b = order[i];
        if (a->offset + a->n_bytes > b->offset) {
            hr_diag_set(c->d, "%s: tensors '%s' [%llu..%llu) and '%s' [%llu..%llu) overlap",
                        c->file, quote(a->name, q, sizeof q),
                        (unsigned long long)(g->data_offset + a->offset),
                        (unsigned long long)(g->data_offset + a->offset + a->n_bytes),
                        quote(b->name, q2, sizeof q2),
                        (unsigned long long)(g->data_offset + b->offset),
                        (unsigned long long)(g->data_offset + b->offset + b->n_bytes));
            rc = HR_EFORMAT;
        }
    }
    free(order);
    return rc;
}

static int parse(struct hr_gguf *g, struct cursor *c)
{
    char magic[4];
    int rc = rd_fixed(c, magic, 4, "magic");
    if (rc)
        return rc;
    if (memcmp(magic, "GGUF", 4) != 0) {
        hr_diag_set(c->d, "%s: not a GGUF file (bad magic)", c->file);
        return HR_EFORMAT;
    }
    rc = rd_u32(c, &g->version, "version");
    if (rc)
        return rc;
    if (g->version != 2 && g->version != 3) {
        hr_diag_set(c->d, "%s: GGUF version %u is not supported (only 2 and 3 are)", c->file,
                    g->version);
        return HR_EUNSUPPORTED;
    }
    rc = rd_u64(c, &g->n_tensors, "tensor count");
    if (!rc)
        rc = rd_u64(c, &g->n_kv, "key count");
    if (rc)
        return rc;
    /* Caps first, then plausibility against the bytes left, and only then allocate. */
    c->mark = 16;
    if (g->n_kv > HR_GGUF_MAX_KV)
        return fail(c, "key count %llu exceeds the limit of %d", (unsigned long long)g->n_kv,
                    HR_GGUF_MAX_KV);
    c->mark = 8;
    if (g->n_tensors > HR_GGUF_MAX_TENSORS)
        return fail(c, "tensor count %llu exceeds the limit of %d",
                    (unsigned long long)g->n_tensors, HR_GGUF_MAX_TENSORS);
    if (g->n_kv * MIN_KV_BYTES + g->n_tensors * MIN_TENSOR_INFO_BYTES > left(c))
        return fail(c, "%llu keys and %llu tensors cannot fit in the %llu bytes left",
                    (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors,
                    (unsigned long long)left(c));
    g->kv = calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors)
        return HR_ENOMEM;
    g->alignment = 32;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        rc = read_kv(c, &g->kv[i], i);
        if (rc)
            return rc;
    }
    const struct hr_str *dup;
    rc = find_dup(&g->kv[0].key, g->n_kv, sizeof g->kv[0], &dup);
    if (rc)
        return rc;
    if (dup) {
        char q[80];
        hr_diag_set(c->d, "%s: key '%s' appears twice", c->file, quote(*dup, q, sizeof q));
        return HR_EFORMAT;
    }
    const struct hr_gguf_kv *al = hr_gguf_find(g, "general.alignment");
    if (al)
        memcpy(&g->alignment, al->data, 4); /* read_kv proved it a valid u32 */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        rc = read_tensor_info(c, &g->tensors[i], i);
        if (rc)
            return rc;
    }
    rc = find_dup(&g->tensors[0].name, g->n_tensors, sizeof g->tensors[0], &dup);
    if (rc)
        return rc;
    if (dup) {
        char q[80];
        hr_diag_set(c->d, "%s: tensor '%s' appears twice", c->file, quote(*dup, q, sizeof q));
        return HR_EFORMAT;
    }
    g->data_offset = c->pos + (g->alignment - c->pos % g->alignment) % g->alignment;
    if (g->n_tensors == 0) {
        /* It may end right after its metadata, before any padding; the empty data section
         * then starts at the end, so data_offset <= size holds for every file. */
        if (g->data_offset > c->size)
            g->data_offset = c->size;
        return 0;
    }
    if (g->data_offset > c->size)
        return fail(c, "tensor data at %llu starts past the end of the file (%llu bytes)",
                    (unsigned long long)g->data_offset, (unsigned long long)c->size);
    return place_tensors(g, c);
}

static int open_common(struct hr_gguf **out, const uint8_t *bytes, uint64_t n, const char *file,
                       void *map, size_t map_bytes, struct hr_diag *d)
{
    *out = NULL;
    struct hr_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        if (map)
            munmap(map, map_bytes);
        hr_diag_set(d, "%s: out of memory", file);
        return HR_ENOMEM;
    }
    g->base = bytes;
    g->size = n;
    g->map_ = map;
    g->map_bytes_ = map_bytes;
    struct cursor c = {.base = bytes, .size = n, .file = file, .d = d};
    int rc = parse(g, &c);
    if (rc) {
        if (rc == HR_ENOMEM)
            hr_diag_set(d, "%s: out of memory while reading the header", file);
        hr_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int hr_gguf_open_mem(struct hr_gguf **out, const void *bytes, size_t n_bytes, struct hr_diag *d)
{
    return open_common(out, n_bytes ? bytes : (const void *)"", n_bytes, "<memory>", NULL, 0,
                       d);
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
    if ((uint64_t)st.st_size > SIZE_MAX) {
        hr_diag_set(d, "%s: too large to map (%lld bytes)", path, (long long)st.st_size);
        close(fd);
        return HR_EIO;
    }
    if (st.st_size == 0) {
        /* mmap refuses empty ranges; parse nothing so the message matches any truncation. */
        close(fd);
        return open_common(out, (const uint8_t *)"", 0, path, NULL, 0, d);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        hr_diag_set(d, "%s: cannot map: %s", path, strerror(map_errno));
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
