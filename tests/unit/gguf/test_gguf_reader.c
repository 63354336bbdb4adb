/* GGUF reader on real files from ../shared (stories260K, llama.cpp-written models of every
 * quant type, the tokenizer vocabularies) and the typed getters on a small file built here.
 * Each shared file is skipped cleanly when absent. */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/err.h"
#include "engine/gguf/gguf.h"

static bool str_eq(struct hr_str s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

/* Every view an open file hands out lies inside its bytes, and tensor data is aligned. */
static void check_views(const struct hr_gguf *g)
{
    const uint8_t *end = g->base + g->size;
    assert_true(g->data_offset <= g->size);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const struct hr_gguf_kv *kv = &g->kv[i];
        assert_true(kv->key.len > 0);
        assert_true((const uint8_t *)kv->key.ptr >= g->base);
        assert_true((const uint8_t *)kv->key.ptr + kv->key.len <= end);
        assert_true(kv->data >= g->base && kv->n_bytes <= (uint64_t)(end - kv->data));
        assert_true((kv->strs != NULL) ==
                    (kv->type == HR_GGUF_ARRAY && kv->arr_type == HR_GGUF_STRING));
        for (uint64_t k = 0; kv->strs && k < kv->arr_n; k++)
            assert_true((const uint8_t *)kv->strs[k].ptr + kv->strs[k].len <= end);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *t = &g->tensors[i];
        const uint8_t *p = t->data;
        assert_true(p >= g->base + g->data_offset && t->n_bytes <= (uint64_t)(end - p));
        assert_int_equal((uint64_t)(p - g->base) % g->alignment, 0);
        char name[300];
        assert_true(t->name.len < sizeof name);
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = '\0';
        assert_ptr_equal(hr_gguf_tensor(g, name), t);
    }
}

static void test_stories260k(void **state)
{
    (void)state;
    char path[512];
    if (!tu_shared_path("models/stories260K.gguf", path, sizeof path))
        skip();
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    if (hr_gguf_open(&g, path, &d) != 0)
        fail_msg("%s", d.msg);
    assert_int_equal(g->version, 3);
    assert_int_equal(g->n_kv, 24);
    assert_int_equal(g->n_tensors, 47);
    assert_int_equal(g->data_offset, 14272);
    assert_int_equal(g->alignment, 32);
    check_views(g);
    struct hr_str s;
    assert_int_equal(hr_gguf_get_str(g, "general.architecture", &s, NULL), 0);
    assert_true(str_eq(s, "llama"));
    uint32_t u32;
    assert_int_equal(hr_gguf_get_u32(g, "llama.embedding_length", &u32, NULL), 0);
    assert_int_equal(u32, 64);
    uint64_t u64;
    assert_int_equal(hr_gguf_get_u64(g, "llama.block_count", &u64, NULL), 0);
    assert_int_equal(u64, 5);
    float f;
    assert_int_equal(hr_gguf_get_f32(g, "llama.rope.freq_base", &f, NULL), 0);
    assert_true(f == 10000.0f);
    const struct hr_gguf_kv *toks;
    assert_int_equal(hr_gguf_get_arr(g, "tokenizer.ggml.tokens", HR_GGUF_STRING, &toks, NULL),
                     0);
    assert_int_equal(toks->arr_n, 512);
    assert_true(str_eq(toks->strs[0], "<unk>"));
    assert_true(str_eq(toks->strs[1], "<s>"));
    assert_true(str_eq(toks->strs[2], "</s>"));
    const struct hr_gguf_kv *scores;
    assert_int_equal(hr_gguf_get_arr(g, "tokenizer.ggml.scores", HR_GGUF_F32, &scores, NULL), 0);
    assert_int_equal(scores->arr_n, 512);
    assert_int_equal(scores->n_bytes, 512 * 4);
    const struct hr_gguf_tensor *t = hr_gguf_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->type, HR_TYPE_F32);
    assert_int_equal(t->n_bytes, 64 * 512 * 4);
    t = hr_gguf_tensor(g, "blk.4.ffn_down.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 172);
    assert_int_equal(t->ne[1], 64);
    /* Wrong-type lookups name the key and what is stored. */
    assert_int_equal(hr_gguf_get_u32(g, "general.architecture", &u32, &d), HR_EFORMAT);
    assert_non_null(strstr(d.msg, "general.architecture"));
    assert_non_null(strstr(d.msg, "string"));
    hr_diag_clear(&d);
    assert_int_equal(hr_gguf_get_arr(g, "tokenizer.ggml.tokens", HR_GGUF_F32, &toks, &d),
                     HR_EFORMAT);
    assert_non_null(strstr(d.msg, "tokenizer.ggml.tokens"));
    assert_int_equal(hr_gguf_get_u32(g, "no.such.key", &u32, NULL), HR_ENOTFOUND);
    assert_null(hr_gguf_find(g, "general.architectur"));
    assert_null(hr_gguf_tensor(g, "token_embd.weigh"));
    hr_gguf_close(g);
}

