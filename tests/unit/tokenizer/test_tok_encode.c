/* SentencePiece encoding rules on small in-memory vocabularies (tok_fixture.h): merge order
 * (highest score first, ties to the leftmost pair), byte fallback and <unk>, special-token
 * partitioning (longest first, user-defined always, llama.cpp's Phi-3 whitespace rule keyed
 * on general.name), the hr_tok_max_tokens bound on adversarial text, and long inputs. */
#include "testutil.h"

#include "tok_fixture.h"

#define SP "\xE2\x96\x81" /* U+2581, SentencePiece's space */

static void encode(const struct hr_tok *t, const char *text, bool parse_special, int32_t *ids,
                   size_t cap, size_t *n)
{
    assert_int_equal(hr_tok_encode(t, text, strlen(text), false, parse_special, ids, cap, n),
                     0);
}

static void expect(const struct hr_tok *t, const char *text, bool parse_special,
                   const int32_t *want, size_t n_want)
{
    int32_t ids[256];
    size_t n = 0;
    encode(t, text, parse_special, ids, 256, &n);
    bool same = n == n_want && memcmp(ids, want, n * sizeof *ids) == 0;
    if (!same) {
        printf("'%s': got", text);
        for (size_t i = 0; i < n; i++)
            printf(" %d", ids[i]);
        printf("\n");
    }
    assert_true(same);
}

#define EXPECT(t, text, ps, ...)                                                            \
    do {                                                                                    \
        const int32_t want_[] = {__VA_ARGS__};                                              \
        expect(t, text, ps, want_, sizeof want_ / sizeof want_[0]);                         \
    } while (0)

static int32_t byte_id(int b)
{
    return 3 + b; /* tf_add_base puts <0x00> at id 3 */
}

static void test_merge_order(void **state)
{
    (void)state;
    static struct tf_vocab v;
    tf_add_base(&v);
    int32_t sp = tf_add_str(&v, SP, HR_TOK_NORMAL, -10);
    int32_t a = tf_add_str(&v, "a", HR_TOK_NORMAL, -10);
    int32_t b = tf_add_str(&v, "b", HR_TOK_NORMAL, -10);
    int32_t c = tf_add_str(&v, "c", HR_TOK_NORMAL, -10);
    int32_t aa = tf_add_str(&v, "aa", HR_TOK_NORMAL, -3);
    int32_t ab = tf_add_str(&v, "ab", HR_TOK_NORMAL, -5);
    int32_t bc = tf_add_str(&v, "bc", HR_TOK_NORMAL, -1);
    int32_t spa = tf_add_str(&v, SP "a", HR_TOK_NORMAL, -8);
    struct hr_tok *t = tf_spm(&v);
    /* "▁abc": bc (-1) beats ab (-5) and ▁a (-8) */
    EXPECT(t, "abc", false, spa, bc);
    /* "▁aaa": ▁a (-8) loses to aa (-3); the two aa pairs tie and the leftmost merges */
    EXPECT(t, "aaa", false, sp, aa, a);
    EXPECT(t, "aaaa", false, sp, aa, aa);
    /* spaces are pieces too; a character outside the vocabulary falls back to its bytes */
    EXPECT(t, "ab c", false, sp, ab, sp, c);
    EXPECT(t, "b\xC3\xA9", false, sp, b, byte_id(0xC3), byte_id(0xA9));
    (void)a;
    hr_tok_free(t);

    /* Without a byte token, a byte becomes <unk>. */
    static struct tf_vocab w;
    tf_add_str(&w, "<unk>", HR_TOK_UNKNOWN, 0);
    tf_add_str(&w, "<s>", HR_TOK_CONTROL, 0);
    tf_add_str(&w, "</s>", HR_TOK_CONTROL, 0);
    int32_t wsp = tf_add_str(&w, SP, HR_TOK_NORMAL, 0);
    int32_t wx = tf_add_str(&w, "x", HR_TOK_NORMAL, 0);
    t = tf_spm(&w);
    EXPECT(t, "x\xC3\xA9x", false, wsp, wx, 0, 0, wx);
    hr_tok_free(t);
}

