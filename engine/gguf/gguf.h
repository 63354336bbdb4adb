/* GGUF v2/v3 reader over a read-only mmap, and a streaming writer.
 *
 * File layout (little-endian):
 *   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x { string key | u32 value_type | value }
 *       string = u64 len | len bytes (not NUL-terminated)
 *       array  = u32 elem_type | u64 n | n values (no nested arrays of arrays in practice)
 *   n_tensors x { string name | u32 n_dims | n_dims x u64 ne | u32 type | u64 offset }
 *   padding to `general.alignment` (u32, default 32)
 *   tensor data: tensor i at data_offset + offset_i, each offset aligned
 *
 * The reader checks every count, length, offset, shape, type and data range against the file
 * size before use; whatever it returns is proven to lie inside the mapping. Reader objects are
 * immutable after open and safe to read from any thread. */
#ifndef HR_GGUF_H
#define HR_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../base/diag.h"
#include "../base/dtype.h"

enum hr_gguf_vtype {
    HR_GGUF_U8 = 0,
    HR_GGUF_I8 = 1,
    HR_GGUF_U16 = 2,
    HR_GGUF_I16 = 3,
    HR_GGUF_U32 = 4,
    HR_GGUF_I32 = 5,
    HR_GGUF_F32 = 6,
    HR_GGUF_BOOL = 7,
    HR_GGUF_STRING = 8,
    HR_GGUF_ARRAY = 9,
    HR_GGUF_U64 = 10,
    HR_GGUF_I64 = 11,
    HR_GGUF_F64 = 12,
};

/* A byte string inside the mapping (or owned by the reader); not NUL-terminated. */
struct hr_str {
    const char *ptr;
    size_t len;
};

struct hr_gguf_kv {
    struct hr_str key;
    uint32_t type;       /* enum hr_gguf_vtype */
    uint32_t arr_type;   /* element type when type == HR_GGUF_ARRAY */
    uint64_t arr_n;      /* element count when type == HR_GGUF_ARRAY */
    const uint8_t *data; /* the value's bytes: scalar, string bytes, or array payload */
    uint64_t n_bytes;    /* bytes at data (string: its length) */
    struct hr_str *strs; /* arr_n views when arr_type == HR_GGUF_STRING, else NULL */
};

struct hr_gguf_tensor {
    struct hr_str name;
    uint32_t n_dims;
    uint64_t ne[4];   /* ne[0] = row length (input features); unused dims are 1 */
    uint32_t type;    /* enum hr_dtype */
    uint64_t offset;  /* relative to the data section */
    const void *data; /* proven inside the mapping, n_bytes long */
    uint64_t n_bytes;
};

struct hr_gguf {
    uint32_t version;
    uint64_t n_kv;
    struct hr_gguf_kv *kv;
    uint64_t n_tensors;
    struct hr_gguf_tensor *tensors;
    uint32_t alignment;
    uint64_t data_offset; /* start of the tensor data section */
    const uint8_t *base;  /* start of the file bytes */
    uint64_t size;        /* file size in bytes */
    /* private */
    void *map_;
    size_t map_bytes_;
};

/* Maps and validates a file. On error returns HR_EIO (cannot open/map: diag names the path
 * and errno), HR_EFORMAT (diag names the path, what is wrong and the byte offset),
 * HR_EUNSUPPORTED (version) or HR_ENOMEM. Caller closes with hr_gguf_close. */
int hr_gguf_open(struct hr_gguf **out, const char *path, struct hr_diag *d);
/* Same checks over caller-owned bytes that must outlive the reader (tests, fuzzing). */
int hr_gguf_open_mem(struct hr_gguf **out, const void *bytes, size_t n_bytes,
                     struct hr_diag *d);
void hr_gguf_close(struct hr_gguf *g);

/* Lookups return NULL / HR_ENOTFOUND when absent. Typed getters return HR_EFORMAT (diag names
 * the key) when the stored type does not fit: integer getters accept any integer type whose
 * value fits the destination. */
