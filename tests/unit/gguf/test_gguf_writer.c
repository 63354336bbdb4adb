/* GGUF writer: every kind of value and F32/F16/Q8_0/Q4_K tensors written to a temporary file
 * and read back equal, custom alignment, copying a real model's metadata and tensors (stories260K
 * comes back byte for byte), and refusal of everything the reader would refuse. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/err.h"
#include "engine/base/limits.h"
#include "engine/gguf/gguf.h"

static bool str_eq(struct hr_str s, const char *c, size_t n)
{
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

static FILE *open_tmp(const char *name, char *path, size_t cap)
{
    tu_tmpfile(name, path, cap);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    return f;
}

static struct hr_gguf *reopen(const char *path)
{
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    if (hr_gguf_open(&g, path, &d) != 0)
        fail_msg("%s", d.msg);
    return g;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 31 + (i >> 3));
}

struct tensor_case {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[4];
    size_t n_bytes;
};

static const struct tensor_case tensors[] = {
    {"w.f32", HR_TYPE_F32, 2, {3, 5}, 60},          /* not a multiple of 32: padded */
    {"w.f16", HR_TYPE_F16, 3, {8, 2, 3}, 96},
    {"w.q8_0", HR_TYPE_Q8_0, 2, {64, 3}, 2 * 34 * 3},
    {"w.q4_k", HR_TYPE_Q4_K, 4, {256, 1, 1, 2}, 2 * 144},
    {"w.last", HR_TYPE_F32, 1, {1}, 4},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

static void write_all_kinds(const char *path, uint32_t alignment)
{
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    if (alignment)
        assert_int_equal(hr_gguf_writer_add_u32(w, "general.alignment", alignment), 0);
    assert_int_equal(hr_gguf_writer_add_u32(w, "v.u32", 4000000000u), 0);
    assert_int_equal(hr_gguf_writer_add_i32(w, "v.i32", -123456), 0);
    assert_int_equal(hr_gguf_writer_add_f32(w, "v.f32", 3.25f), 0);
    assert_int_equal(hr_gguf_writer_add_bool(w, "v.bool", true), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "v.str", "h\0llo", 5), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "v.empty", NULL, 0), 0);
    uint8_t u8s[3] = {0, 128, 255};
    int8_t i8s[2] = {-128, 127};
    uint16_t u16s[2] = {1, 65535};
    int16_t i16s[2] = {-32768, 5};
    uint32_t u32s[2] = {7, 0xFFFFFFFF};
    int32_t i32s[3] = {-1, 0, 1};
    float f32s[2] = {0.5f, -1e30f};
    uint8_t bools[2] = {0, 1};
    uint64_t u64s[1] = {UINT64_MAX};
    int64_t i64s[2] = {INT64_MIN, 42};
    double f64s[2] = {1e-300, 2.5};
    const struct {
        const char *key;
        uint32_t type;
        const void *p;
        uint64_t n;
    } arrs[] = {{"a.u8", HR_GGUF_U8, u8s, 3},     {"a.i8", HR_GGUF_I8, i8s, 2},
                {"a.u16", HR_GGUF_U16, u16s, 2},  {"a.i16", HR_GGUF_I16, i16s, 2},
                {"a.u32", HR_GGUF_U32, u32s, 2},  {"a.i32", HR_GGUF_I32, i32s, 3},
                {"a.f32", HR_GGUF_F32, f32s, 2},  {"a.bool", HR_GGUF_BOOL, bools, 2},
                {"a.u64", HR_GGUF_U64, u64s, 1},  {"a.i64", HR_GGUF_I64, i64s, 2},
                {"a.f64", HR_GGUF_F64, f64s, 2},  {"a.none", HR_GGUF_F32, NULL, 0}};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        assert_int_equal(hr_gguf_writer_add_arr(w, arrs[i].key, arrs[i].type, arrs[i].p,
                                                arrs[i].n),
                         0);
    struct hr_str strs[4] = {{"<unk>", 5}, {"", 0}, {"a\0b", 3}, {"\xE2\x96\x81the", 6}};
    assert_int_equal(hr_gguf_writer_add_arr_str(w, "a.str", strs, 4), 0);
    assert_int_equal(hr_gguf_writer_add_arr_str(w, "a.str0", NULL, 0), 0);
    uint16_t u16 = 65000;
    int64_t i64 = -5000000000LL;
    double f64 = -0.1;
    struct hr_gguf_kv kvs[3] = {
        {.key = {"c.u16", 5}, .type = HR_GGUF_U16, .data = (const uint8_t *)&u16, .n_bytes = 2},
        {.key = {"c.i64", 5}, .type = HR_GGUF_I64, .data = (const uint8_t *)&i64, .n_bytes = 8},
        {.key = {"c.f64", 5}, .type = HR_GGUF_F64, .data = (const uint8_t *)&f64, .n_bytes = 8},
    };
    for (int i = 0; i < 3; i++)
        assert_int_equal(hr_gguf_writer_copy_kv(w, &kvs[i]), 0);
    for (size_t i = 0; i < N_TENSORS; i++)
        assert_int_equal(hr_gguf_writer_add_tensor(w, tensors[i].name, tensors[i].type,
                                                   tensors[i].n_dims, tensors[i].ne),
                         0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    uint8_t buf[1024];
    for (size_t i = 0; i < N_TENSORS; i++) {
        fill(buf, tensors[i].n_bytes, (unsigned)i);
        struct hr_diag d = {{0}};
        if (hr_gguf_writer_write_tensor(w, f, buf, tensors[i].n_bytes, &d) != 0)
            fail_msg("%s", d.msg);
    }
    struct hr_diag d = {{0}};
    assert_int_equal(hr_gguf_writer_write_tensor(w, f, buf, 4, &d), HR_EINVAL); /* one too many */
    assert_non_null(strstr(d.msg, "more tensor data"));
    assert_int_equal(fclose(f), 0);
    hr_gguf_writer_free(w);
}

