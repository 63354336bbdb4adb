/* Typed lookups over a parsed GGUF: keys, tensors, and numeric array elements, each checking
 * the stored type and range and naming the key and stored type when they disagree. Lookups are
 * linear: files hold tens of keys and at most a few thousand tensors, each looked up once at
 * load. Parsing and validation are gguf_read.c's. Any thread. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../base/err.h"
#include "gguf.h"

static const char *vtype_name(uint32_t t)
{
    static const char *names[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

const struct hr_gguf_kv *hr_gguf_find(const struct hr_gguf *g, const char *key)
{
    size_t n = strlen(key);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.len == n && memcmp(g->kv[i].key.ptr, key, n) == 0)
            return &g->kv[i];
    return NULL;
}

const struct hr_gguf_tensor *hr_gguf_tensor(const struct hr_gguf *g, const char *name)
{
    size_t n = strlen(name);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name.len == n && memcmp(g->tensors[i].name.ptr, name, n) == 0)
            return &g->tensors[i];
    return NULL;
}

/* A scalar integer value of any integer type, widened. */
static bool scalar_int(uint32_t type, const uint8_t *p, int64_t *s, uint64_t *u, bool *is_u)
{
    *is_u = false;
    switch (type) {
    case HR_GGUF_U8: {
        *u = p[0];
        *is_u = true;
        return true;
    }
    case HR_GGUF_I8: {
        int8_t v;
        memcpy(&v, p, 1);
        *s = v;
        return true;
    }
    case HR_GGUF_U16: {
        uint16_t v;
        memcpy(&v, p, 2);
        *u = v;
        *is_u = true;
        return true;
    }
    case HR_GGUF_I16: {
        int16_t v;
        memcpy(&v, p, 2);
        *s = v;
        return true;
    }
    case HR_GGUF_U32: {
        uint32_t v;
        memcpy(&v, p, 4);
        *u = v;
        *is_u = true;
        return true;
    }
    case HR_GGUF_I32: {
        int32_t v;
        memcpy(&v, p, 4);
        *s = v;
        return true;
    }
    case HR_GGUF_U64: {
        memcpy(u, p, 8);
        *is_u = true;
        return true;
    }
    case HR_GGUF_I64: {
        memcpy(s, p, 8);
        return true;
    }
    default:
        return false;
    }
}

static int get_int(const struct hr_gguf *g, const char *key, int64_t lo, uint64_t hi,
                   const char *dest, int64_t *s_out, uint64_t *u_out, struct hr_diag *d)
{
    const struct hr_gguf_kv *kv = hr_gguf_find(g, key);
    if (!kv)
        return HR_ENOTFOUND;
    int64_t s = 0;
    uint64_t u = 0;
    bool is_u;
    if (!scalar_int(kv->type, kv->data, &s, &u, &is_u)) {
        hr_diag_set(d, "key '%s': expected an integer, found %s", key, vtype_name(kv->type));
        return HR_EFORMAT;
    }
    if (is_u ? u > hi : (s < lo || (s >= 0 && (uint64_t)s > hi))) {
        if (is_u)
            hr_diag_set(d, "key '%s': %s value %llu does not fit %s", key,
                        vtype_name(kv->type), (unsigned long long)u, dest);
        else
            hr_diag_set(d, "key '%s': %s value %lld does not fit %s", key,
                        vtype_name(kv->type), (long long)s, dest);
        return HR_EFORMAT;
    }
    if (is_u) {
        *u_out = u;
        *s_out = (int64_t)u;
    } else {
        *s_out = s;
        *u_out = (uint64_t)s;
    }
    return 0;
}

int hr_gguf_get_u32(const struct hr_gguf *g, const char *key, uint32_t *out, struct hr_diag *d)
{
    int64_t s;
    uint64_t u;
    int rc = get_int(g, key, 0, UINT32_MAX, "u32", &s, &u, d);
    if (rc == 0)
        *out = (uint32_t)u;
    return rc;
}

int hr_gguf_get_i32(const struct hr_gguf *g, const char *key, int32_t *out, struct hr_diag *d)
{
    int64_t s;
    uint64_t u;
    int rc = get_int(g, key, INT32_MIN, INT32_MAX, "i32", &s, &u, d);
    if (rc == 0)
        *out = (int32_t)s;
    return rc;
}

int hr_gguf_get_u64(const struct hr_gguf *g, const char *key, uint64_t *out, struct hr_diag *d)
{
    int64_t s;
    uint64_t u;
    int rc = get_int(g, key, 0, UINT64_MAX, "u64", &s, &u, d);
    if (rc == 0)
        *out = u;
    return rc;
}