const struct hr_gguf_kv *hr_gguf_find(const struct hr_gguf *g, const char *key);
int hr_gguf_get_u32(const struct hr_gguf *g, const char *key, uint32_t *out, struct hr_diag *d);
int hr_gguf_get_i32(const struct hr_gguf *g, const char *key, int32_t *out, struct hr_diag *d);
int hr_gguf_get_u64(const struct hr_gguf *g, const char *key, uint64_t *out, struct hr_diag *d);
int hr_gguf_get_f32(const struct hr_gguf *g, const char *key, float *out, struct hr_diag *d);
int hr_gguf_get_bool(const struct hr_gguf *g, const char *key, bool *out, struct hr_diag *d);
int hr_gguf_get_str(const struct hr_gguf *g, const char *key, struct hr_str *out,
                    struct hr_diag *d);
/* An array of the given element type (HR_GGUF_STRING arrays: use kv->strs). */
int hr_gguf_get_arr(const struct hr_gguf *g, const char *key, uint32_t elem_type,
                    const struct hr_gguf_kv **out, struct hr_diag *d);
/* Element i of a numeric array kv as float/int (bounds-checked; false when not numeric). */
bool hr_gguf_arr_f32(const struct hr_gguf_kv *kv, uint64_t i, float *out);
bool hr_gguf_arr_i64(const struct hr_gguf_kv *kv, uint64_t i, int64_t *out);

const struct hr_gguf_tensor *hr_gguf_tensor(const struct hr_gguf *g, const char *name);
/* Byte size of one value of a scalar vtype; 0 for string/array/unknown. */
size_t hr_gguf_vtype_size(uint32_t vtype);

/* Writer: metadata and tensor infos are collected first, then the header is written and the
 * tensor data streamed in the order the tensors were added (so a multi-GB model never sits in
 * memory). Strings are copied. Caller frees with hr_gguf_writer_free. One thread. */
struct hr_gguf_writer;

int hr_gguf_writer_new(struct hr_gguf_writer **out);
void hr_gguf_writer_free(struct hr_gguf_writer *w);
int hr_gguf_writer_add_u32(struct hr_gguf_writer *w, const char *key, uint32_t v);
int hr_gguf_writer_add_i32(struct hr_gguf_writer *w, const char *key, int32_t v);
int hr_gguf_writer_add_f32(struct hr_gguf_writer *w, const char *key, float v);
int hr_gguf_writer_add_bool(struct hr_gguf_writer *w, const char *key, bool v);
int hr_gguf_writer_add_str(struct hr_gguf_writer *w, const char *key, const char *v,
                           size_t len);
/* Numeric array: n elements of elem_type copied from data. */
int hr_gguf_writer_add_arr(struct hr_gguf_writer *w, const char *key, uint32_t elem_type,
                           const void *data, uint64_t n);
int hr_gguf_writer_add_arr_str(struct hr_gguf_writer *w, const char *key,
                               const struct hr_str *strs, uint64_t n);
/* Copies a key/value pair read from another file, whatever its type. */
int hr_gguf_writer_copy_kv(struct hr_gguf_writer *w, const struct hr_gguf_kv *kv);
/* Declares tensor i (in call order) with its shape and type; its bytes come later. */
int hr_gguf_writer_add_tensor(struct hr_gguf_writer *w, const char *name, uint32_t type,
                              uint32_t n_dims, const uint64_t *ne);
/* Writes magic, metadata, tensor infos and padding. */
int hr_gguf_writer_write_header(struct hr_gguf_writer *w, FILE *f, struct hr_diag *d);
/* Writes the data of the next tensor (n_bytes must equal its size) plus alignment padding. */
int hr_gguf_writer_write_tensor(struct hr_gguf_writer *w, FILE *f, const void *data,
                                uint64_t n_bytes, struct hr_diag *d);

/* Writes a file through fn under a temporary name beside path, syncs it and renames it into
 * place, so path never holds a partial file; on any failure (fn's included) the temporary is
 * removed. fn returns 0 or an HR_E* code (and may set d). HR_EIO (diag names path and errno)
 * when the file cannot be created, written or renamed. */
typedef int (*hr_gguf_write_fn)(FILE *f, void *ud, struct hr_diag *d);
int hr_gguf_write_file(const char *path, hr_gguf_write_fn fn, void *ud, struct hr_diag *d);

#endif