static void check_arr(const struct hr_gguf *g, const char *key, uint32_t type, const void *want,
                      uint64_t n)
{
    const struct hr_gguf_kv *kv;
    assert_int_equal(hr_gguf_get_arr(g, key, type, &kv, NULL), 0);
    assert_int_equal(kv->arr_n, n);
    assert_int_equal(kv->n_bytes, n * hr_gguf_vtype_size(type));
    if (n)
        assert_memory_equal(kv->data, want, (size_t)kv->n_bytes);
}

static void check_all_kinds(const char *path, uint32_t alignment)
{
    struct hr_gguf *g = reopen(path);
    assert_int_equal(g->version, 3);
    assert_int_equal(g->alignment, alignment ? alignment : 32);
    assert_int_equal(g->n_kv, 23 + (alignment ? 1 : 0));
    assert_int_equal(g->n_tensors, N_TENSORS);
    assert_int_equal(g->data_offset % g->alignment, 0);
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f;
    bool b;
    struct hr_str s;
    assert_int_equal(hr_gguf_get_u32(g, "v.u32", &u32, NULL), 0);
    assert_int_equal(u32, 4000000000u);
    assert_int_equal(hr_gguf_get_i32(g, "v.i32", &i32, NULL), 0);
    assert_int_equal(i32, -123456);
    assert_int_equal(hr_gguf_get_f32(g, "v.f32", &f, NULL), 0);
    assert_true(f == 3.25f);
    assert_int_equal(hr_gguf_get_bool(g, "v.bool", &b, NULL), 0);
    assert_true(b);
    assert_int_equal(hr_gguf_get_str(g, "v.str", &s, NULL), 0);
    assert_true(str_eq(s, "h\0llo", 5));
    assert_int_equal(hr_gguf_get_str(g, "v.empty", &s, NULL), 0);
    assert_int_equal(s.len, 0);
    assert_int_equal(hr_gguf_find(g, "c.u16")->type, HR_GGUF_U16);
    assert_int_equal(hr_gguf_get_u32(g, "c.u16", &u32, NULL), 0);
    assert_int_equal(u32, 65000);
    const struct hr_gguf_kv *kv = hr_gguf_find(g, "c.i64");
    assert_int_equal(kv->type, HR_GGUF_I64);
    int64_t i64;
    memcpy(&i64, kv->data, 8);
    assert_true(i64 == -5000000000LL);
    assert_int_equal(hr_gguf_get_u64(g, "c.i64", &u64, NULL), HR_EFORMAT);
    assert_int_equal(hr_gguf_get_f32(g, "c.f64", &f, NULL), 0);
    assert_true(f == (float)-0.1);
    uint8_t u8s[3] = {0, 128, 255};
    int64_t i64s[2] = {INT64_MIN, 42};
    double f64s[2] = {1e-300, 2.5};
    uint8_t bools[2] = {0, 1};
    check_arr(g, "a.u8", HR_GGUF_U8, u8s, 3);
    check_arr(g, "a.i64", HR_GGUF_I64, i64s, 2);
    check_arr(g, "a.f64", HR_GGUF_F64, f64s, 2);
    check_arr(g, "a.bool", HR_GGUF_BOOL, bools, 2);
    check_arr(g, "a.none", HR_GGUF_F32, NULL, 0);
    const char *more[] = {"a.i8", "a.u16", "a.i16", "a.u32", "a.i32", "a.f32", "a.u64"};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        assert_non_null(hr_gguf_find(g, more[i]));
    assert_true(hr_gguf_arr_f32(hr_gguf_find(g, "a.f32"), 1, &f) && f == -1e30f);
    assert_true(hr_gguf_arr_i64(hr_gguf_find(g, "a.i16"), 0, &i64) && i64 == -32768);
    assert_int_equal(hr_gguf_get_arr(g, "a.str", HR_GGUF_STRING, &kv, NULL), 0);
    assert_int_equal(kv->arr_n, 4);
    assert_true(str_eq(kv->strs[0], "<unk>", 5));
    assert_true(str_eq(kv->strs[1], "", 0));
    assert_true(str_eq(kv->strs[2], "a\0b", 3));
    assert_true(str_eq(kv->strs[3], "\xE2\x96\x81the", 6));
    assert_int_equal(hr_gguf_get_arr(g, "a.str0", HR_GGUF_STRING, &kv, NULL), 0);
    assert_int_equal(kv->arr_n, 0);
    uint8_t buf[1024];
    for (size_t i = 0; i < N_TENSORS; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        assert_true(str_eq(t->name, tensors[i].name, strlen(tensors[i].name)));
        assert_int_equal(t->type, tensors[i].type);
        assert_int_equal(t->n_dims, tensors[i].n_dims);
        for (uint32_t k = 0; k < 4; k++)
            assert_int_equal(t->ne[k], k < tensors[i].n_dims ? tensors[i].ne[k] : 1);
        assert_int_equal(t->n_bytes, tensors[i].n_bytes);
        assert_int_equal(t->offset % g->alignment, 0);
        fill(buf, tensors[i].n_bytes, (unsigned)i);
        assert_memory_equal(t->data, buf, tensors[i].n_bytes);
    }
    /* The file ends with the last tensor's padding. */
    const struct hr_gguf_tensor *last = &g->tensors[N_TENSORS - 1];
    uint64_t end = g->data_offset + last->offset + last->n_bytes;
    assert_int_equal(g->size, end + (g->alignment - end % g->alignment) % g->alignment);
    hr_gguf_close(g);
}

