/* Building a tokenizer from hostile or incomplete metadata: every inconsistency is refused
 * with a diag naming the key (HR_EUNSUPPORTED naming the value for a foreign tokenizer
 * model), and what may be absent takes llama.cpp's defaults. Vocabularies are written in
 * memory with the GGUF writer (tok_fixture.h); no shared data needed. */
#include "testutil.h"

#include "tok_fixture.h"

/* Builds from w and requires failure rc with a diag that contains needle. */
static void expect_refused(struct hr_gguf_writer *w, int rc_want, const char *needle)
{
    struct hr_tok *t = NULL;
    struct hr_diag d = {{0}};
    int rc = tf_build(w, &t, &d);
    if (rc != rc_want || !strstr(d.msg, needle))
        fail_msg("want %s naming '%s', got %s: '%s'", hr_err_name(rc_want), needle,
                 hr_err_name(rc), d.msg);
    assert_null(t);
}

static void base(struct tf_vocab *v)
{
    memset(v, 0, sizeof *v);
    tf_add_base(v);
    tf_add_str(v, "\xE2\x96\x81", HR_TOK_NORMAL, -1);
}

static void test_model_key(void **state)
{
    (void)state;
    static struct tf_vocab v;
    base(&v);
    expect_refused(tf_writer(&v, "foo", v.n, v.n), HR_EUNSUPPORTED, "'foo'");
    expect_refused(tf_writer(&v, NULL, v.n, v.n), HR_EFORMAT, "tokenizer.ggml.model");
    /* the model key holding a number instead of a name */
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    assert_int_equal(hr_gguf_writer_add_u32(w, "tokenizer.ggml.model", 5), 0);
    expect_refused(w, HR_EFORMAT, "tokenizer.ggml.model");
}

static void test_arrays(void **state)
{
    (void)state;
    static struct tf_vocab v;
    base(&v);
    /* no tokens at all */
    struct hr_gguf_writer *w = NULL;
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5), 0);
    expect_refused(w, HR_EFORMAT, "tokenizer.ggml.tokens");
    /* tokens of the wrong element type */
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5), 0);
    assert_int_equal(hr_gguf_writer_add_arr(w, "tokenizer.ggml.tokens", HR_GGUF_I32, v.types,
                                            v.n), 0);
    expect_refused(w, HR_EFORMAT, "tokenizer.ggml.tokens");
    /* an empty token list */
    assert_int_equal(hr_gguf_writer_new(&w), 0);
    assert_int_equal(hr_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5), 0);
    assert_int_equal(hr_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", v.toks, 0), 0);
    expect_refused(w, HR_EFORMAT, "tokenizer.ggml.tokens");
    /* scores or types of the wrong length, or the wrong element type */
    expect_refused(tf_writer(&v, "llama", v.n - 1, v.n), HR_EFORMAT, "tokenizer.ggml.scores");
    expect_refused(tf_writer(&v, "llama", v.n, v.n - 1), HR_EFORMAT,
                   "tokenizer.ggml.token_type");
    w = tf_writer(&v, "llama", 0, v.n);
    assert_int_equal(hr_gguf_writer_add_arr(w, "tokenizer.ggml.scores", HR_GGUF_I32, v.types,
                                            v.n), 0);
    expect_refused(w, HR_EFORMAT, "tokenizer.ggml.scores");
    w = tf_writer(&v, "llama", v.n, 0);
    assert_int_equal(hr_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", HR_GGUF_F32,
                                            v.scores, v.n), 0);
    expect_refused(w, HR_EFORMAT, "tokenizer.ggml.token_type");
}

static void test_pieces(void **state)
{
    (void)state;
    static struct tf_vocab v;
    static char big[HR_TOK_MAX_PIECE + 1];
    base(&v);
    memset(big, 'a', sizeof big);
    tf_add(&v, big, sizeof big, HR_TOK_NORMAL, 0);
    expect_refused(tf_writer(&v, "llama", v.n, v.n), HR_EFORMAT, "tokenizer.ggml.tokens");
    base(&v);
    tf_add(&v, "a\0b", 3, HR_TOK_NORMAL, 0);
    expect_refused(tf_writer(&v, "llama", v.n, v.n), HR_EFORMAT, "tokenizer.ggml.tokens");
}

