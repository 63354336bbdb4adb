/* Hostile GGUF input: a small file built here by hand (independently of the writer) with a kv
 * of every type, a string array and two tensors is cut at every length, corrupted field by
 * field, and byte-flipped everywhere. Each bad file must be refused with the expected code and
 * a message naming the fault, never crash or read outside the buffer (ASan build). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/err.h"
#include "engine/base/limits.h"
#include "engine/gguf/gguf.h"

struct builder {
    uint8_t b[2048];
    size_t n;
};

static size_t put(struct builder *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
    return w->n - n;
}

static size_t put32(struct builder *w, uint32_t v)
{
    return put(w, &v, 4);
}

static size_t put64(struct builder *w, uint64_t v)
{
    return put(w, &v, 8);
}

static size_t put_str(struct builder *w, const char *s)
{
    size_t at = put64(w, strlen(s));
    put(w, s, strlen(s));
    return at;
}

/* Where each field of interest sits in the small file. */
struct layout {
    size_t n_tensors, n_kv, first_key_len;
    size_t u32_type, i32_key, str_len, arr_type, arr_n, strs_n, strs_len1, align_type;
    size_t align_val;
    size_t t0_name_len, t0_name, t0_dims, t0_ne, t0_type, t0_off; /* "blk.q8" Q8_0 {32, 2} */
    size_t t1_name, t1_dims, t1_ne, t1_type, t1_off;              /* "blk.f4" F32 {4, 2} */
    size_t data;
};

static size_t kv_head(struct builder *w, const char *key, uint32_t type, size_t *type_at)
{
    size_t at = put_str(w, key);
    size_t t = put32(w, type);
    if (type_at)
        *type_at = t;
    return at;
}

/* The last tensor ends exactly at the end of the file, so every shorter cut loses data. */
static size_t build(struct builder *w, struct layout *L)
{
    memset(w, 0, sizeof *w);
    put(w, "GGUF", 4);
    put32(w, 3);
    L->n_tensors = put64(w, 2);
    L->n_kv = put64(w, 15);
    L->first_key_len = kv_head(w, "k.u8", HR_GGUF_U8, NULL);
    put(w, "\xC8", 1);
    kv_head(w, "k.i8", HR_GGUF_I8, NULL);
    put(w, "\xFB", 1);
    kv_head(w, "k.u16", HR_GGUF_U16, NULL);
    put(w, "\x10\x27", 2);
    kv_head(w, "k.i16", HR_GGUF_I16, NULL);
    put(w, "\xFF\xFF", 2);
    kv_head(w, "k.u32", HR_GGUF_U32, &L->u32_type);
    put32(w, 7);
    L->i32_key = kv_head(w, "k.i32", HR_GGUF_I32, NULL) + 8;
    put32(w, (uint32_t)-3);
    kv_head(w, "k.f32", HR_GGUF_F32, NULL);
    float f = 1.5f;
    put(w, &f, 4);
    kv_head(w, "k.bool", HR_GGUF_BOOL, NULL);
    put(w, "\x01", 1);
    kv_head(w, "k.str", HR_GGUF_STRING, NULL);
    L->str_len = put_str(w, "hello");
    kv_head(w, "k.u64", HR_GGUF_U64, NULL);
    put64(w, 1ull << 40);
    kv_head(w, "k.i64", HR_GGUF_I64, NULL);
    put64(w, (uint64_t)-9);
    kv_head(w, "k.f64", HR_GGUF_F64, NULL);
    double g = -0.125;
    put(w, &g, 8);
    kv_head(w, "k.arr", HR_GGUF_ARRAY, NULL);
    L->arr_type = put32(w, HR_GGUF_I32);
    L->arr_n = put64(w, 3);
    int32_t arr[3] = {1, -2, 3};
    put(w, arr, sizeof arr);
    kv_head(w, "k.strs", HR_GGUF_ARRAY, NULL);
    put32(w, HR_GGUF_STRING);
    L->strs_n = put64(w, 3);
    put_str(w, "a");
    L->strs_len1 = put_str(w, "<s>");
    put_str(w, "");
    kv_head(w, "general.alignment", HR_GGUF_U32, &L->align_type);
    L->align_val = put32(w, 32);
    L->t0_name_len = put_str(w, "blk.q8");
    L->t0_name = L->t0_name_len + 8;
    L->t0_dims = put32(w, 2);
    L->t0_ne = put64(w, 32);
    put64(w, 2);
    L->t0_type = put32(w, HR_TYPE_Q8_0);
    L->t0_off = put64(w, 0); /* 68 bytes, padded to 96 */
    L->t1_name = put_str(w, "blk.f4") + 8;
    L->t1_dims = put32(w, 2);
    L->t1_ne = put64(w, 4);
    put64(w, 2);
    L->t1_type = put32(w, HR_TYPE_F32);
    L->t1_off = put64(w, 96); /* 32 bytes */
    while (w->n % 32)
        put(w, "", 1);
    L->data = w->n;
    for (int i = 0; i < 128; i++) {
        uint8_t v = (uint8_t)(i * 7);
        put(w, &v, 1);
    }
    return w->n;
}

