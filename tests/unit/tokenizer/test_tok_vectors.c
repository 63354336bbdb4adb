/* Tokenizer conformance: llama.cpp's test-tokenizer-0 vectors (.inp/.out beside each
 * vocabulary in ../shared) must match id for id for every supported vocabulary; detokenizing
 * gives the text back; the stories260K prompt ids; special-token parsing only when asked.
 * Prints one line per vocabulary. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define SEP "\n__ggml_vocab_test__\n"

static struct hr_tok *load_tok(const char *rel, struct hr_gguf **g_out)
{
    char path[512];
    if (!tu_shared_path(rel, path, sizeof path))
        return NULL;
    struct hr_gguf *g = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_gguf_open(&g, path, &d), 0);
    struct hr_tok *t = NULL;
    int rc = hr_tok_new_from_gguf(&t, g, &d);
    if (rc)
        fail_msg("%s: %s", rel, d.msg);
    if (g_out)
        *g_out = g;
    else
        hr_gguf_close(g);
    return t;
}

/* Runs every case of NAME.inp/.out; returns failures (round trips count only where the
 * tokenizer is lossless: WordPiece lowercases and drops accents and spacing). */
static int run_vectors(const char *gguf_rel, const char *label, bool lossless)
{
    char path[512], inp_rel[512], out_rel[512];
    snprintf(inp_rel, sizeof inp_rel, "%s.inp", gguf_rel);
    snprintf(out_rel, sizeof out_rel, "%s.out", gguf_rel);
    struct hr_tok *t = load_tok(gguf_rel, NULL);
    if (!t || !tu_shared_path(inp_rel, path, sizeof path)) {
        printf("tokenizer %s: skipped (../shared data absent)\n", label);
        hr_tok_free(t);
        return -1;
    }
    char *inp = tu_read_file(path, NULL);
    tu_shared_path(out_rel, path, sizeof path);
    char *outs = tu_read_file(path, NULL);
    assert_non_null(inp);
    assert_non_null(outs);
    int n_cases = 0, n_pass = 0, n_roundtrip = 0;
    char *cur = inp, *line = outs;
    for (char *sep; (sep = strstr(cur, SEP)); cur = sep + strlen(SEP)) {
        size_t len = (size_t)(sep - cur);
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        int32_t want[4096];
        size_t n_want = 0;
        for (char *p = line, *end; *p; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            want[n_want++] = (int32_t)v;
        }
        line = eol ? eol + 1 : line + strlen(line);
        int32_t got[4096];
        size_t n_got = 0;
        assert_int_equal(hr_tok_encode(t, cur, len, false, false, got, 4096, &n_got), 0);
        n_cases++;
        bool same = n_got == n_want && memcmp(got, want, n_got * sizeof *got) == 0;
        n_pass += same;
        if (!same) {
            printf("  %s case %d mismatch: '%.*s'\n    want:", label, n_cases, (int)len, cur);
            for (size_t i = 0; i < n_want; i++)
                printf(" %d", want[i]);
            printf("\n    got: ");
            for (size_t i = 0; i < n_got; i++)
                printf(" %d", got[i]);
            printf("\n");
        }
        /* Round trip: the decoded text is the input, after the dummy prefix space that
         * SentencePiece vocabularies add. */
        char dec[16384];
        size_t o = 0;
        for (size_t i = 0; i < n_got; i++)
            o += hr_tok_token_bytes(t, got[i], false, dec + o, sizeof dec - o);
        const char *d0 = dec;
        if (!(o == len && memcmp(dec, cur, len) == 0) && o && dec[0] == ' ') {
            d0++;
            o--;
        }
        n_roundtrip += o == len && memcmp(d0, cur, len) == 0;
    }
    printf("tokenizer %s: %d/%d passed, %d/%d round-trip\n", label, n_pass, n_cases,
           n_roundtrip, n_cases);
    free(inp);
    free(outs);
    hr_tok_free(t);
    return n_cases - n_pass + (lossless ? n_cases - n_roundtrip : 0);
}

/* Every vocabulary README lists as supported; each must pass all cases. */
static const struct {
    const char *file, *label;
    bool lossless;
} supported[] = {
    {"models/stories260K.gguf", "stories260K", true},
    {"vocab/ggml-vocab-llama-spm.gguf", "llama-spm", true},
    {"vocab/ggml-vocab-phi-3.gguf", "phi-3", true},
    {"vocab/ggml-vocab-gpt-2.gguf", "gpt-2", true},
    {"vocab/ggml-vocab-starcoder.gguf", "starcoder", true},
    {"vocab/ggml-vocab-refact.gguf", "refact", true},
    {"vocab/ggml-vocab-mpt.gguf", "mpt", true},
    {"vocab/ggml-vocab-falcon.gguf", "falcon", true},
    {"vocab/ggml-vocab-deepseek-coder.gguf", "deepseek-coder", true},
    {"vocab/ggml-vocab-deepseek-llm.gguf", "deepseek-llm", true},
    {"vocab/ggml-vocab-bert-bge.gguf", "bert-bge", false},
};

