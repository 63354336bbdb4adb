/* Detokenizing: what each token type prints (hr_tok_token_bytes) and the streaming
 * detokenizer, which holds back an incomplete UTF-8 character until it is complete, replaces
 * invalid sequences by U+FFFD (one per maximal invalid subpart) instead of waiting forever,
 * never writes or reports more than its cap, and flushes leftovers as U+FFFD. Uses an
 * in-memory vocabulary (tok_fixture.h) and, when present, stories260K's byte tokens. */
#include "testutil.h"

#include "tok_fixture.h"

#define FFFD "\xEF\xBF\xBD"

static struct tf_vocab vocab;
static struct hr_tok *tok;
static int32_t id_hello, id_im_end, id_tool, id_unused, id_garbage;

static int setup(void **state)
{
    (void)state;
    tf_add_base(&vocab);
    id_hello = tf_add_str(&vocab, "\xE2\x96\x81Hello", HR_TOK_NORMAL, 0);
    id_im_end = tf_add_str(&vocab, "<|im_end|>", HR_TOK_CONTROL, 0);
    id_tool = tf_add_str(&vocab, "<tool\xE2\x96\x81x>", HR_TOK_USER_DEFINED, 0);
    id_unused = tf_add_str(&vocab, "<unused0>", HR_TOK_UNUSED, 0);
    /* A hostile piece of HR_TOK_MAX_PIECE stray continuation bytes: 3 KiB of U+FFFD. */
    static char garbage[HR_TOK_MAX_PIECE];
    memset(garbage, 0x80, sizeof garbage);
    id_garbage = tf_add(&vocab, garbage, sizeof garbage, HR_TOK_NORMAL, 0);
    tok = tf_spm(&vocab);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hr_tok_free(tok);
    return 0;
}

static int32_t byte_tok(int b)
{
    return 3 + b;
}

/* Pushes the bytes as byte tokens; returns everything emitted, in out. */
static size_t push_bytes(struct hr_detok *s, const char *bytes, size_t n, char *out)
{
    size_t o = 0;
    char buf[HR_TOK_MAX_PIECE + 8];
    for (size_t i = 0; i < n; i++) {
        size_t k = hr_detok_push(s, tok, byte_tok((uint8_t)bytes[i]), buf, sizeof buf);
        assert_true(k <= sizeof buf);
        memcpy(out + o, buf, k);
        o += k;
    }
    return o;
}

static void test_token_bytes(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(hr_tok_token_bytes(tok, id_hello, false, buf, sizeof buf), 6);
    assert_memory_equal(buf, " Hello", 6);
    assert_int_equal(hr_tok_token_bytes(tok, byte_tok('\n'), false, buf, sizeof buf), 1);
    assert_int_equal(buf[0], '\n');
    /* control and unknown tokens print only when asked; unused ones never */
    assert_int_equal(hr_tok_token_bytes(tok, id_im_end, false, buf, sizeof buf), 0);
    assert_int_equal(hr_tok_token_bytes(tok, id_im_end, true, buf, sizeof buf), 10);
    assert_memory_equal(buf, "<|im_end|>", 10);
    assert_int_equal(hr_tok_token_bytes(tok, 0, false, buf, sizeof buf), 0);
    assert_int_equal(hr_tok_token_bytes(tok, 0, true, buf, sizeof buf), 5);
    assert_memory_equal(buf, "<unk>", 5);
    assert_int_equal(hr_tok_token_bytes(tok, id_unused, true, buf, sizeof buf), 0);
    /* user-defined text prints as it is written, U+2581 included */
    assert_int_equal(hr_tok_token_bytes(tok, id_tool, false, buf, sizeof buf), 10);
    assert_memory_equal(buf, "<tool\xE2\x96\x81x>", 10);
    /* out of range: nothing; too small a buffer: the size needed, nothing past cap */
    assert_int_equal(hr_tok_token_bytes(tok, -1, true, buf, sizeof buf), 0);
    assert_int_equal(hr_tok_token_bytes(tok, hr_tok_n_vocab(tok), true, buf, sizeof buf), 0);
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(hr_tok_token_bytes(tok, id_hello, false, buf, 3), 6);
    assert_int_equal(buf[3], 'Z');
}

static void test_split_characters(void **state)
{
    (void)state;
    struct hr_detok s;
    char out[64], buf[HR_TOK_MAX_PIECE + 8];
    hr_detok_init(&s);
    /* é = C3 A9: nothing after the lead byte, the whole character after the second */
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0xC3), buf, sizeof buf), 0);
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0xA9), buf, sizeof buf), 2);
    assert_memory_equal(buf, "\xC3\xA9", 2);
    /* € (3 bytes) and an emoji (4 bytes), byte by byte */
    const char *chars[] = {"\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"};
    for (size_t c = 0; c < 3; c++) {
        size_t n = strlen(chars[c]);
        for (size_t i = 0; i + 1 < n; i++)
            assert_int_equal(hr_detok_push(&s, tok, byte_tok((uint8_t)chars[c][i]), buf,
                                           sizeof buf), 0);
        assert_int_equal(hr_detok_push(&s, tok, byte_tok((uint8_t)chars[c][n - 1]), buf,
                                       sizeof buf), n);
        assert_memory_equal(buf, chars[c], n);
    }
    /* a control token between the halves prints nothing and keeps the pending lead */
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0xC3), buf, sizeof buf), 0);
    assert_int_equal(hr_detok_push(&s, tok, id_im_end, buf, sizeof buf), 0);
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0xA9), buf, sizeof buf), 2);
    /* a normal piece after a pending lead completes it from its first bytes */
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0xE2), buf, sizeof buf), 0);
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0x96), buf, sizeof buf), 0);
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0x81), buf, sizeof buf), 3);
    assert_int_equal(hr_detok_push(&s, tok, id_hello, buf, sizeof buf), 6);
    /* nothing left over */
    assert_int_equal(hr_detok_flush(&s, out, sizeof out), 0);
}