/* Opens an exact-size heap copy so that ASan sees any read past the end. */
static int open_copy(const uint8_t *bytes, size_t n, struct hr_gguf **g, struct hr_diag *d)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, bytes, n);
    int rc = hr_gguf_open_mem(g, copy, n, d);
    if (rc == 0) {
        /* Touch every byte the reader vouches for. */
        unsigned sum = 0;
        for (uint64_t i = 0; i < (*g)->n_kv; i++) {
            const struct hr_gguf_kv *kv = &(*g)->kv[i];
            for (size_t k = 0; k < kv->key.len; k++)
                sum += (uint8_t)kv->key.ptr[k];
            for (uint64_t k = 0; k < kv->n_bytes; k++)
                sum += kv->data[k];
            for (uint64_t s = 0; kv->strs && s < kv->arr_n; s++)
                for (size_t k = 0; k < kv->strs[s].len; k++)
                    sum += (uint8_t)kv->strs[s].ptr[k];
        }
        for (uint64_t i = 0; i < (*g)->n_tensors; i++) {
            const struct hr_gguf_tensor *t = &(*g)->tensors[i];
            for (uint64_t k = 0; k < t->n_bytes; k++)
                sum += ((const uint8_t *)t->data)[k];
        }
        (void)sum;
        hr_gguf_close(*g);
        *g = NULL;
    }
    free(copy);
    return rc;
}

static void test_small_file_is_valid(void **state)
{
    (void)state;
    struct builder w;
    struct layout L;
    size_t n = build(&w, &L);
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    if (hr_gguf_open_mem(&g, w.b, n, &d) != 0)
        fail_msg("%s", d.msg);
    assert_int_equal(g->n_kv, 15);
    assert_int_equal(g->n_tensors, 2);
    assert_int_equal(g->data_offset, L.data);
    const struct hr_gguf_kv *kv;
    assert_int_equal(hr_gguf_get_arr(g, "k.strs", HR_GGUF_STRING, &kv, NULL), 0);
    assert_int_equal(kv->arr_n, 3);
    assert_int_equal(kv->strs[1].len, 3);
    assert_memory_equal(kv->strs[1].ptr, "<s>", 3);
    assert_int_equal(kv->strs[2].len, 0);
    const struct hr_gguf_tensor *t = hr_gguf_tensor(g, "blk.f4");
    assert_non_null(t);
    assert_int_equal(t->n_bytes, 32);
    assert_ptr_equal(t->data, w.b + L.data + 96);
    assert_int_equal(hr_gguf_tensor(g, "blk.q8")->n_bytes, 68);
    hr_gguf_close(g);
}

static void test_every_truncation_rejected(void **state)
{
    (void)state;
    struct builder w;
    struct layout L;
    size_t n = build(&w, &L);
    for (size_t len = 0; len < n; len++) {
        struct hr_gguf *g = NULL;
        struct hr_diag d = {{0}};
        int rc = open_copy(w.b, len, &g, &d);
        if (rc != HR_EFORMAT)
            fail_msg("cut to %zu of %zu bytes: got %s (%s)", len, n, hr_err_name(rc), d.msg);
        assert_null(g);
        assert_true(d.msg[0] != '\0');
        assert_non_null(strstr(d.msg, "<memory>"));
    }
}

/* Patches a copy of the small file and expects it refused with `want` and a message holding
 * each of the given fragments. */
static void expect(const struct builder *orig, int want, const char *frag1, const char *frag2,
                   void (*patch)(uint8_t *b, const struct layout *L), const char *what)
{
    struct builder w;
    struct layout L;
    build(&w, &L);
    assert_memory_equal(w.b, orig->b, orig->n);
    patch(w.b, &L);
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    int rc = open_copy(w.b, w.n, &g, &d);
    if (rc != want)
        fail_msg("%s: expected %s, got %s (%s)", what, hr_err_name(want), hr_err_name(rc), d.msg);
    if (!strstr(d.msg, frag1) || (frag2 && !strstr(d.msg, frag2)))
        fail_msg("%s: diag '%s' lacks '%s'/'%s'", what, d.msg, frag1, frag2 ? frag2 : "");
}