static void test_vectors(void **state)
{
    (void)state;
    int ran = 0, failures = 0;
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++) {
        int f = run_vectors(supported[i].file, supported[i].label, supported[i].lossless);
        if (f < 0)
            continue;
        ran++;
        failures += f;
    }
    if (!ran)
        skip();
    assert_int_equal(failures, 0);
}

static void test_stories_prompt_and_specials(void **state)
{
    (void)state;
    struct hr_tok *t = load_tok("models/stories260K.gguf", NULL);
    if (!t)
        skip();
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(hr_tok_encode(t, "Once upon a time", 16, true, false, ids, 64, &n), 0);
    int32_t want[] = {1, 403, 407, 261, 378};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    /* cap too small is an error, not an overflow */
    assert_int_equal(hr_tok_encode(t, "Once upon a time", 16, true, false, ids, 3, &n),
                     HR_ERANGE);
    /* "<s>" is text unless parse_special */
    assert_int_equal(hr_tok_encode(t, "<s>", 3, false, false, ids, 64, &n), 0);
    assert_true(n > 1);
    assert_int_equal(hr_tok_encode(t, "<s>", 3, false, true, ids, 64, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    assert_true(hr_tok_is_eog(t, 2));
    assert_false(hr_tok_is_eog(t, 403));
    hr_tok_free(t);
}

static void test_phi3_special_parsing(void **state)
{
    (void)state;
    struct hr_tok *t = load_tok("vocab/ggml-vocab-phi-3.gguf", NULL);
    if (!t)
        skip();
    int32_t user = hr_tok_find(t, "<|user|>", 8), end = hr_tok_find(t, "<|end|>", 7);
    assert_true(user >= 0 && end >= 0);
    const char *text = "<|user|>\nHi<|end|>";
    int32_t ids[64];
    size_t n = 0;
    assert_int_equal(hr_tok_encode(t, text, strlen(text), false, true, ids, 64, &n), 0);
    assert_int_equal(ids[0], user);
    assert_int_equal(ids[n - 1], end);
    assert_true(hr_tok_is_eog(t, end));
    assert_int_equal(hr_tok_encode(t, text, strlen(text), false, false, ids, 64, &n), 0);
    for (size_t i = 0; i < n; i++)
        assert_true(ids[i] != user && ids[i] != end);
    /* A rendered Phi-3 turn as llama.cpp tokenizes it: for a model named Phi-3 the whitespace
     * after each special token is dropped, so "SYS" takes the dummy prefix ("▁S" "YS") and
     * the newlines after <|user|>, <|end|> and <|assistant|> vanish. */
    const char *turn = "<|user|>\nSYS\nHI<|end|>\n<|assistant|>\n";
    const int32_t want[] = {1, 32010, 317, 21554, 13, 17628, 32007, 32001};
    assert_int_equal(hr_tok_encode(t, turn, strlen(turn), true, true, ids, 64, &n), 0);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    assert_memory_equal(ids, want, sizeof want);
    hr_tok_free(t);
}

static void test_streaming_detok(void **state)
{
    (void)state;
    struct hr_tok *t = load_tok("models/stories260K.gguf", NULL);
    if (!t)
        skip();
    /* An emoji spelled as 4 byte tokens: nothing until the last one. */
    const uint8_t emoji[4] = {0xF0, 0x9F, 0x98, 0x80};
    struct hr_detok s;
    hr_detok_init(&s);
    char out[HR_TOK_MAX_PIECE + 16];
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", emoji[i]);
        assert_int_equal(hr_detok_push(&s, t, hr_tok_find(t, name, 6), out, sizeof out), 0);
    }
    assert_int_equal(hr_detok_push(&s, t, hr_tok_find(t, "<0x80>", 6), out, sizeof out), 4);
    assert_memory_equal(out, emoji, 4);
    /* A stray continuation byte becomes U+FFFD at once; a dangling lead at flush. */
    assert_int_equal(hr_detok_push(&s, t, hr_tok_find(t, "<0x80>", 6), out, sizeof out), 3);
    assert_memory_equal(out, "\xEF\xBF\xBD", 3);
    assert_int_equal(hr_detok_push(&s, t, hr_tok_find(t, "<0xE2>", 6), out, sizeof out), 0);
    /* A lead followed by a non-continuation: replacement, then the next char. */
    size_t n = hr_detok_push(&s, t, hr_tok_find(t, "<0x41>", 6), out, sizeof out);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\xEF\xBF\xBD" "A", 4);
    assert_int_equal(hr_detok_push(&s, t, hr_tok_find(t, "<0xC3>", 6), out, sizeof out), 0);
    assert_int_equal(hr_detok_flush(&s, out, sizeof out), 3);
    assert_int_equal(hr_detok_flush(&s, out, sizeof out), 0);
    hr_tok_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_stories_prompt_and_specials),
        cmocka_unit_test(test_phi3_special_parsing),
        cmocka_unit_test(test_streaming_detok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