static void test_round_trip_all_kinds(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("all.gguf", path, sizeof path);
    write_all_kinds(path, 0);
    check_all_kinds(path, 0);
}

static void test_round_trip_custom_alignment(void **state)
{
    (void)state;
    const uint32_t aligns[] = {1, 8, 64, 4096};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        char path[512];
        tu_tmpfile("aligned.gguf", path, sizeof path);
        write_all_kinds(path, aligns[i]);
        check_all_kinds(path, aligns[i]);
    }
}

/* Copying every kv and tensor of stories260K reproduces the file byte for byte: it was written
 * with the same layout (alignment 32, tensors packed in order, each padded). */
static void test_copy_stories260k(void **state)
{
    (void)state;
    char src[512], path[512];
    if (!tu_shared_path("models/stories260K.gguf", src, sizeof src))
        skip();
    struct hr_gguf *in = reopen(src);
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    for (uint64_t i = 0; i < in->n_kv; i++)
        assert_int_equal(hr_gguf_writer_copy_kv(w, &in->kv[i]), 0);
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &in->tensors[i];
        char name[HR_GGUF_MAX_NAME + 1];
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = '\0';
        assert_int_equal(hr_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne), 0);
    }
    FILE *f = open_tmp("copy.gguf", path, sizeof path);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    for (uint64_t i = 0; i < in->n_tensors; i++)
        assert_int_equal(hr_gguf_writer_write_tensor(w, f, in->tensors[i].data,
                                                     in->tensors[i].n_bytes, NULL),
                         0);
    assert_int_equal(fclose(f), 0);
    hr_gguf_writer_free(w);
    struct hr_gguf *out = reopen(path);
    assert_int_equal(out->n_kv, in->n_kv);
    for (uint64_t i = 0; i < in->n_kv; i++) {
        const struct hr_gguf_kv *a = &in->kv[i], *b = &out->kv[i];
        assert_true(str_eq(b->key, a->key.ptr, a->key.len));
        assert_int_equal(b->type, a->type);
        assert_int_equal(b->arr_type, a->arr_type);
        assert_int_equal(b->arr_n, a->arr_n);
        assert_int_equal(b->n_bytes, a->n_bytes);
        assert_memory_equal(b->data, a->data, (size_t)a->n_bytes);
        for (uint64_t k = 0; a->strs && k < a->arr_n; k++)
            assert_true(str_eq(b->strs[k], a->strs[k].ptr, a->strs[k].len));
    }
    const struct hr_gguf_kv *toks;
    assert_int_equal(hr_gguf_get_arr(out, "tokenizer.ggml.tokens", HR_GGUF_STRING, &toks, NULL),
                     0);
    assert_int_equal(toks->arr_n, 512);
    assert_true(str_eq(toks->strs[1], "<s>", 3));
    assert_int_equal(out->size, in->size);
    assert_memory_equal(out->base, in->base, (size_t)in->size);
    hr_gguf_close(out);
    hr_gguf_close(in);
}