static void set32(uint8_t *b, size_t at, uint32_t v)
{
    memcpy(b + at, &v, 4);
}

static void set64(uint8_t *b, size_t at, uint64_t v)
{
    memcpy(b + at, &v, 8);
}

/* One patch per corruption; each names the field it breaks. */
#define PATCH(name, body)                                                                    \
    static void name(uint8_t *b, const struct layout *L)                                     \
    {                                                                                        \
        (void)L;                                                                             \
        body;                                                                                \
    }
PATCH(bad_magic, b[3] = 'G')
PATCH(version_0, set32(b, 4, 0))
PATCH(version_1, set32(b, 4, 1))
PATCH(version_99, set32(b, 4, 99))
PATCH(n_kv_2p63, set64(b, L->n_kv, 1ull << 63))
PATCH(n_kv_implausible, set64(b, L->n_kv, 5000))
PATCH(n_tensors_huge, set64(b, L->n_tensors, UINT64_MAX))
PATCH(n_tensors_implausible, set64(b, L->n_tensors, 60000))
PATCH(key_len_huge, set64(b, L->first_key_len, 9999999))
PATCH(key_empty, set64(b, L->first_key_len, 0))
PATCH(str_past_end, set64(b, L->str_len, 1000000))
PATCH(str_over_cap, set64(b, L->str_len, 1ull << 62))
PATCH(value_type_unknown, set32(b, L->u32_type, 13))
PATCH(value_type_huge, set32(b, L->u32_type, 0xFFFFFFFF))
PATCH(nested_array, set32(b, L->arr_type, HR_GGUF_ARRAY))
PATCH(array_elem_unknown, set32(b, L->arr_type, 99))
PATCH(array_count_overflow, set64(b, L->arr_n, (1ull << 62) + 1))
PATCH(array_count_past_end, set64(b, L->arr_n, HR_GGUF_MAX_ARRAY))
PATCH(strs_count_past_end, set64(b, L->strs_n, 1u << 20))
PATCH(strs_entry_past_end, set64(b, L->strs_len1, 4000))
PATCH(dup_key, memcpy(b + L->i32_key, "k.u32", 5))
PATCH(align_0, set32(b, L->align_val, 0))
PATCH(align_3, set32(b, L->align_val, 3))
PATCH(align_huge, set32(b, L->align_val, 1u << 20))
PATCH(align_not_u32, set32(b, L->align_type, HR_GGUF_I32))
PATCH(align_64_misaligns, set32(b, L->align_val, 64))
PATCH(tensor_name_empty, set64(b, L->t0_name_len, 0))
PATCH(tensor_name_huge, set64(b, L->t0_name_len, 1ull << 40))
PATCH(n_dims_0, set32(b, L->t1_dims, 0))
PATCH(n_dims_5, set32(b, L->t1_dims, 5))
PATCH(ne_0, set64(b, L->t1_ne + 8, 0))
PATCH(ne_overflow, set64(b, L->t1_ne, 1ull << 32); set64(b, L->t1_ne + 8, 1ull << 32))
PATCH(type_unknown, set32(b, L->t1_type, 19))
PATCH(type_huge, set32(b, L->t1_type, 1000))
PATCH(ne0_not_block, set64(b, L->t0_ne, 48))
PATCH(offset_misaligned, set64(b, L->t1_off, 100))
PATCH(offset_past_end, set64(b, L->t1_off, 1ull << 50))
PATCH(offset_near_max, set64(b, L->t1_off, UINT64_MAX - 31))
PATCH(data_past_end, set64(b, L->t1_off, 128))
PATCH(size_past_end, set64(b, L->t1_ne + 8, 3))
PATCH(size_overflow_u64, set32(b, L->t1_type, HR_TYPE_F64); set64(b, L->t1_ne, 1ull << 31);
      set64(b, L->t1_ne + 8, (1ull << 31) + 1))
PATCH(size_near_u64_max, set32(b, L->t1_type, HR_TYPE_F64); set64(b, L->t1_ne, (1ull << 61) - 1);
      set64(b, L->t1_ne + 8, 1))
PATCH(overlap, set64(b, L->t1_off, 64))
PATCH(same_offset, set64(b, L->t1_off, 0))
PATCH(dup_tensor, memcpy(b + L->t1_name, "blk.q8", 6))
#undef PATCH