static void test_special_ids(void **state)
{
    (void)state;
    static struct tf_vocab v;
    base(&v);
    static const char *keys[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                 "tokenizer.ggml.unknown_token_id",
                                 "tokenizer.ggml.eot_token_id"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        /* one past the end, and far past it */
        struct hr_gguf_writer *w = tf_writer(&v, "llama", v.n, v.n);
        assert_int_equal(hr_gguf_writer_add_u32(w, keys[i], (uint32_t)v.n), 0);
        expect_refused(w, HR_EFORMAT, keys[i]);
        w = tf_writer(&v, "llama", v.n, v.n);
        assert_int_equal(hr_gguf_writer_add_u32(w, keys[i], 0xFFFFFFFFu), 0);
        expect_refused(w, HR_EFORMAT, keys[i]);
        /* negative, and not a number */
        w = tf_writer(&v, "llama", v.n, v.n);
        assert_int_equal(hr_gguf_writer_add_i32(w, keys[i], -1), 0);
        expect_refused(w, HR_EFORMAT, keys[i]);
        w = tf_writer(&v, "llama", v.n, v.n);
        assert_int_equal(hr_gguf_writer_add_str(w, keys[i], "1", 1), 0);
        expect_refused(w, HR_EFORMAT, keys[i]);
    }
    static const char *flags[] = {"tokenizer.ggml.add_bos_token",
                                  "tokenizer.ggml.add_eos_token",
                                  "tokenizer.ggml.add_space_prefix"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        struct hr_gguf_writer *w = tf_writer(&v, "llama", v.n, v.n);
        assert_int_equal(hr_gguf_writer_add_str(w, flags[i], "yes", 3), 0);
        expect_refused(w, HR_EFORMAT, flags[i]);
    }
}