static void test_llama2_tiny_random_f16(void **state)
{
    (void)state;
    char path[512];
    if (!tu_shared_path("models/llama-2-tiny-random.gguf", path, sizeof path))
        skip();
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    if (hr_gguf_open(&g, path, &d) != 0)
        fail_msg("%s", d.msg);
    check_views(g);
    const struct hr_gguf_tensor *t = hr_gguf_tensor(g, "output.weight");
    assert_non_null(t);
    assert_int_equal(t->type, HR_TYPE_F16);
    assert_int_equal(t->n_bytes, t->ne[0] * t->ne[1] * 2);
    int n_f16 = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        n_f16 += g->tensors[i].type == HR_TYPE_F16;
    assert_true(n_f16 > 0);
    const struct hr_gguf_kv *toks;
    assert_int_equal(hr_gguf_get_arr(g, "tokenizer.ggml.tokens", HR_GGUF_STRING, &toks, NULL),
                     0);
    assert_int_equal(toks->arr_n, 32000);
    hr_gguf_close(g);
}

/* llama.cpp lays tensors out back to back with padding, so each offset is the previous one
 * plus its padded size: an independent check of the per-type byte sizes. */
static void check_packed(const struct hr_gguf *g, const char *name)
{
    for (uint64_t i = 1; i < g->n_tensors; i++) {
        const struct hr_gguf_tensor *a = &g->tensors[i - 1], *b = &g->tensors[i];
        uint64_t end = a->offset + a->n_bytes;
        end += (g->alignment - end % g->alignment) % g->alignment;
        if (b->offset != end)
            fail_msg("%s: tensor '%.*s' of type %u: next offset %llu, computed %llu", name,
                     (int)a->name.len, a->name.ptr, a->type, (unsigned long long)b->offset,
                     (unsigned long long)end);
    }
}

/* Opens every *.gguf in a shared folder; returns how many opened (0 when the folder is absent). */
static int open_all(const char *rel, bool want_tensors)
{
    char dir[512];
    if (!tu_shared_path(rel, dir, sizeof dir))
        return 0;
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct hr_gguf *g = NULL;
        struct hr_diag d = {{0}};
        if (hr_gguf_open(&g, path, &d) != 0)
            fail_msg("%s: %s", e->d_name, d.msg);
        check_views(g);
        if (want_tensors) {
            assert_true(g->n_tensors > 0);
            check_packed(g, e->d_name);
        } else {
            assert_int_equal(g->n_tensors, 0);
        }
        const struct hr_gguf_kv *toks;
        if (hr_gguf_get_arr(g, "tokenizer.ggml.tokens", HR_GGUF_STRING, &toks, &d) != 0)
            fail_msg("%s: %s", e->d_name, d.msg);
        assert_true(toks->arr_n > 0);
        struct hr_str model;
        assert_int_equal(hr_gguf_get_str(g, "tokenizer.ggml.model", &model, NULL), 0);
        hr_gguf_close(g);
        n++;
    }
    closedir(dp);
    return n;
}

static void test_every_vocab_opens(void **state)
{
    (void)state;
    if (open_all("vocab", false) == 0)
        skip();
}

static void test_every_reference_model_opens(void **state)
{
    (void)state;
    if (open_all("models/ref", true) == 0)
        skip();
}