static void test_targeted_corruptions(void **state)
{
    (void)state;
    struct builder orig;
    struct layout L;
    build(&orig, &L);
    const struct {
        void (*patch)(uint8_t *, const struct layout *);
        int want;
        const char *frag1, *frag2, *what;
    } cases[] = {
        {bad_magic, HR_EFORMAT, "magic", NULL, "bad magic"},
        {version_0, HR_EUNSUPPORTED, "version 0", NULL, "version 0"},
        {version_1, HR_EUNSUPPORTED, "version 1", NULL, "version 1"},
        {version_99, HR_EUNSUPPORTED, "version 99", NULL, "version 99"},
        {n_kv_2p63, HR_EFORMAT, "key count 9223372036854775808", "limit", "n_kv 2^63"},
        {n_kv_implausible, HR_EFORMAT, "5000 keys", "cannot fit", "n_kv implausible"},
        {n_tensors_huge, HR_EFORMAT, "tensor count", "limit", "n_tensors huge"},
        {n_tensors_implausible, HR_EFORMAT, "60000 tensors", "cannot fit", "n_tensors 60000"},
        {key_len_huge, HR_EFORMAT, "key length 9999999", "limit", "key length huge"},
        {key_empty, HR_EFORMAT, "key 0 is empty", NULL, "empty key"},
        {str_past_end, HR_EFORMAT, "key 'k.str'", "string length 1000000 exceeds the",
         "string past end"},
        {str_over_cap, HR_EFORMAT, "key 'k.str'", "limit", "string over cap"},
        {value_type_unknown, HR_EFORMAT, "key 'k.u32'", "value type 13", "unknown vtype"},
        {value_type_huge, HR_EFORMAT, "key 'k.u32'", "value type 4294967295", "huge vtype"},
        {nested_array, HR_EFORMAT, "key 'k.arr'", "arrays of arrays", "nested array"},
        {array_elem_unknown, HR_EFORMAT, "key 'k.arr'", "element type 99", "bad elem type"},
        {array_count_overflow, HR_EFORMAT, "key 'k.arr'", "limit", "array count overflow"},
        {array_count_past_end, HR_EFORMAT, "key 'k.arr'", "bytes left", "array past end"},
        {strs_count_past_end, HR_EFORMAT, "key 'k.strs'", "cannot fit", "string array count"},
        {strs_entry_past_end, HR_EFORMAT, "key 'k.strs'", "array string length 4000",
         "string array entry"},
        {dup_key, HR_EFORMAT, "'k.u32' appears twice", NULL, "duplicate key"},
        {align_0, HR_EFORMAT, "general.alignment", "power of two", "alignment 0"},
        {align_3, HR_EFORMAT, "general.alignment", "power of two", "alignment 3"},
        {align_huge, HR_EFORMAT, "general.alignment", "power of two", "alignment 2^20"},
        {align_not_u32, HR_EFORMAT, "general.alignment", "u32", "alignment i32"},
        {align_64_misaligns, HR_EFORMAT, "tensor 'blk.f4'", "alignment 64", "alignment 64"},
        {tensor_name_empty, HR_EFORMAT, "tensor 0 has an empty name", NULL, "empty name"},
        {tensor_name_huge, HR_EFORMAT, "tensor name length", "limit", "tensor name huge"},
        {n_dims_0, HR_EFORMAT, "tensor 'blk.f4'", "dimension count 0", "n_dims 0"},
        {n_dims_5, HR_EFORMAT, "tensor 'blk.f4'", "dimension count 5", "n_dims 5"},
        {ne_0, HR_EFORMAT, "tensor 'blk.f4'", "dimension 1 is 0", "ne 0"},
        {ne_overflow, HR_EFORMAT, "tensor 'blk.f4'", "overflow", "ne product overflow"},
        {type_unknown, HR_EFORMAT, "tensor 'blk.f4'", "tensor type 19", "unknown type"},
        {type_huge, HR_EFORMAT, "tensor 'blk.f4'", "tensor type 1000", "huge type"},
        {ne0_not_block, HR_EFORMAT, "tensor 'blk.q8'", "block size 32", "ne0 % block"},
        {offset_misaligned, HR_EFORMAT, "tensor 'blk.f4'", "offset 100", "misaligned"},
        {offset_past_end, HR_EFORMAT, "tensor 'blk.f4'", "past end of file", "offset 2^50"},
        {offset_near_max, HR_EFORMAT, "tensor 'blk.f4'", "past end of file", "offset ~2^64"},
        {data_past_end, HR_EFORMAT, "tensor 'blk.f4'", "past end of file", "data past end"},
        {size_past_end, HR_EFORMAT, "tensor 'blk.f4'", "past end of file", "size past end"},
        {size_overflow_u64, HR_EFORMAT, "tensor 'blk.f4'", "overflows", "size overflow"},
        {size_near_u64_max, HR_EFORMAT, "tensor 'blk.f4'", "past end of file", "huge size"},
        {overlap, HR_EFORMAT, "'blk.q8'", "overlap", "overlap"},
        {same_offset, HR_EFORMAT, "'blk.f4'", "overlap", "same offset"},
        {dup_tensor, HR_EFORMAT, "tensor 'blk.q8' appears twice", NULL, "duplicate tensor"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect(&orig, cases[i].want, cases[i].frag1, cases[i].frag2, cases[i].patch,
               cases[i].what);
}

/* Messages say what is wrong, where, and with which numbers. */
static void test_exact_messages(void **state)
{
    (void)state;
    struct builder w = {.n = 0};
    put(&w, "GGUF", 4);
    put32(&w, 3);
    put64(&w, 0);
    put64(&w, 1);
    put64(&w, 200);
    put(&w, "abcd", 4);
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(open_copy(w.b, w.n, &g, &d), HR_EFORMAT);
    assert_string_equal(d.msg, "<memory>: offset 24: key length 200 exceeds the 4 bytes left");
    struct layout L;
    size_t n = build(&w, &L);
    set64(w.b, L.t1_off, 128);
    hr_diag_clear(&d);
    assert_int_equal(open_copy(w.b, n, &g, &d), HR_EFORMAT);
    char want[200];
    snprintf(want, sizeof want,
             "<memory>: tensor 'blk.f4': data [%zu..%zu) past end of file (%zu bytes)",
             L.data + 128, L.data + 160, n);
    assert_string_equal(d.msg, want);
    hr_diag_clear(&d);
    assert_int_equal(open_copy(w.b, 2, &g, &d), HR_EFORMAT);
    assert_string_equal(d.msg, "<memory>: offset 0: magic needs 4 bytes but only 2 are left");
}

/* Names from a hostile file reach messages escaped, so a log line cannot be forged. */
static void test_names_escaped_in_messages(void **state)
{
    (void)state;
    struct builder w;
    struct layout L;
    size_t n = build(&w, &L);
    memcpy(w.b + L.t1_name, "\n\x1b[2J", 6);
    set32(w.b, L.t1_type, 19);
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(open_copy(w.b, n, &g, &d), HR_EFORMAT);
    assert_null(strchr(d.msg, '\n'));
    assert_null(strchr(d.msg, '\x1b'));
    assert_non_null(strstr(d.msg, "\\x0a\\x1b[2J"));
}

/* A file on disk reports its path in every message. */
static void test_disk_file_messages_name_the_path(void **state)
{
    (void)state;
    struct builder w;
    struct layout L;
    size_t n = build(&w, &L);
    set64(w.b, L.t1_off, 128);
    char path[512];
    tu_tmpfile("corrupt.gguf", path, sizeof path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(w.b, 1, n, f), n);
    fclose(f);
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_gguf_open(&g, path, &d), HR_EFORMAT);
    assert_null(g);
    assert_true(strncmp(d.msg, path, strlen(path)) == 0);
    assert_non_null(strstr(d.msg, "blk.f4"));
}

/* Every byte set to a few values: each result is a clean refusal or a file whose every view
 * stays inside the buffer (checked by open_copy under ASan). */
static void test_byte_flip_sweep(void **state)
{
    (void)state;
    struct builder orig;
    struct layout L;
    size_t n = build(&orig, &L);
    const uint8_t values[] = {0x00, 0x01, 0x02, 0x20, 0x7F, 0x80, 0xFF};
    int accepted = 0, rejected = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof values + 2; k++) {
            struct builder w = orig;
            if (k < sizeof values)
                w.b[i] = values[k];
            else
                w.b[i] ^= k == sizeof values ? 0x01 : 0x80;
            struct hr_gguf *g = NULL;
            struct hr_diag d = {{0}};
            int rc = open_copy(w.b, n, &g, &d);
            if (rc == 0) {
                accepted++;
            } else {
                assert_true(rc == HR_EFORMAT || rc == HR_EUNSUPPORTED);
                assert_true(d.msg[0] != '\0');
                rejected++;
            }
        }
    }
    /* Tensor data bytes can take any value, header bytes mostly cannot. */
    assert_true(accepted > 128 * 7);
    assert_true(rejected > 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_file_is_valid),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_targeted_corruptions),
        cmocka_unit_test(test_exact_messages),
        cmocka_unit_test(test_names_escaped_in_messages),
        cmocka_unit_test(test_disk_file_messages_name_the_path),
        cmocka_unit_test(test_byte_flip_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