/* A vocabulary without tensors ends right after its metadata, as llama.cpp's do. */
static void test_metadata_only_file(void **state)
{
    (void)state;
    char path[512];
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2", 4), 0);
    FILE *f = open_tmp("vocab.gguf", path, sizeof path);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    assert_int_equal(fclose(f), 0);
    hr_gguf_writer_free(w);
    struct hr_gguf *g = reopen(path);
    assert_int_equal(g->size, 24 + 8 + 20 + 4 + 8 + 4);
    assert_int_equal(g->n_tensors, 0);
    assert_int_equal(g->data_offset, g->size); /* not past the end, though unpadded */
    hr_gguf_close(g);
}

static void test_writer_refuses_what_the_reader_would(void **state)
{
    (void)state;
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    char long_key[HR_GGUF_MAX_NAME + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(hr_gguf_writer_add_u32(w, "", 1), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_u32(w, long_key, 1), HR_EINVAL);
    long_key[HR_GGUF_MAX_NAME] = '\0';
    assert_int_equal(hr_gguf_writer_add_u32(w, long_key, 1), 0);
    assert_int_equal(hr_gguf_writer_add_u32(w, "k", 1), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "k", "x", 1), HR_EINVAL); /* duplicate */
    /* general.alignment: a u32 power of two up to the cap, or nothing. */
    assert_int_equal(hr_gguf_writer_add_u32(w, "general.alignment", 0), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_u32(w, "general.alignment", 3), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_u32(w, "general.alignment", HR_GGUF_MAX_ALIGNMENT * 2),
                     HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_i32(w, "general.alignment", 32), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_arr(w, "a", HR_GGUF_STRING, "x", 1), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_arr(w, "a", HR_GGUF_ARRAY, "x", 1), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_arr(w, "a", HR_GGUF_U8, "x", HR_GGUF_MAX_ARRAY + 1ull),
                     HR_EINVAL);
    struct hr_str bad = {"x", (size_t)HR_GGUF_MAX_STRING + 1};
    assert_int_equal(hr_gguf_writer_add_arr_str(w, "a", &bad, 1), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_str(w, "a", "x", (size_t)HR_GGUF_MAX_STRING + 1),
                     HR_EINVAL);
    struct hr_gguf_kv junk = {.key = {"j", 1}, .type = 77, .data = (const uint8_t *)"x",
                              .n_bytes = 1};
    assert_int_equal(hr_gguf_writer_copy_kv(w, &junk), HR_EINVAL);
    junk.type = HR_GGUF_U32; /* size disagrees with the type */
    assert_int_equal(hr_gguf_writer_copy_kv(w, &junk), HR_EINVAL);
    /* Tensors: the reader's shape rules. */
    uint64_t ne[4] = {32, 2, 1, 1};
    assert_int_equal(hr_gguf_writer_add_tensor(w, "t", HR_TYPE_Q8_0, 2, ne), 0);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "t", HR_TYPE_F32, 2, ne), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "", HR_TYPE_F32, 2, ne), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_tensor(w, long_key, HR_TYPE_F32, 2, ne), 0);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "u", HR_TYPE_F32, 0, ne), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "u", HR_TYPE_F32, 5, ne), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "u", 19, 2, ne), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "u", HR_TYPE_Q4_K, 2, ne), HR_EINVAL);
    uint64_t zero[2] = {4, 0}, huge[2] = {1ull << 32, 1ull << 32};
    assert_int_equal(hr_gguf_writer_add_tensor(w, "u", HR_TYPE_F32, 2, zero), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "u", HR_TYPE_F32, 2, huge), HR_EINVAL);
    /* Order: data before the header, wrong sizes, and anything added after the header. */
    char path[512];
    FILE *f = open_tmp("refuse.gguf", path, sizeof path);
    uint8_t data[68] = {0};
    struct hr_diag d = {{0}};
    assert_int_equal(hr_gguf_writer_write_tensor(w, f, data, 68, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, "before the GGUF header"));
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    hr_diag_clear(&d);
    assert_int_equal(hr_gguf_writer_write_header(w, f, &d), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_u32(w, "late", 1), HR_EINVAL);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "late", HR_TYPE_F32, 1, ne), HR_EINVAL);
    hr_diag_clear(&d);
    assert_int_equal(hr_gguf_writer_write_tensor(w, f, data, 34, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, "'t'"));
    assert_non_null(strstr(d.msg, "68 expected"));
    assert_int_equal(hr_gguf_writer_write_tensor(w, f, data, 68, NULL), 0);
    uint8_t big[256] = {0};
    assert_int_equal(hr_gguf_writer_write_tensor(w, f, big, 32 * 2 * 4, NULL), 0);
    assert_int_equal(fclose(f), 0);
    hr_gguf_writer_free(w);
    struct hr_gguf *g = reopen(path); /* what was accepted reads back */
    assert_int_equal(g->n_kv, 2);
    assert_int_equal(g->n_tensors, 2);
    hr_gguf_close(g);
    hr_gguf_writer_free(NULL);
}

static void test_write_failure_is_reported(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "wb");
    if (!f)
        skip();
    setvbuf(f, NULL, _IONBF, 0); /* so the failure shows at fwrite, not at fclose */
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    assert_int_equal(hr_gguf_writer_add_u32(w, "k", 1), 0);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_gguf_writer_write_header(w, f, &d), HR_EIO);
    assert_non_null(strstr(d.msg, "write failed"));
    fclose(f);
    hr_gguf_writer_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_kinds),
        cmocka_unit_test(test_round_trip_custom_alignment),
        cmocka_unit_test(test_copy_stories260k),
        cmocka_unit_test(test_metadata_only_file),
        cmocka_unit_test(test_writer_refuses_what_the_reader_would),
        cmocka_unit_test(test_write_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