/* A file with one key of each integer width and a few others, written to memory. */
static char *getters_file(size_t *n)
{
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    const struct {
        const char *key;
        uint32_t type;
        uint64_t bits;
    } ints[] = {
        {"u8", HR_GGUF_U8, 200},
        {"i8", HR_GGUF_I8, (uint8_t)-5},
        {"u16", HR_GGUF_U16, 60000},
        {"i16", HR_GGUF_I16, (uint16_t)-300},
        {"i32", HR_GGUF_I32, (uint32_t)INT32_MIN},
        {"u64.small", HR_GGUF_U64, 12345},
        {"u64.big", HR_GGUF_U64, 1ull << 40},
        {"u64.max", HR_GGUF_U64, UINT64_MAX},
        {"i64.neg", HR_GGUF_I64, (uint64_t)-7},
        {"i64.big", HR_GGUF_I64, 1ull << 33},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        struct hr_gguf_kv kv = {.key = {ints[i].key, strlen(ints[i].key)},
                                .type = ints[i].type,
                                .data = (const uint8_t *)&ints[i].bits,
                                .n_bytes = hr_gguf_vtype_size(ints[i].type)};
        assert_int_equal(hr_gguf_writer_copy_kv(w, &kv), 0); /* little-endian host */
    }
    double f64s[3] = {0.25, 1e300, -2.0};
    const char *f64names[3] = {"f64", "f64.huge", "f64.neg"};
    for (int i = 0; i < 3; i++) {
        struct hr_gguf_kv kv = {.key = {f64names[i], strlen(f64names[i])},
                                .type = HR_GGUF_F64,
                                .data = (const uint8_t *)&f64s[i],
                                .n_bytes = 8};
        assert_int_equal(hr_gguf_writer_copy_kv(w, &kv), 0);
    }
    assert_int_equal(hr_gguf_writer_add_u32(w, "u32", 4000000000u), 0);
    assert_int_equal(hr_gguf_writer_add_f32(w, "f32", -0.5f), 0);
    assert_int_equal(hr_gguf_writer_add_bool(w, "bool", false), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "str", "", 0), 0);
    int16_t i16s[3] = {-1, 2, 30000};
    assert_int_equal(hr_gguf_writer_add_arr(w, "arr.i16", HR_GGUF_I16, i16s, 3), 0);
    uint64_t u64s[2] = {5, UINT64_MAX};
    assert_int_equal(hr_gguf_writer_add_arr(w, "arr.u64", HR_GGUF_U64, u64s, 2), 0);
    double f64a[2] = {1.5, -3.0};
    assert_int_equal(hr_gguf_writer_add_arr(w, "arr.f64", HR_GGUF_F64, f64a, 2), 0);
    double f64big[1] = {1e300};
    assert_int_equal(hr_gguf_writer_add_arr(w, "arr.f64big", HR_GGUF_F64, f64big, 1), 0);
    assert_int_equal(hr_gguf_writer_add_f32(w, "f32.nan", NAN), 0);
    uint8_t bools[2] = {1, 0};
    assert_int_equal(hr_gguf_writer_add_arr(w, "arr.bool", HR_GGUF_BOOL, bools, 2), 0);
    assert_int_equal(hr_gguf_writer_add_arr(w, "arr.empty", HR_GGUF_U32, NULL, 0), 0);
    char *buf = NULL;
    FILE *f = open_memstream(&buf, n);
    assert_non_null(f);
    assert_int_equal(hr_gguf_writer_write_header(w, f, NULL), 0);
    assert_int_equal(fclose(f), 0);
    hr_gguf_writer_free(w);
    return buf;
}

#define EXPECT_BAD(call, key, what)                                                          \
    do {                                                                                     \
        struct hr_diag d_ = {{0}};                                                           \
        struct hr_diag *d = &d_;                                                             \
        assert_int_equal((call), HR_EFORMAT);                                                \
        if (!strstr(d_.msg, key) || !strstr(d_.msg, what))                                   \
            fail_msg("diag '%s' lacks '%s' or '%s'", d_.msg, key, what);                     \
    } while (0)