/* Absent scores, types, ids and flags: llama.cpp's defaults. */
static void test_defaults(void **state)
{
    (void)state;
    static struct tf_vocab v;
    base(&v);
    struct hr_tok *t = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(tf_build(tf_writer(&v, "llama", 0, 0), &t, &d), 0);
    assert_int_equal(hr_tok_n_vocab(t), (int32_t)v.n);
    assert_int_equal(hr_tok_bos(t), 1);
    assert_int_equal(hr_tok_eos(t), 2);
    assert_true(hr_tok_add_bos(t));
    assert_false(hr_tok_add_eos(t));
    assert_int_equal(hr_tok_token_type(t, 1), HR_TOK_NORMAL); /* no types: all normal */
    assert_int_equal(hr_tok_token_type(t, -1), HR_TOK_UNDEFINED);
    assert_int_equal(hr_tok_token_type(t, (int32_t)v.n), HR_TOK_UNDEFINED);
    assert_null(hr_tok_piece(t, (int32_t)v.n, NULL));
    assert_false(hr_tok_is_eog(t, -1));
    assert_false(hr_tok_is_eog(t, (int32_t)v.n));
    /* the dummy prefix is on by default: "a" is "▁a", here the piece ▁ and byte 'a' */
    int32_t ids[16];
    size_t n = 0;
    assert_int_equal(hr_tok_encode(t, "a", 1, true, false, ids, 16, &n), 0);
    int32_t want[] = {1, (int32_t)v.n - 1, 3 + 'a'};
    assert_int_equal(n, 3);
    assert_memory_equal(ids, want, sizeof want);
    hr_tok_free(t);

    /* The flags, when present, rule; a type number outside the enum is undefined. */
    v.types[3 + 'z'] = 99;
    struct hr_gguf_writer *w = tf_writer(&v, "llama", v.n, v.n);
    assert_int_equal(hr_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", false), 0);
    assert_int_equal(hr_gguf_writer_add_bool(w, "tokenizer.ggml.add_eos_token", true), 0);
    assert_int_equal(hr_gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", false), 0);
    assert_int_equal(hr_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 1), 0);
    assert_int_equal(tf_build(w, &t, &d), 0);
    assert_int_equal(hr_tok_encode(t, "a", 1, true, false, ids, 16, &n), 0);
    int32_t want2[] = {3 + 'a', 1};
    assert_int_equal(n, 2);
    assert_memory_equal(ids, want2, sizeof want2);
    assert_int_equal(hr_tok_token_type(t, 3 + 'z'), HR_TOK_UNDEFINED);
    assert_true(hr_tok_is_eog(t, 1));
    assert_false(hr_tok_is_eog(t, 2));
    hr_tok_free(t);
}

/* End of generation: eos, eot, and the turn-ending texts whatever type the file gives them
 * (llama.cpp turns such tokens into control tokens); other control tokens are not. */
static void test_eog(void **state)
{
    (void)state;
    static struct tf_vocab v;
    base(&v);
    int32_t im_end = tf_add_str(&v, "<|im_end|>", HR_TOK_CONTROL, 0);
    int32_t eot_id = tf_add_str(&v, "<|eot_id|>", HR_TOK_USER_DEFINED, 0);
    int32_t end = tf_add_str(&v, "<|end|>", HR_TOK_NORMAL, 0);
    int32_t turn = tf_add_str(&v, "<end_of_turn>", HR_TOK_CONTROL, 0);
    int32_t other = tf_add_str(&v, "<|im_start|>", HR_TOK_CONTROL, 0);
    int32_t mine = tf_add_str(&v, "<|stop|>", HR_TOK_CONTROL, 0);
    struct hr_gguf_writer *w = tf_writer(&v, "llama", v.n, v.n);
    assert_int_equal(hr_gguf_writer_add_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)mine),
                     0);
    struct hr_tok *t = NULL;
    assert_int_equal(tf_build(w, &t, NULL), 0);
    assert_true(hr_tok_is_eog(t, 2));
    assert_true(hr_tok_is_eog(t, im_end));
    assert_true(hr_tok_is_eog(t, eot_id));
    assert_true(hr_tok_is_eog(t, end));
    assert_true(hr_tok_is_eog(t, turn));
    assert_true(hr_tok_is_eog(t, mine));
    assert_false(hr_tok_is_eog(t, other));
    assert_false(hr_tok_is_eog(t, 1));
    assert_int_equal(hr_tok_token_type(t, eot_id), HR_TOK_CONTROL);
    assert_int_equal(hr_tok_token_type(t, end), HR_TOK_CONTROL);
    /* as control tokens they are plain text unless special tokens are parsed */
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(hr_tok_encode(t, "<|eot_id|>", 10, false, false, ids, 64, &n), 0);
    assert_true(n > 1);
    assert_int_equal(hr_tok_encode(t, "<|eot_id|>", 10, false, true, ids, 64, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], eot_id);
    hr_tok_free(t);
}

/* A piece listed twice maps to its last id, as in llama.cpp's text-to-id map. */
static void test_duplicate_piece(void **state)
{
    (void)state;
    static struct tf_vocab v;
    base(&v);
    int32_t first = tf_add_str(&v, "\xE2\x96\x81hi", HR_TOK_NORMAL, 0);
    tf_add_str(&v, "h", HR_TOK_NORMAL, -2);
    tf_add_str(&v, "i", HR_TOK_NORMAL, -2);
    tf_add_str(&v, "hi", HR_TOK_NORMAL, -1);
    int32_t last = tf_add_str(&v, "\xE2\x96\x81hi", HR_TOK_NORMAL, 0);
    struct hr_tok *t = tf_spm(&v);
    assert_true(first != last);
    assert_int_equal(hr_tok_find(t, "\xE2\x96\x81hi", 5), last);
    int32_t ids[8];
    size_t n = 0;
    assert_int_equal(hr_tok_encode(t, "hi", 2, false, false, ids, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], last);
    hr_tok_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_key),  cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_pieces),     cmocka_unit_test(test_special_ids),
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_eog),
        cmocka_unit_test(test_duplicate_piece),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