static void test_invalid_sequences(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\x80", FFFD},                              /* stray continuation */
        {"\xC0\x80", FFFD FFFD},                     /* overlong 2-byte form */
        {"\xC1\xBF", FFFD FFFD},                     /* overlong 2-byte form */
        {"\xE0\x80\x80", FFFD FFFD FFFD},            /* overlong 3-byte form */
        {"\xED\xA0\x80", FFFD FFFD FFFD},            /* UTF-16 surrogate */
        {"\xF0\x80\x80\x80", FFFD FFFD FFFD FFFD},   /* overlong 4-byte form */
        {"\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD},   /* above U+10FFFF */
        {"\xF5", FFFD},                              /* never a lead */
        {"\xFF", FFFD},                              /* never a lead */
        {"\xE2\x82" "A", FFFD "A"},                  /* cut short by ASCII */
        {"\xE2\xC3\xA9", FFFD "\xC3\xA9"},           /* cut short by another lead */
        {"\xF0\x9F\x98" "\xF0\x9F\x98\x80", FFFD "\xF0\x9F\x98\x80"},
        {"a\x80" "b", "a" FFFD "b"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct hr_detok s;
        hr_detok_init(&s);
        char out[64];
        size_t n = push_bytes(&s, cases[c].in, strlen(cases[c].in), out);
        n += hr_detok_flush(&s, out + n, sizeof out - n);
        if (n != strlen(cases[c].out) || memcmp(out, cases[c].out, n) != 0)
            fail_msg("case %zu: got %zu bytes", c, n);
    }
}

static void test_flush(void **state)
{
    (void)state;
    struct hr_detok s;
    char out[16], buf[HR_TOK_MAX_PIECE + 8];
    hr_detok_init(&s);
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0xF0), buf, sizeof buf), 0);
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0x9F), buf, sizeof buf), 0);
    assert_int_equal(hr_detok_flush(&s, out, sizeof out), 3);
    assert_memory_equal(out, FFFD, 3);
    assert_int_equal(hr_detok_flush(&s, out, sizeof out), 0);
    /* the stream starts over cleanly after a flush */
    assert_int_equal(hr_detok_push(&s, tok, byte_tok('A'), buf, sizeof buf), 1);
    /* a cap too small for U+FFFD gets nothing, and the count says so */
    assert_int_equal(hr_detok_push(&s, tok, byte_tok(0xC3), buf, sizeof buf), 0);
    assert_int_equal(hr_detok_flush(&s, out, 2), 0);
}

/* A garbage piece whose replacement text is three times the cap: output stops at the last
 * whole U+FFFD that fits, and the count is what was written. */
static void test_cap_holds(void **state)
{
    (void)state;
    struct hr_detok s;
    static char buf[HR_TOK_MAX_PIECE + 8 + 64];
    hr_detok_init(&s);
    memset(buf, 'Z', sizeof buf);
    size_t cap = HR_TOK_MAX_PIECE + 8;
    size_t n = hr_detok_push(&s, tok, id_garbage, buf, cap);
    assert_true(n <= cap && n > cap - 3);
    assert_int_equal(n % 3, 0);
    for (size_t i = 0; i < n; i += 3)
        assert_memory_equal(buf + i, FFFD, 3);
    assert_int_equal(buf[cap], 'Z');
    /* small caps too */
    for (size_t small = 0; small < 8; small++) {
        memset(buf, 'Z', 16);
        n = hr_detok_push(&s, tok, id_garbage, buf, small);
        assert_int_equal(n, small / 3 * 3);
        assert_int_equal(buf[small], 'Z');
    }
}

/* The same with a real vocabulary: stories260K spells characters outside its pieces as
 * <0xNN> tokens. */
static void test_stories_bytes(void **state)
{
    (void)state;
    char path[512];
    if (!tu_shared_path("models/stories260K.gguf", path, sizeof path))
        skip();
    struct hr_gguf *g = NULL;
    struct hr_tok *t = NULL;
    assert_int_equal(hr_gguf_open(&g, path, NULL), 0);
    assert_int_equal(hr_tok_new_from_gguf(&t, g, NULL), 0);
    hr_gguf_close(g);
    const char *text = "caf\xC3\xBC \xF0\x9F\x90\xB1!";
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(hr_tok_encode(t, text, strlen(text), false, false, ids, 64, &n), 0);
    struct hr_detok s;
    hr_detok_init(&s);
    char out[128], buf[HR_TOK_MAX_PIECE + 8];
    size_t o = 0, n_empty_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = hr_detok_push(&s, t, ids[i], buf, sizeof buf);
        enum hr_tok_type ty = hr_tok_token_type(t, ids[i]);
        /* every byte token but the last of its character prints nothing */
        n_empty_bytes += ty == HR_TOK_BYTE && k == 0;
        assert_true(o + k <= sizeof out);
        memcpy(out + o, buf, k);
        o += k;
    }
    o += hr_detok_flush(&s, out + o, sizeof out - o);
    assert_int_equal(n_empty_bytes, 1 + 3); /* ü is 2 byte tokens, the cat 4 (é is a piece) */
    assert_int_equal(o, strlen(text) + 1);
    assert_memory_equal(out, " ", 1);
    assert_memory_equal(out + 1, text, strlen(text));
    hr_tok_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_bytes),     cmocka_unit_test(test_split_characters),
        cmocka_unit_test(test_invalid_sequences), cmocka_unit_test(test_flush),
        cmocka_unit_test(test_cap_holds),       cmocka_unit_test(test_stories_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
