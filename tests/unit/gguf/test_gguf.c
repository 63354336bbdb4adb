/* GGUF reader and writer: real files from ../shared, a writer round trip, and hostile input —
 * every truncation of a small file, targeted corruptions of each field, and a byte-flip sweep —
 * each rejected with a message (or accepted), never a crash. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static bool str_eq(struct hr_str s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

static void test_stories260k(void **state)
{
    (void)state;
    char path[512];
    if (!tu_shared_path("models/stories260K.gguf", path, sizeof path))
        skip();
    struct hr_gguf *g = NULL;
    assert_int_equal(hr_gguf_open(&g, path, NULL), 0);
    assert_int_equal(g->version, 3);
    assert_int_equal(g->n_kv, 24);
    assert_int_equal(g->n_tensors, 47);
    assert_int_equal(g->data_offset, 14272);
    assert_int_equal(g->alignment, 32);
    struct hr_str s;
    assert_int_equal(hr_gguf_get_str(g, "general.architecture", &s, NULL), 0);
    assert_true(str_eq(s, "llama"));
    uint32_t v;
    assert_int_equal(hr_gguf_get_u32(g, "llama.embedding_length", &v, NULL), 0);
    assert_int_equal(v, 64);
    const struct hr_gguf_kv *toks;
    assert_int_equal(hr_gguf_get_arr(g, "tokenizer.ggml.tokens", HR_GGUF_STRING, &toks, NULL), 0);
    assert_int_equal(toks->arr_n, 512);
    assert_true(str_eq(toks->strs[1], "<s>"));
    const struct hr_gguf_tensor *t = hr_gguf_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->type, HR_TYPE_F32);
    assert_int_equal(t->n_bytes, 64 * 512 * 4);
    /* Wrong-type lookups name the key. */
    struct hr_diag d = {{0}};
    assert_int_equal(hr_gguf_get_u32(g, "general.architecture", &v, &d), HR_EFORMAT);
    assert_non_null(strstr(d.msg, "general.architecture"));
    assert_int_equal(hr_gguf_get_u32(g, "no.such.key", &v, NULL), HR_ENOTFOUND);
    assert_null(hr_gguf_tensor(g, "nope"));
    hr_gguf_close(g);
}

static void test_shared_files_open(void **state)
{
    (void)state;
    const char *files[] = {"models/llama-2-tiny-random.gguf", "vocab/ggml-vocab-llama-spm.gguf",
                           "vocab/ggml-vocab-phi-3.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                           "models/ref/llama-Q4_K.gguf"};
    int opened = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        if (!tu_shared_path(files[i], path, sizeof path))
            continue;
        struct hr_gguf *g = NULL;
        struct hr_diag d = {{0}};
        if (hr_gguf_open(&g, path, &d) != 0)
            fail_msg("%s: %s", files[i], d.msg);
        opened++;
        hr_gguf_close(g);
    }
    if (!opened)
        skip();
    char path[512];
    if (tu_shared_path("models/llama-2-tiny-random.gguf", path, sizeof path)) {
        struct hr_gguf *g = NULL;
        assert_int_equal(hr_gguf_open(&g, path, NULL), 0);
        const struct hr_gguf_tensor *t = hr_gguf_tensor(g, "output.weight");
        assert_non_null(t);
        assert_int_equal(t->type, HR_TYPE_F16);
        hr_gguf_close(g);
    }
}

