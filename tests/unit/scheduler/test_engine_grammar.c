/* The engine thread with grammars on a generated tiny model (noise without them): the output
 * is a sentence of the grammar and ends with HR_FINISH_STOP as soon as the grammar completes;
 * max_tokens still ends it with HR_FINISH_LENGTH; an unconstrained request running beside a
 * constrained one is unchanged; the request holds its own reference on the grammar; and a
 * grammar too ambiguous to run ends its request with an error naming why. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine_tu.h"

static char model_path[512];

static struct hr_engine *start(struct waiter *w, uint32_t parallel)
{
    struct hr_model *m = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_model_load(&m, model_path, &d), 0);
    struct hr_engine_params p = {1, 256, parallel, 8, HR_KV_F32, false, 0, 0};
    struct hr_engine *e = NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->notified = 0;
    assert_int_equal(hr_engine_new(&e, m, &p, on_notify, w, &d), 0);
    return e;
}

static struct hr_gen_request req(uint64_t id, uint32_t max_tokens, float temperature,
                                 uint64_t seed)
{
    struct hr_gen_request r = {0};
    r.id = id;
    r.prompt = "Answer:";
    r.prompt_len = 7;
    r.max_tokens = max_tokens;
    r.sampling.temperature = temperature;
    r.sampling.top_p = 1;
    r.sampling.seed = seed;
    return r;
}

static struct hr_grammar *gbnf(const char *src)
{
    struct hr_grammar *g = NULL;
    struct hr_diag d = {{0}};
    if (hr_grammar_parse(&g, src, strlen(src), &d))
        fail_msg("%s", d.msg);
    return g;
}

static void test_sentences_and_stop(void **state)
{
    (void)state;
    struct waiter w;
    struct hr_engine *e = start(&w, 2);
    /* the unconstrained answer alone, then beside constrained ones */
    struct hr_gen_request plain = req(1, 12, 0, 0);
    plain.ignore_eos = true;
    struct result alone[1] = {{.id = 1}};
    assert_int_equal(hr_engine_submit(e, &plain, NULL), 0);
    collect(e, &w, alone, 1);
    struct hr_grammar *g = gbnf("root ::= (\"yes\" | \"no\") \" \" [0-9]{1,2} \".\"\n");
    for (uint64_t seed = 1; seed <= 6; seed++) {
        struct hr_gen_request c = req(10 + seed, 40, 1.0f, seed);
        c.grammar = g;
        c.ignore_eos = true; /* the grammar's end stops it all the same */
        plain.id = 100 + seed;
        struct result rs[2] = {{.id = 10 + seed}, {.id = 100 + seed}};
        assert_int_equal(hr_engine_submit(e, &c, NULL), 0);
        assert_int_equal(hr_engine_submit(e, &plain, NULL), 0);
        collect(e, &w, rs, 2);
        assert_int_equal(rs[0].done_ev.finish, HR_FINISH_STOP);
        bool yes = strncmp(rs[0].text, "yes ", 4) == 0, no = strncmp(rs[0].text, "no ", 3) == 0;
        assert_true(yes || no);
        size_t k = yes ? 4 : 3, digits = 0;
        while (rs[0].text[k] >= '0' && rs[0].text[k] <= '9') {
            k++;
            digits++;
        }
        assert_true(digits >= 1 && digits <= 2);
        assert_string_equal(rs[0].text + k, ".");
        assert_string_equal(rs[1].text, alone[0].text);
        assert_int_equal(rs[1].done_ev.finish, HR_FINISH_LENGTH);
    }
    /* greedy too; and the request keeps its own reference after the caller drops its */
    struct hr_gen_request c = req(50, 40, 0, 0);
    c.grammar = g;
    assert_int_equal(hr_engine_submit(e, &c, NULL), 0);
    hr_grammar_unref(g);
    struct result one[1] = {{.id = 50}};
    collect(e, &w, one, 1);
    assert_int_equal(one[0].done_ev.finish, HR_FINISH_STOP);
    assert_true(one[0].n_text >= 4 && one[0].text[one[0].n_text - 1] == '.');
    hr_engine_free(e);
}

static void test_length_and_errors(void **state)
{
    (void)state;
    struct waiter w;
    struct hr_engine *e = start(&w, 1);
    struct hr_grammar *g = gbnf("root ::= \"ab\"{60}\n");
    struct hr_gen_request c = req(1, 5, 0.8f, 3);
    c.grammar = g;
    struct result rs[1] = {{.id = 1}};
    assert_int_equal(hr_engine_submit(e, &c, NULL), 0);
    collect(e, &w, rs, 1);
    assert_int_equal(rs[0].done_ev.finish, HR_FINISH_LENGTH);
    assert_int_equal(rs[0].done_ev.n_completion, 5);
    for (size_t i = 0; i < rs[0].n_text; i++)
        assert_int_equal(rs[0].text[i], "ab"[i % 2]);
    hr_grammar_unref(g);
    /* 1,100 alternatives that all start alike: more parallel parses than allowed */
    size_t cap = 1u << 16, n = 0;
    char *src = malloc(cap);
    n += (size_t)snprintf(src + n, cap - n, "root ::= r0");
    for (int i = 1; i < 1100; i++)
        n += (size_t)snprintf(src + n, cap - n, " | r%d", i);
    n += (size_t)snprintf(src + n, cap - n, "\n");
    for (int i = 0; i < 1100; i++)
        n += (size_t)snprintf(src + n, cap - n, "r%d ::= \"a\" \"%d\"\n", i, i);
    g = gbnf(src);
    free(src);
    c = req(2, 5, 0, 0);
    c.grammar = g;
    struct result bad[1] = {{.id = 2}};
    assert_int_equal(hr_engine_submit(e, &c, NULL), 0);
    collect(e, &w, bad, 1);
    assert_int_equal(bad[0].done_ev.finish, HR_FINISH_ERROR);
    assert_int_equal(bad[0].done_ev.err, HR_ERANGE);
    assert_non_null(strstr(bad[0].done_ev.err_msg, "too ambiguous"));
    hr_grammar_unref(g);
    hr_engine_free(e);
}

static int setup(void **state)
{
    (void)state;
    return tu_write_tiny_model("engine-grammar-tiny.gguf", 2, model_path, sizeof model_path);
}

int main(void)
{
    hr_log_set_level(HR_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentences_and_stop),
        cmocka_unit_test(test_length_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