int hr_gguf_get_f32(const struct hr_gguf *g, const char *key, float *out, struct hr_diag *d)
{
    const struct hr_gguf_kv *kv = hr_gguf_find(g, key);
    if (!kv)
        return HR_ENOTFOUND;
    /* Hyperparameters (epsilons, RoPE bases, scales) are finite; inf or NaN is a broken file. */
    float f;
    if (kv->type == HR_GGUF_F32) {
        memcpy(&f, kv->data, 4);
    } else if (kv->type == HR_GGUF_F64) {
        double v;
        memcpy(&v, kv->data, 8);
        if (isfinite(v) && fabs(v) > FLT_MAX) {
            hr_diag_set(d, "key '%s': f64 value %g does not fit f32", key, v);
            return HR_EFORMAT;
        }
        f = (float)v;
    } else {
        hr_diag_set(d, "key '%s': expected a float, found %s", key, vtype_name(kv->type));
        return HR_EFORMAT;
    }
    if (!isfinite(f)) {
        hr_diag_set(d, "key '%s': %s value is not finite", key, vtype_name(kv->type));
        return HR_EFORMAT;
    }
    *out = f;
    return 0;
}

int hr_gguf_get_bool(const struct hr_gguf *g, const char *key, bool *out, struct hr_diag *d)
{
    const struct hr_gguf_kv *kv = hr_gguf_find(g, key);
    if (!kv)
        return HR_ENOTFOUND;
    if (kv->type != HR_GGUF_BOOL) {
        hr_diag_set(d, "key '%s': expected a bool, found %s", key, vtype_name(kv->type));
        return HR_EFORMAT;
    }
    *out = kv->data[0] != 0;
    return 0;
}

int hr_gguf_get_str(const struct hr_gguf *g, const char *key, struct hr_str *out,
                    struct hr_diag *d)
{
    const struct hr_gguf_kv *kv = hr_gguf_find(g, key);
    if (!kv)
        return HR_ENOTFOUND;
    if (kv->type != HR_GGUF_STRING) {
        hr_diag_set(d, "key '%s': expected a string, found %s", key, vtype_name(kv->type));
        return HR_EFORMAT;
    }
    out->ptr = (const char *)kv->data;
    out->len = (size_t)kv->n_bytes;
    return 0;
}

int hr_gguf_get_arr(const struct hr_gguf *g, const char *key, uint32_t elem_type,
                    const struct hr_gguf_kv **out, struct hr_diag *d)
{
    const struct hr_gguf_kv *kv = hr_gguf_find(g, key);
    if (!kv)
        return HR_ENOTFOUND;
    if (kv->type != HR_GGUF_ARRAY) {
        hr_diag_set(d, "key '%s': expected an array of %s, found %s", key,
                    vtype_name(elem_type), vtype_name(kv->type));
        return HR_EFORMAT;
    }
    if (kv->arr_type != elem_type) {
        hr_diag_set(d, "key '%s': expected an array of %s, found an array of %s", key,
                    vtype_name(elem_type), vtype_name(kv->arr_type));
        return HR_EFORMAT;
    }
    *out = kv;
    return 0;
}

bool hr_gguf_arr_i64(const struct hr_gguf_kv *kv, uint64_t i, int64_t *out)
{
    if (kv->type != HR_GGUF_ARRAY || i >= kv->arr_n)
        return false;
    size_t es = hr_gguf_vtype_size(kv->arr_type);
    int64_t s = 0;
    uint64_t u = 0;
    bool is_u;
    if (es == 0 || !scalar_int(kv->arr_type, kv->data + i * es, &s, &u, &is_u))
        return false;
    if (is_u && u > INT64_MAX)
        return false;
    *out = is_u ? (int64_t)u : s;
    return true;
}

bool hr_gguf_arr_f32(const struct hr_gguf_kv *kv, uint64_t i, float *out)
{
    if (kv->type != HR_GGUF_ARRAY || i >= kv->arr_n)
        return false;
    if (kv->arr_type == HR_GGUF_F32) {
        memcpy(out, kv->data + i * 4, 4);
        return true;
    }
    if (kv->arr_type == HR_GGUF_F64) {
        double v;
        memcpy(&v, kv->data + i * 8, 8);
        if (isfinite(v) && fabs(v) > FLT_MAX)
            return false; /* the conversion would be undefined */
        *out = (float)v;
        return true;
    }
    int64_t v;
    if (!hr_gguf_arr_i64(kv, i, &v))
        return false;
    *out = (float)v;
    return true;
}