/* A small file with every kind of value and two tensors, built with the writer. */
static char *build_file(size_t *n)
{
    char path[512];
    tu_tmpfile("small.gguf", path, sizeof path);
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    assert_int_equal(hr_gguf_writer_add_u32(w, "a.u32", 7), 0);
    assert_int_equal(hr_gguf_writer_add_i32(w, "a.i32", -3), 0);
    assert_int_equal(hr_gguf_writer_add_f32(w, "a.f32", 1.5f), 0);
    assert_int_equal(hr_gguf_writer_add_bool(w, "a.bool", true), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "a.str", "hello", 5), 0);
    float fs[3] = {1, 2, 3};
    assert_int_equal(hr_gguf_writer_add_arr(w, "a.arr", HR_GGUF_F32, fs, 3), 0);
    struct hr_str ss[2] = {{"x", 1}, {"yz", 2}};
    assert_int_equal(hr_gguf_writer_add_arr_str(w, "a.strs", ss, 2), 0);
    assert_int_equal(hr_gguf_writer_add_u32(w, "a.u32", 8), HR_EINVAL); /* duplicate key */
    uint64_t ne1[2] = {4, 2}, ne2[1] = {32};
    assert_int_equal(hr_gguf_writer_add_tensor(w, "t.f32", HR_TYPE_F32, 2, ne1), 0);
    assert_int_equal(hr_gguf_writer_add_tensor(w, "t.q8", HR_TYPE_Q8_0, 1, ne2), 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    float data[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    uint8_t q8[34] = {0};
    for (int i = 0; i < 32; i++)
        q8[2 + i] = (uint8_t)i;
    assert_int_equal(hr_gguf_writer_write_tensor(w, f, q8, 34, NULL), HR_EINVAL); /* order */
    assert_int_equal(hr_gguf_writer_write_tensor(w, f, data, sizeof data, NULL), 0);
    assert_int_equal(hr_gguf_writer_write_tensor(w, f, q8, 34, NULL), 0);
    fclose(f);
    hr_gguf_writer_free(w);
    return tu_read_file(path, n);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    size_t n;
    char *buf = build_file(&n);
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    if (hr_gguf_open_mem(&g, buf, n, &d) != 0)
        fail_msg("%s", d.msg);
    uint32_t u;
    int32_t i;
    float f;
    bool b;
    struct hr_str s;
    assert_int_equal(hr_gguf_get_u32(g, "a.u32", &u, NULL), 0);
    assert_int_equal(u, 7);
    assert_int_equal(hr_gguf_get_i32(g, "a.i32", &i, NULL), 0);
    assert_int_equal(i, -3);
    assert_int_equal(hr_gguf_get_u32(g, "a.i32", &u, NULL), HR_EFORMAT); /* negative */
    assert_int_equal(hr_gguf_get_f32(g, "a.f32", &f, NULL), 0);
    assert_true(f == 1.5f);
    assert_int_equal(hr_gguf_get_bool(g, "a.bool", &b, NULL), 0);
    assert_true(b);
    assert_int_equal(hr_gguf_get_str(g, "a.str", &s, NULL), 0);
    assert_true(str_eq(s, "hello"));
    const struct hr_gguf_kv *kv;
    assert_int_equal(hr_gguf_get_arr(g, "a.arr", HR_GGUF_F32, &kv, NULL), 0);
    assert_true(hr_gguf_arr_f32(kv, 2, &f) && f == 3.0f);
    assert_false(hr_gguf_arr_f32(kv, 3, &f));
    assert_int_equal(hr_gguf_get_arr(g, "a.strs", HR_GGUF_STRING, &kv, NULL), 0);
    assert_true(str_eq(kv->strs[1], "yz"));
    const struct hr_gguf_tensor *t = hr_gguf_tensor(g, "t.f32");
    assert_non_null(t);
    assert_int_equal(((const float *)t->data)[7], 7);
    t = hr_gguf_tensor(g, "t.q8");
    assert_int_equal(t->n_bytes, 34);
    assert_int_equal(((const uint8_t *)t->data)[33], 31);
    assert_int_equal((uintptr_t)((const uint8_t *)t->data - g->base) % 32, 0);
    hr_gguf_close(g);
    free(buf);
}

static void test_every_truncation_rejected(void **state)
{
    (void)state;
    size_t n;
    char *buf = build_file(&n);
    /* Only the last tensor's trailing alignment padding may be cut: the data ends before it. */
    struct hr_gguf *full = NULL;
    assert_int_equal(hr_gguf_open_mem(&full, buf, n, NULL), 0);
    const struct hr_gguf_tensor *last = &full->tensors[full->n_tensors - 1];
    size_t data_end = (size_t)((const char *)last->data - buf) + (size_t)last->n_bytes;
    hr_gguf_close(full);
    assert_true(data_end < n);
    for (size_t len = 0; len < data_end; len++) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        struct hr_gguf *g = NULL;
        struct hr_diag d = {{0}};
        int rc = hr_gguf_open_mem(&g, copy, len, &d);
        if (rc == 0)
            fail_msg("truncation to %zu of %zu bytes accepted", len, n);
        assert_true(rc == HR_EFORMAT || rc == HR_EUNSUPPORTED);
        assert_true(d.msg[0] != '\0');
        free(copy);
    }
    free(buf);
}

