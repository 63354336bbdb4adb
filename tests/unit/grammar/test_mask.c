/* Token masks on a real vocabulary (gpt-2, 50k tokens, from ../shared): along random walks
 * through a grammar (each step picks a random allowed token, as sampling would), the mask
 * allows a token exactly when the automaton accepts its bytes — checked for every token by
 * stepping the DFA byte by byte, and for a sample by a fresh state fed the whole output —
 * end-of-generation exactly when accepting, control tokens never; and masks applied to
 * logits. Skips without the shared vocabulary. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/grammar/grammar.h"
#include "engine/grammar/grammar_int.h"

static struct hr_gguf *gg;
static struct hr_tok *tok;
static struct hr_grammar_vocab *voc;

static int setup(void **state)
{
    (void)state;
    char path[512];
    if (!tu_shared_path("vocab/ggml-vocab-gpt-2.gguf", path, sizeof path))
        return 0;
    struct hr_diag d = {{0}};
    if (hr_gguf_open(&gg, path, &d) || hr_tok_new_from_gguf(&tok, gg, &d) ||
        hr_grammar_vocab_new(&voc, tok))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hr_grammar_vocab_free(voc);
    hr_tok_free(tok);
    hr_gguf_close(gg);
    return 0;
}

static uint64_t rs = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(uint32_t n)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs % n);
}

static bool bit(const uint64_t *b, int32_t t)
{
    return (b[t >> 6] >> (t & 63)) & 1;
}

/* The DFA, byte by byte from the current state, without the trie. */
static bool brute_allows(struct hr_grammar_state *s, const char *bytes, size_t n)
{
    int32_t st = s->cur;
    for (size_t i = 0; i < n && st >= 0; i++)
        st = hr_grammar__step(s, st, (uint8_t)bytes[i]);
    return st >= 0;
}

static void walk(struct hr_grammar *g, int steps, int *n_checked)
{
    struct hr_grammar_state *s = NULL;
    assert_int_equal(hr_grammar_state_new(&s, g, voc), 0);
    int32_t nv = hr_tok_n_vocab(tok);
    char *out = malloc(1 << 16);
    size_t n_out = 0;
    char buf[4096];
    int32_t *allowed = malloc((size_t)nv * sizeof *allowed);
    for (int step = 0; step < steps; step++) {
        const uint64_t *bits = NULL;
        assert_int_equal(hr_grammar_mask(s, &bits), 0);
        uint32_t n_allowed = 0;
        for (int32_t t = 0; t < nv; t++) {
            size_t k = hr_tok_token_bytes(tok, t, false, buf, sizeof buf);
            bool want;
            if (hr_tok_is_eog(tok, t))
                want = hr_grammar_is_accepting(s);
            else
                want = k > 0 && brute_allows(s, buf, k);
            if (want != bit(bits, t))
                fprintf(stderr, "step %d token %d '%.*s': mask %d, automaton %d\n", step, t,
                        (int)k, buf, bit(bits, t), want);
            assert_int_equal(want, bit(bits, t));
            if (want)
                allowed[n_allowed++] = t;
        }
        *n_checked += nv;
        /* a sample against a fresh automaton fed the whole output plus the token */
        for (int k = 0; k < 20; k++) {
            int32_t t = (int32_t)rnd((uint32_t)nv);
            if (hr_tok_is_eog(tok, t))
                continue;
            size_t nb = hr_tok_token_bytes(tok, t, false, buf, sizeof buf);
            struct hr_grammar_state *f = NULL;
            assert_int_equal(hr_grammar_state_new(&f, g, NULL), 0);
            bool ok = nb > 0 && hr_grammar_accept_bytes(f, out, n_out) == 0 &&
                      hr_grammar_accept_bytes(f, buf, nb) == 0;
            assert_int_equal(ok, bit(bits, t));
            hr_grammar_state_free(f);
        }
        assert_true(n_allowed > 0);
        if (hr_grammar_is_complete(s)) {
            /* only end-of-generation remains */
            for (uint32_t i = 0; i < n_allowed; i++)
                assert_true(hr_tok_is_eog(tok, allowed[i]));
            break;
        }
        /* prefer structure now and then, so walks reach deep and finishing states */
        int32_t t = allowed[rnd(n_allowed)];
        if (hr_tok_is_eog(tok, t))
            break;
        size_t nb = hr_tok_token_bytes(tok, t, false, buf, sizeof buf);
        assert_int_equal(hr_grammar_accept_token(s, t), 0);
        memcpy(out + n_out, buf, nb);
        n_out += nb;
    }
    /* apply_mask on logits agrees with the bitmap */
    float *logits = malloc((size_t)nv * sizeof *logits);
    for (int32_t t = 0; t < nv; t++)
        logits[t] = 1.0f;
    const uint64_t *bits = NULL;
    assert_int_equal(hr_grammar_mask(s, &bits), 0);
    assert_int_equal(hr_grammar_apply_mask(s, logits), 0);
    for (int32_t t = 0; t < nv; t++)
        assert_int_equal(bit(bits, t), logits[t] == 1.0f);
    free(logits);
    free(allowed);
    free(out);
    hr_grammar_state_free(s);
}