static void test_typed_getters(void **state)
{
    (void)state;
    size_t n;
    char *buf = getters_file(&n);
    struct hr_gguf *g = NULL;
    struct hr_diag dd = {{0}};
    if (hr_gguf_open_mem(&g, buf, n, &dd) != 0)
        fail_msg("%s", dd.msg);
    check_views(g);
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f;
    bool b;
    /* Integer getters take any integer type whose value fits. */
    assert_int_equal(hr_gguf_get_u32(g, "u8", &u32, NULL), 0);
    assert_int_equal(u32, 200);
    assert_int_equal(hr_gguf_get_i32(g, "i8", &i32, NULL), 0);
    assert_int_equal(i32, -5);
    assert_int_equal(hr_gguf_get_u32(g, "u16", &u32, NULL), 0);
    assert_int_equal(u32, 60000);
    assert_int_equal(hr_gguf_get_i32(g, "i16", &i32, NULL), 0);
    assert_int_equal(i32, -300);
    assert_int_equal(hr_gguf_get_i32(g, "i32", &i32, NULL), 0);
    assert_int_equal(i32, INT32_MIN);
    assert_int_equal(hr_gguf_get_u32(g, "u32", &u32, NULL), 0);
    assert_int_equal(u32, 4000000000u);
    assert_int_equal(hr_gguf_get_u32(g, "u64.small", &u32, NULL), 0);
    assert_int_equal(u32, 12345);
    assert_int_equal(hr_gguf_get_u64(g, "u64.max", &u64, NULL), 0);
    assert_true(u64 == UINT64_MAX);
    assert_int_equal(hr_gguf_get_i32(g, "i64.neg", &i32, NULL), 0);
    assert_int_equal(i32, -7);
    assert_int_equal(hr_gguf_get_u64(g, "i64.big", &u64, NULL), 0);
    assert_true(u64 == 1ull << 33);
    EXPECT_BAD(hr_gguf_get_u32(g, "i8", &u32, d), "'i8'", "does not fit");
    EXPECT_BAD(hr_gguf_get_u64(g, "i64.neg", &u64, d), "'i64.neg'", "i64");
    EXPECT_BAD(hr_gguf_get_u32(g, "u64.big", &u32, d), "'u64.big'", "u64");
    EXPECT_BAD(hr_gguf_get_i32(g, "u32", &i32, d), "'u32'", "does not fit");
    EXPECT_BAD(hr_gguf_get_i32(g, "i64.big", &i32, d), "'i64.big'", "does not fit");
    EXPECT_BAD(hr_gguf_get_u32(g, "f32", &u32, d), "'f32'", "f32");
    EXPECT_BAD(hr_gguf_get_u32(g, "bool", &u32, d), "'bool'", "bool");
    EXPECT_BAD(hr_gguf_get_u32(g, "arr.i16", &u32, d), "'arr.i16'", "array");
    /* Floats: f32 and f64 (when it fits), nothing else. */
    assert_int_equal(hr_gguf_get_f32(g, "f32", &f, NULL), 0);
    assert_true(f == -0.5f);
    assert_int_equal(hr_gguf_get_f32(g, "f64", &f, NULL), 0);
    assert_true(f == 0.25f);
    EXPECT_BAD(hr_gguf_get_f32(g, "f64.huge", &f, d), "'f64.huge'", "f64");
    EXPECT_BAD(hr_gguf_get_f32(g, "f32.nan", &f, d), "'f32.nan'", "not finite");
    assert_true(f == 0.25f); /* a refused value leaves the destination alone */
    EXPECT_BAD(hr_gguf_get_f32(g, "u32", &f, d), "'u32'", "u32");
    assert_int_equal(hr_gguf_get_bool(g, "bool", &b, NULL), 0);
    assert_false(b);
    EXPECT_BAD(hr_gguf_get_bool(g, "u8", &b, d), "'u8'", "u8");
    struct hr_str s = {"x", 1};
    assert_int_equal(hr_gguf_get_str(g, "str", &s, NULL), 0);
    assert_int_equal(s.len, 0);
    EXPECT_BAD(hr_gguf_get_str(g, "u8", &s, d), "'u8'", "string");
    /* Arrays: element access converts numbers and is bounds-checked. */
    const struct hr_gguf_kv *kv;
    EXPECT_BAD(hr_gguf_get_arr(g, "arr.i16", HR_GGUF_I32, &kv, d), "'arr.i16'", "i16");
    EXPECT_BAD(hr_gguf_get_arr(g, "u8", HR_GGUF_U8, &kv, d), "'u8'", "u8");
    assert_int_equal(hr_gguf_get_arr(g, "arr.i16", HR_GGUF_I16, &kv, NULL), 0);
    int64_t v;
    assert_true(hr_gguf_arr_i64(kv, 0, &v) && v == -1);
    assert_true(hr_gguf_arr_i64(kv, 2, &v) && v == 30000);
    assert_false(hr_gguf_arr_i64(kv, 3, &v));
    assert_true(hr_gguf_arr_f32(kv, 1, &f) && f == 2.0f);
    assert_int_equal(hr_gguf_get_arr(g, "arr.u64", HR_GGUF_U64, &kv, NULL), 0);
    assert_true(hr_gguf_arr_i64(kv, 0, &v) && v == 5);
    assert_false(hr_gguf_arr_i64(kv, 1, &v)); /* does not fit i64 */
    assert_int_equal(hr_gguf_get_arr(g, "arr.f64", HR_GGUF_F64, &kv, NULL), 0);
    assert_true(hr_gguf_arr_f32(kv, 1, &f) && f == -3.0f);
    assert_false(hr_gguf_arr_i64(kv, 0, &v));
    assert_false(hr_gguf_arr_f32(kv, 2, &f));
    assert_int_equal(hr_gguf_get_arr(g, "arr.f64big", HR_GGUF_F64, &kv, NULL), 0);
    assert_false(hr_gguf_arr_f32(kv, 0, &f)); /* does not fit f32 */
    assert_int_equal(hr_gguf_get_arr(g, "arr.bool", HR_GGUF_BOOL, &kv, NULL), 0);
    assert_false(hr_gguf_arr_f32(kv, 0, &f));
    assert_int_equal(hr_gguf_get_arr(g, "arr.empty", HR_GGUF_U32, &kv, NULL), 0);
    assert_int_equal(kv->arr_n, 0);
    assert_false(hr_gguf_arr_i64(kv, 0, &v));
    kv = hr_gguf_find(g, "u8"); /* not an array */
    assert_false(hr_gguf_arr_i64(kv, 0, &v));
    assert_int_equal(hr_gguf_get_bool(g, "missing", &b, NULL), HR_ENOTFOUND);
    assert_int_equal(hr_gguf_get_f32(g, "missing", &f, NULL), HR_ENOTFOUND);
    assert_int_equal(hr_gguf_get_str(g, "missing", &s, NULL), HR_ENOTFOUND);
    assert_int_equal(hr_gguf_get_arr(g, "missing", HR_GGUF_U8, &kv, NULL), HR_ENOTFOUND);
    hr_gguf_close(g);
    free(buf);
}