static void test_special_partition(void **state)
{
    (void)state;
    static struct tf_vocab v;
    tf_add_base(&v);
    int32_t sp = tf_add_str(&v, SP, HR_TOK_NORMAL, -1);
    int32_t hi = tf_add_str(&v, SP "hi", HR_TOK_NORMAL, 0);
    int32_t h = tf_add_str(&v, "h", HR_TOK_NORMAL, -2);
    int32_t i_ = tf_add_str(&v, "i", HR_TOK_NORMAL, -2);
    int32_t hi_np = tf_add_str(&v, "hi", HR_TOK_NORMAL, -1);
    int32_t ctl = tf_add_str(&v, "<|c|>", HR_TOK_CONTROL, 0);
    int32_t ctl_long = tf_add_str(&v, "<|c|>>", HR_TOK_CONTROL, 0);
    int32_t user = tf_add_str(&v, "<u>", HR_TOK_USER_DEFINED, 0);
    struct hr_tok *t = tf_spm(&v);
    (void)h;
    (void)i_;
    /* the dummy prefix goes before the first fragment and after every special token */
    EXPECT(t, "<|c|>hi<|c|>hi", true, ctl, hi, ctl, hi);
    EXPECT(t, "hi<|c|>hi", true, hi, ctl, hi);
    /* the longest special token is matched first */
    EXPECT(t, "<|c|>>hi", true, ctl_long, hi);
    /* user-defined tokens split the text even without parse_special; control ones do not */
    EXPECT(t, "hi<u>hi", false, hi, user, hi);
    int32_t ids[256];
    size_t n = 0;
    encode(t, "hi<|c|>", false, ids, 256, &n);
    for (size_t k = 0; k < n; k++)
        assert_int_not_equal(ids[k], ctl);
    /* whitespace around a special token stays text for a vocabulary not named Phi-3 */
    EXPECT(t, "<|c|> hi", true, ctl, sp, hi);
    EXPECT(t, "hi <|c|>", true, hi, sp, ctl);
    /* many special tokens in a row: each is one id, nothing is lost between them */
    static char many[5 * 5000 + 1];
    for (int k = 0; k < 5000; k++)
        memcpy(many + 5 * k, k % 2 ? "<u>hi" : "hi<u>", 5);
    static int32_t big[4 * sizeof many];
    encode(t, many, true, big, sizeof big / sizeof big[0], &n);
    size_t n_user = 0, n_hi = 0;
    for (size_t k = 0; k < n; k++) {
        n_user += big[k] == user;
        n_hi += big[k] == hi || big[k] == hi_np;
    }
    assert_int_equal(n_user, 5000);
    assert_int_equal(n_hi, 5000);
    assert_int_equal(n, 10000);
    hr_tok_free(t);
}

/* llama.cpp drops the whitespace after a special token when general.name contains "phi-3"
 * or "phi3" (any case), except after <unk>, <s> and <|endoftext|>. */
static void test_phi3_rstrip(void **state)
{
    (void)state;
    static struct tf_vocab v;
    tf_add_base(&v);
    int32_t sp = tf_add_str(&v, SP, HR_TOK_NORMAL, -1);
    int32_t hi = tf_add_str(&v, SP "hi", HR_TOK_NORMAL, 0);
    int32_t user = tf_add_str(&v, "<|user|>", HR_TOK_CONTROL, 0);
    int32_t eot = tf_add_str(&v, "<|endoftext|>", HR_TOK_CONTROL, 0);
    int32_t hi_np = tf_add_str(&v, "hi", HR_TOK_NORMAL, -1);
    int32_t nl = byte_id('\n');
    const char *names[] = {"Phi3", "microsoft/Phi-3-mini-4k-instruct", "PHI3.5", "other"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        struct hr_gguf_writer *w = tf_writer(&v, "llama", v.n, v.n);
        assert_int_equal(hr_gguf_writer_add_str(w, "general.name", names[k], strlen(names[k])),
                         0);
        struct hr_tok *t = NULL;
        assert_int_equal(tf_build(w, &t, NULL), 0);
        if (k < 3) {
            EXPECT(t, "<|user|>\n hi<|user|>", true, user, hi, user);
            EXPECT(t, "<|user|> \t\r\n", true, user);
            /* not stripped: whitespace before a token, and after the exempt ones */
            EXPECT(t, "hi <|user|>hi", true, hi, sp, user, hi);
            EXPECT(t, "<s> hi", true, 1, sp, hi);
            EXPECT(t, "<|endoftext|>\nhi", true, eot, sp, nl, hi_np);
            /* </s> is stripped too (a control token here) */
            EXPECT(t, "</s>  hi", true, 2, hi);
        } else {
            EXPECT(t, "<|user|>\n hi", true, user, sp, nl, hi);
        }
        hr_tok_free(t);
    }
}