/* Offsets in the small file, found by searching for the bytes that follow them. */
static size_t find(const char *buf, size_t n, const char *needle, size_t len)
{
    const char *p = memmem(buf, n, needle, len);
    assert_non_null(p);
    return (size_t)(p - buf);
}

static void expect_reject(const char *buf, size_t n, int want, const char *substr)
{
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    int rc = hr_gguf_open_mem(&g, buf, n, &d);
    if (rc != want)
        fail_msg("expected %s, got %s (%s)", hr_err_name(want), hr_err_name(rc), d.msg);
    if (substr && !strstr(d.msg, substr))
        fail_msg("diag '%s' lacks '%s'", d.msg, substr);
}

static void put64(char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void put32(char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void test_targeted_corruptions(void **state)
{
    (void)state;
    size_t n;
    char *orig = build_file(&n);
    char *b = malloc(n);
#define FRESH() memcpy(b, orig, n)
    FRESH();
    b[0] = 'X';
    expect_reject(b, n, HR_EFORMAT, "magic");
    FRESH();
    put32(b + 4, 1);
    expect_reject(b, n, HR_EUNSUPPORTED, "version 1");
    FRESH();
    put32(b + 4, 99);
    expect_reject(b, n, HR_EUNSUPPORTED, "version 99");
    FRESH();
    put64(b + 8, 1ull << 62);
    expect_reject(b, n, HR_EFORMAT, "tensor count");
    FRESH();
    put64(b + 16, 1ull << 63);
    expect_reject(b, n, HR_EFORMAT, "key count");
    /* the first key's length */
    FRESH();
    put64(b + 24, 1ull << 40);
    expect_reject(b, n, HR_EFORMAT, "key length");
    /* a.str's value length runs past the end */
    size_t at = find(orig, n, "a.str", 5) + 5 + 4;
    FRESH();
    put64(b + at, 1000000);
    expect_reject(b, n, HR_EFORMAT, "a.str");
    /* unknown value type for a.u32 */
    at = find(orig, n, "a.u32", 5) + 5;
    FRESH();
    put32(b + at, 77);
    expect_reject(b, n, HR_EFORMAT, "a.u32");
    /* nested array: a.arr's element type becomes ARRAY */
    at = find(orig, n, "a.arr", 5) + 5 + 4;
    FRESH();
    put32(b + at, HR_GGUF_ARRAY);
    expect_reject(b, n, HR_EFORMAT, "a.arr");
    /* array count that overflows count * size */
    FRESH();
    put64(b + at + 4, (1ull << 62) + 1);
    expect_reject(b, n, HR_EFORMAT, "a.arr");
    /* duplicate key: rename a.i32 to a.u32 */
    at = find(orig, n, "a.i32", 5);
    FRESH();
    memcpy(b + at, "a.u32", 5);
    expect_reject(b, n, HR_EFORMAT, "twice");
    /* tensor infos: t.f32 n_dims, ne, type, offset */
    at = find(orig, n, "t.f32", 5) + 5;
    FRESH();
    put32(b + at, 0);
    expect_reject(b, n, HR_EFORMAT, "dimension count");
    FRESH();
    put32(b + at, 5);
    expect_reject(b, n, HR_EFORMAT, "dimension count");
    FRESH();
    put64(b + at + 4, 0);
    expect_reject(b, n, HR_EFORMAT, "dimension");
    FRESH();
    put64(b + at + 4, 1ull << 40);
    put64(b + at + 12, 1ull << 40);
    expect_reject(b, n, HR_EFORMAT, "overflow");
    FRESH();
    put32(b + at + 20, 19); /* no such type */
    expect_reject(b, n, HR_EFORMAT, "tensor type");
    FRESH();
    put64(b + at + 24, 3); /* misaligned offset */
    expect_reject(b, n, HR_EFORMAT, "t.f32");
    FRESH();
    put64(b + at + 24, 1ull << 50); /* data past the end */
    expect_reject(b, n, HR_EFORMAT, "past the end");
    /* t.q8 row length not a multiple of the Q8_0 block, and overlapping data */
    size_t q = find(orig, n, "t.q8", 4) + 4;
    FRESH();
    put64(b + q + 4, 31);
    expect_reject(b, n, HR_EFORMAT, "block size");
    FRESH();
    put64(b + q + 16, 0); /* same offset as t.f32 */
    expect_reject(b, n, HR_EFORMAT, "overlap");
    FRESH();
    memcpy(b + q - 4, "t.f3", 4); /* "t.f3" vs "t.f32": different names, must still open */
    struct hr_gguf *g = NULL;
    assert_int_equal(hr_gguf_open_mem(&g, b, n, NULL), 0);
    hr_gguf_close(g);
#undef FRESH
    free(b);
    free(orig);
}

static void test_bad_alignment_key(void **state)
{
    (void)state;
    const uint32_t bad[] = {0, 3, 1u << 20};
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        tu_tmpfile("align.gguf", path, sizeof path);
        struct hr_gguf_writer *w = NULL;
        assert_int_equal(hr_gguf_writer_new(&w), 0);
        assert_int_equal(hr_gguf_writer_add_u32(w, "general.alignment", bad[i]), 0);
        FILE *f = fopen(path, "wb");
        assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
        fclose(f);
        hr_gguf_writer_free(w);
        struct hr_gguf *g = NULL;
        struct hr_diag d = {{0}};
        assert_int_equal(hr_gguf_open(&g, path, &d), HR_EFORMAT);
        assert_non_null(strstr(d.msg, "general.alignment"));
        assert_non_null(strstr(d.msg, path));
    }
}

static void test_byte_flip_sweep_never_crashes(void **state)
{
    (void)state;
    size_t n;
    char *orig = build_file(&n);
    char *b = malloc(n);
    const uint8_t values[] = {0x00, 0xFF, 0x7F, 0x80, 0x01};
    int accepted = 0, rejected = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof values; k++) {
            memcpy(b, orig, n);
            b[i] = (char)values[k];
            struct hr_gguf *g = NULL;
            struct hr_diag d = {{0}};
            if (hr_gguf_open_mem(&g, b, n, &d) == 0) {
                accepted++;
                for (uint64_t t = 0; t < g->n_tensors; t++)
                    assert_true((const uint8_t *)g->tensors[t].data + g->tensors[t].n_bytes <=
                                g->base + g->size);
                hr_gguf_close(g);
            } else {
                rejected++;
                assert_true(d.msg[0] != '\0');
            }
        }
    }
    assert_true(accepted > 0 && rejected > 0);
    free(b);
    free(orig);
}

static void test_open_errors_name_the_file(void **state)
{
    (void)state;
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_gguf_open(&g, "/nonexistent/model.gguf", &d), HR_EIO);
    assert_non_null(strstr(d.msg, "/nonexistent/model.gguf"));
    hr_diag_clear(&d);
    assert_int_equal(hr_gguf_open(&g, tu_tmpdir(), &d), HR_EIO); /* a directory */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_shared_files_open),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_targeted_corruptions),
        cmocka_unit_test(test_bad_alignment_key),
        cmocka_unit_test(test_byte_flip_sweep_never_crashes),
        cmocka_unit_test(test_open_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