static void test_vtype_sizes(void **state)
{
    (void)state;
    const size_t want[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8, 0};
    for (uint32_t t = 0; t < sizeof want / sizeof want[0]; t++)
        assert_int_equal(hr_gguf_vtype_size(t), want[t]);
    assert_int_equal(hr_gguf_vtype_size(UINT32_MAX), 0);
}

static void test_open_errors_name_the_file(void **state)
{
    (void)state;
    struct hr_gguf *g = (struct hr_gguf *)&g;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_gguf_open(&g, "/nonexistent/model.gguf", &d), HR_EIO);
    assert_null(g);
    assert_non_null(strstr(d.msg, "/nonexistent/model.gguf"));
    hr_diag_clear(&d);
    assert_int_equal(hr_gguf_open(&g, tu_tmpdir(), &d), HR_EIO); /* a directory */
    assert_non_null(strstr(d.msg, tu_tmpdir()));
    char path[512];
    tu_tmpfile("empty.gguf", path, sizeof path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    hr_diag_clear(&d);
    assert_int_equal(hr_gguf_open(&g, path, &d), HR_EFORMAT);
    assert_non_null(strstr(d.msg, path));
    tu_tmpfile("version1.gguf", path, sizeof path);
    f = fopen(path, "wb");
    assert_non_null(f);
    const uint8_t v1[24] = {'G', 'G', 'U', 'F', 1};
    assert_int_equal(fwrite(v1, 1, sizeof v1, f), sizeof v1);
    fclose(f);
    hr_diag_clear(&d);
    assert_int_equal(hr_gguf_open(&g, path, &d), HR_EUNSUPPORTED);
    assert_non_null(strstr(d.msg, path));
    assert_non_null(strstr(d.msg, "version 1"));
    hr_gguf_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_llama2_tiny_random_f16),
        cmocka_unit_test(test_every_vocab_opens),
        cmocka_unit_test(test_every_reference_model_opens),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_vtype_sizes),
        cmocka_unit_test(test_open_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