/* Each space after a one-byte special token can cost a dummy prefix plus a space, both
 * falling back to the three bytes of U+2581: 7 ids for 2 bytes of text. The bound must hold. */
static void test_max_tokens_bound(void **state)
{
    (void)state;
    static struct tf_vocab v;
    tf_add_base(&v);
    int32_t x = tf_add_str(&v, "x", HR_TOK_USER_DEFINED, 0);
    struct hr_tok *t = tf_spm(&v);
    static char text[2000];
    for (size_t k = 0; k < sizeof text; k += 2)
        memcpy(text + k, "x ", 2);
    size_t cap = hr_tok_max_tokens(sizeof text);
    int32_t *ids = malloc(cap * sizeof *ids);
    assert_non_null(ids);
    size_t n = 0;
    assert_int_equal(hr_tok_encode(t, text, sizeof text, true, true, ids, cap, &n), 0);
    assert_int_equal(n, 1 + 7 * (sizeof text / 2));
    assert_int_equal(ids[1], x);
    assert_int_equal(ids[2], byte_id(0xE2));
    /* a cap one short is refused, not overrun */
    size_t n_full = n;
    ids[n_full - 1] = -7;
    assert_int_equal(hr_tok_encode(t, text, sizeof text, true, true, ids, n_full - 1, &n),
                     HR_ERANGE);
    assert_int_equal(n, n_full - 1);
    assert_int_equal(ids[n_full - 1], -7);
    free(ids);
    hr_tok_free(t);
}

/* A prompt of 100k+ characters, with and without special tokens: must encode (quickly: the
 * merges go through a priority queue and pieces through a hash map; ctest's timeout would
 * catch a quadratic path) and decode back to the text. Uses the phi-3 vocabulary when the
 * shared data is there, else a fixture. */
static void test_long_input(void **state)
{
    (void)state;
    char path[512];
    struct hr_tok *t = NULL;
    struct hr_gguf *g = NULL;
    if (tu_shared_path("vocab/ggml-vocab-phi-3.gguf", path, sizeof path)) {
        assert_int_equal(hr_gguf_open(&g, path, NULL), 0);
        assert_int_equal(hr_tok_new_from_gguf(&t, g, NULL), 0);
        hr_gguf_close(g);
    } else {
        static struct tf_vocab v;
        tf_add_base(&v);
        tf_add_str(&v, SP, HR_TOK_NORMAL, -1);
        tf_add_str(&v, SP "the", HR_TOK_NORMAL, -2);
        tf_add_str(&v, "th", HR_TOK_NORMAL, -3);
        t = tf_spm(&v);
    }
    static const char *parts[] = {"The quick brown fox jumps over the lazy dog. ",
                                  "Größere Übungen, très élégant; ", "人工智能正在改变世界。",
                                  "\tindented\n\n  code(); ", "emoji 🎉🚀 ok "};
    size_t cap_text = 120 * 1024, len = 0;
    char *text = malloc(cap_text + 64);
    assert_non_null(text);
    for (size_t k = 0; len < cap_text; k = (k * 3 + 1) % 5) {
        size_t n = strlen(parts[k]);
        memcpy(text + len, parts[k], n);
        len += n;
    }
    size_t cap = hr_tok_max_tokens(len);
    int32_t *ids = malloc(cap * sizeof *ids);
    char *back = malloc(len + 16);
    assert_non_null(ids);
    assert_non_null(back);
    for (int ps = 0; ps < 2; ps++) {
        size_t n = 0;
        assert_int_equal(hr_tok_encode(t, text, len, false, ps, ids, cap, &n), 0);
        assert_true(n > len / 8 && n <= len + 1);
        size_t o = 0;
        for (size_t k = 0; k < n; k++) {
            size_t b = hr_tok_token_bytes(t, ids[k], false, back + o, len + 16 - o);
            assert_true(b <= len + 16 - o);
            o += b;
        }
        assert_int_equal(o, len + 1); /* the dummy prefix space */
        assert_memory_equal(back + 1, text, len);
    }
    free(back);
    free(ids);
    free(text);
    hr_tok_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_order),      cmocka_unit_test(test_special_partition),
        cmocka_unit_test(test_phi3_rstrip),      cmocka_unit_test(test_max_tokens_bound),
        cmocka_unit_test(test_long_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