static void test_mask_json_object(void **state)
{
    (void)state;
    if (!voc) {
        fprintf(stderr, "skipped: ../shared/vocab/ggml-vocab-gpt-2.gguf not found\n");
        skip();
    }
    struct hr_grammar *g = NULL;
    assert_int_equal(hr_grammar_json_object(&g, NULL), 0);
    int checked = 0;
    for (int w = 0; w < 6; w++)
        walk(g, 25, &checked);
    fprintf(stderr, "json_object: %d token checks\n", checked);
    hr_grammar_unref(g);
}

static void test_mask_schema(void **state)
{
    (void)state;
    if (!voc)
        skip();
    const char *schema =
        "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":8},"
        "\"n\":{\"type\":\"integer\"},\"ok\":{\"type\":\"boolean\"},\"kind\":{\"enum\":"
        "[\"alpha\",\"beta\"]},\"xs\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},"
        "\"maxItems\":3}},\"required\":[\"name\",\"n\",\"ok\",\"kind\",\"xs\"],"
        "\"additionalProperties\":false}";
    struct hr_grammar *g = NULL;
    assert_int_equal(hr_grammar_from_schema(&g, schema, strlen(schema), true, NULL), 0);
    int checked = 0;
    for (int w = 0; w < 6; w++)
        walk(g, 40, &checked);
    fprintf(stderr, "schema: %d token checks\n", checked);
    hr_grammar_unref(g);
}

/* Control tokens (no bytes) are never allowed; a grammar that is complete allows only EOG. */
static void test_eog_and_control(void **state)
{
    (void)state;
    const char *pieces[] = {"a", "", "ab", "b", "", "abc"};
    uint32_t lens[] = {1, 0, 2, 1, 0, 3};
    bool eog[] = {false, false, false, false, true, false};
    struct hr_grammar_vocab *v = NULL;
    assert_int_equal(hr_grammar_vocab_new_raw(&v, 6, pieces, lens, eog), 0);
    struct hr_grammar *g = NULL;
    const char *src = "root ::= \"a\" \"b\"?\n";
    assert_int_equal(hr_grammar_parse(&g, src, strlen(src), NULL), 0);
    struct hr_grammar_state *s = NULL;
    assert_int_equal(hr_grammar_state_new(&s, g, v), 0);
    float l[6] = {0, 0, 0, 0, 0, 0};
    assert_int_equal(hr_grammar_apply_mask(s, l), 0);
    assert_true(l[0] == 0 && l[2] == 0);
    assert_true(isinf(l[1]) && isinf(l[3]) && isinf(l[4]) && isinf(l[5]));
    assert_int_equal(hr_grammar_accept_token(s, 4), HR_EINVAL); /* EOG too early */
    assert_int_equal(hr_grammar_accept_token(s, 1), HR_EINVAL); /* control */
    assert_int_equal(hr_grammar_accept_token(s, 0), 0);
    assert_true(hr_grammar_is_accepting(s));
    assert_false(hr_grammar_is_complete(s));
    float m[6] = {0, 0, 0, 0, 0, 0};
    assert_int_equal(hr_grammar_apply_mask(s, m), 0);
    assert_true(m[3] == 0 && m[4] == 0);
    assert_true(isinf(m[0]) && isinf(m[1]) && isinf(m[2]) && isinf(m[5]));
    assert_int_equal(hr_grammar_accept_token(s, 3), 0);
    assert_true(hr_grammar_is_complete(s));
    float k[6] = {0, 0, 0, 0, 0, 0};
    assert_int_equal(hr_grammar_apply_mask(s, k), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(i == 4, k[i] == 0);
    hr_grammar_state_free(s);
    hr_grammar_unref(g);
    hr_grammar_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_json_object),
        cmocka_unit_test(test_mask_schema),
        cmocka_unit_test(test_eog_and_control),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
