/* The engine thread on a generated tiny model: events in order ending with one DONE, greedy
 * output identical to the direct API's, interleaved requests not disturbing each other,
 * cancellation, the queue cap, a too-long prompt refused with HR_ECONTEXT, and the prefix
 * cache: reused prompt blocks give the same answers as a cold engine, also after eviction. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine_tu.h"

static char model_path[512];

static struct hr_engine *start_kv(struct waiter *w, uint32_t parallel, uint32_t max_queue,
                                  uint32_t n_ctx, bool prefix_cache, uint32_t kv_tokens)
{
    struct hr_model *m = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_model_load(&m, model_path, &d), 0);
    struct hr_engine_params p = {1, n_ctx, parallel, max_queue, HR_KV_F32, prefix_cache,
                                 kv_tokens, 0};
    struct hr_engine *e = NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->notified = 0;
    assert_int_equal(hr_engine_new(&e, m, &p, on_notify, w, &d), 0);
    return e;
}

static struct hr_engine *start_pc(struct waiter *w, uint32_t parallel, uint32_t max_queue,
                                  uint32_t n_ctx, bool prefix_cache)
{
    return start_kv(w, parallel, max_queue, n_ctx, prefix_cache, 0);
}

static struct hr_engine *start(struct waiter *w, uint32_t parallel, uint32_t max_queue,
                               uint32_t n_ctx)
{
    return start_pc(w, parallel, max_queue, n_ctx, false);
}

static struct hr_gen_request prompt_req(uint64_t id, const char *text, uint32_t max_tokens)
{
    struct hr_gen_request r = {0};
    r.id = id;
    r.prompt = text;
    r.prompt_len = strlen(text);
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0;
    r.sampling.top_p = 1;
    r.ignore_eos = true;
    return r;
}

/* Greedy continuation through the direct API, as `hearth run` computes it. */
static void direct_greedy(const char *text, uint32_t n_gen, char *out, size_t cap)
{
    struct hr_model *m = NULL;
    assert_int_equal(hr_model_load(&m, model_path, NULL), 0);
    struct hr_ctx *c = NULL;
    assert_int_equal(hr_ctx_new(&c, m, 256), 0);
    int32_t ids[256];
    size_t n = 0;
    assert_int_equal(hr_tok_encode(m->tok, text, strlen(text), true, false, ids, 256, &n), 0);
    float *logits = malloc(m->n_vocab * sizeof *logits);
    assert_int_equal(hr_ctx_eval(c, ids, (uint32_t)n, 0, logits, NULL), 0);
    struct hr_detok dt;
    hr_detok_init(&dt);
    size_t o = 0;
    for (uint32_t i = 0; i < n_gen; i++) {
        int32_t tok = hr_argmax(logits, (int32_t)m->n_vocab);
        char buf[HR_TOK_MAX_PIECE + 16];
        size_t nb = hr_detok_push(&dt, m->tok, tok, buf, sizeof buf);
        assert_true(o + nb < cap);
        memcpy(out + o, buf, nb);
        o += nb;
        assert_int_equal(hr_ctx_eval(c, &tok, 1, (uint32_t)n + i, logits, NULL), 0);
    }
    char tail[64];
    size_t nt = hr_detok_flush(&dt, tail, sizeof tail);
    memcpy(out + o, tail, nt);
    out[o + nt] = '\0';
    free(logits);
    hr_ctx_free(c);
    hr_model_free(m);
}

static void test_greedy_matches_direct_and_interleaving(void **state)
{
    (void)state;
    char want_a[8192], want_b[8192];
    direct_greedy("Hello world", 20, want_a, sizeof want_a);
    direct_greedy("The cat sat on the mat", 20, want_b, sizeof want_b);
    struct waiter w;
    struct hr_engine *e = start(&w, 4, 16, 256);
    struct result rs[2] = {{.id = 1}, {.id = 2}};
    struct hr_gen_request a = prompt_req(1, "Hello world", 20);
    struct hr_gen_request b = prompt_req(2, "The cat sat on the mat", 20);
    assert_int_equal(hr_engine_submit(e, &a, NULL), 0);
    assert_int_equal(hr_engine_submit(e, &b, NULL), 0);
    collect(e, &w, rs, 2);
    assert_int_equal(rs[0].done_ev.finish, HR_FINISH_LENGTH);
    assert_int_equal(rs[0].done_ev.n_completion, 20);
    assert_true(rs[0].done_ev.n_prompt > 0);
    assert_string_equal(rs[0].text, want_a);
    assert_string_equal(rs[1].text, want_b);
    hr_engine_free(e);
}

static void test_cancel_and_queue_cap(void **state)
{
    (void)state;
    struct waiter w;
    struct hr_engine *e = start(&w, 1, 0, 512);
    struct hr_gen_request a = prompt_req(1, "a long one", 0);
    struct hr_gen_request b = prompt_req(2, "second", 0);
    struct hr_gen_request c = prompt_req(3, "third", 0);
    assert_int_equal(hr_engine_submit(e, &a, NULL), 0);
    int rb = hr_engine_submit(e, &b, NULL);
    int rc = hr_engine_submit(e, &c, NULL);
    /* One sequence runs, nothing may wait: at least the third is refused. */
    assert_int_equal(rc, HR_EFULL);
    hr_engine_cancel(e, 1);
    struct result rs[2] = {{.id = 1}, {.id = 2}};
    if (rb == 0)
        hr_engine_cancel(e, 2);
    collect(e, &w, rs, rb == 0 ? 2 : 1);
    assert_int_equal(rs[0].done_ev.finish, HR_FINISH_CANCELED);
    hr_engine_free(e);
}

static void test_context_exceeded_and_bad_params(void **state)
{
    (void)state;
    struct waiter w;
    struct hr_engine *e = start(&w, 2, 4, 32);
    char longtext[400];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    struct hr_gen_request a = prompt_req(7, longtext, 4);
    assert_int_equal(hr_engine_submit(e, &a, NULL), 0);
    struct hr_gen_request b = prompt_req(8, "hi", 40); /* prompt fits, prompt+40 does not */
    assert_int_equal(hr_engine_submit(e, &b, NULL), 0);
    struct result rs[2] = {{.id = 7}, {.id = 8}};
    collect(e, &w, rs, 2);
    assert_int_equal(rs[0].done_ev.finish, HR_FINISH_ERROR);
    assert_int_equal(rs[0].done_ev.err, HR_ECONTEXT);
    assert_true(strstr(rs[0].done_ev.err_msg, "maximum context length is 32") != NULL);
    assert_int_equal(rs[1].done_ev.err, HR_ECONTEXT);
    assert_int_equal(rs[0].n_text, 0);

    struct hr_gen_request bad = prompt_req(9, "hi", 4);
    bad.sampling.temperature = -1;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_engine_submit(e, &bad, &d), HR_EINVAL);
    assert_true(d.msg[0] != '\0');
    struct hr_gen_request none = {0};
    assert_int_equal(hr_engine_submit(e, &none, NULL), HR_EINVAL);
    hr_engine_free(e);
}

static void test_chat_request_runs(void **state)
{
    (void)state;
    struct waiter w;
    struct hr_engine *e = start(&w, 1, 4, 256);
    struct hr_chat_msg msgs[2] = {{"system", "Be brief."}, {"user", "Hi!"}};
    struct hr_gen_request r = {0};
    r.id = 5;
    r.msgs = msgs;
    r.n_msgs = 2;
    r.max_tokens = 6;
    r.sampling.temperature = 0.7f;
    r.sampling.top_p = 0.9f;
    r.sampling.seed = 11;
    r.ignore_eos = true;
    assert_int_equal(hr_engine_submit(e, &r, NULL), 0);
    struct result rs[1] = {{.id = 5}};
    collect(e, &w, rs, 1);
    assert_int_equal(rs[0].done_ev.finish, HR_FINISH_LENGTH);
    assert_int_equal(rs[0].done_ev.n_completion, 6);
    /* system + user turns through ChatML with the generated vocab: well over 6 tokens */
    assert_true(rs[0].done_ev.n_prompt > 6);
    /* Same seed, same text. */
    char first[8192];
    memcpy(first, rs[0].text, rs[0].n_text + 1);
    r.id = 6;
    assert_int_equal(hr_engine_submit(e, &r, NULL), 0);
    struct result again[1] = {{.id = 6}};
    collect(e, &w, again, 1);
    assert_string_equal(again[0].text, first);
    hr_engine_free(e);
}

/* Runs one greedy request to its end; returns its DONE event, text in out. */
static struct hr_event run_one(struct hr_engine *e, struct waiter *w, uint64_t id,
                               const char *prompt, char *out)
{
    struct hr_gen_request r = prompt_req(id, prompt, 12);
    assert_int_equal(hr_engine_submit(e, &r, NULL), 0);
    struct result rs[1] = {{.id = id}};
    collect(e, w, rs, 1);
    assert_int_equal(rs[0].done_ev.finish, HR_FINISH_LENGTH);
    memcpy(out, rs[0].text, rs[0].n_text + 1);
    return rs[0].done_ev;
}

static void test_prefix_cache(void **state)
{
    (void)state;
    static const char shared[] = "The quick brown fox jumps over the lazy dog while the cat "
                                 "sleeps on the warm mat and the bird sings in the tall tree "
                                 "near the river bank on a sunny day";
    char p1[512], p2[512], p3[512];
    snprintf(p1, sizeof p1, "%s, and then it rains.", shared);
    snprintf(p2, sizeof p2, "%s, but nobody comes home tonight.", shared);
    snprintf(p3, sizeof p3, "Numbers: one two three four five six seven eight nine ten eleven "
                            "twelve thirteen fourteen fifteen sixteen seventeen eighteen");
    /* a cold engine's answers are the reference */
    char want1[8192], want2[8192], want3[8192], got[8192];
    struct waiter w;
    struct hr_engine *cold = start(&w, 2, 8, 256);
    struct hr_event d1 = run_one(cold, &w, 1, p1, want1);
    run_one(cold, &w, 2, p2, want2);
    run_one(cold, &w, 3, p3, want3);
    assert_int_equal(d1.n_cached, 0);
    assert_true(d1.n_prompt > 40);
    hr_engine_free(cold);

    struct hr_engine *e = start_pc(&w, 2, 8, 256, true);
    struct hr_event d = run_one(e, &w, 10, p1, got);
    assert_string_equal(got, want1);
    assert_int_equal(d.n_cached, 0);
    d = run_one(e, &w, 11, p1, got); /* all but the last token's block comes from the cache */
    assert_string_equal(got, want1);
    assert_int_equal(d.n_cached, (d1.n_prompt - 1) / 16 * 16);
    d = run_one(e, &w, 12, p2, got); /* the shared part only */
    assert_string_equal(got, want2);
    assert_true(d.n_cached >= 32 && d.n_cached < d1.n_prompt - 1);
    /* two at once with the same prompt */
    struct hr_gen_request a = prompt_req(13, p1, 12), b = prompt_req(14, p1, 12);
    assert_int_equal(hr_engine_submit(e, &a, NULL), 0);
    assert_int_equal(hr_engine_submit(e, &b, NULL), 0);
    struct result rs[2] = {{.id = 13}, {.id = 14}};
    collect(e, &w, rs, 2);
    assert_string_equal(rs[0].text, want1);
    assert_string_equal(rs[1].text, want1);
    hr_engine_free(e);

    /* A cache too small to keep everything: one slot of 128 positions (8 blocks) */
    e = start_pc(&w, 1, 8, 128, true);
    run_one(e, &w, 20, p1, got);
    assert_string_equal(got, want1);
    run_one(e, &w, 21, p3, got); /* evicts part of p1's blocks */
    assert_string_equal(got, want3);
    d = run_one(e, &w, 22, p1, got);
    assert_string_equal(got, want1);
    assert_true(d.n_cached < (d1.n_prompt - 1) / 16 * 16);
    run_one(e, &w, 23, p2, got);
    assert_string_equal(got, want2);
    hr_engine_free(e);
}

/* A deadline ends a running request within a step, and a waiting one in the queue. */
static void test_timeouts(void **state)
{
    (void)state;
    struct waiter w;
    struct hr_engine *e = start(&w, 1, 4, 512);
    struct hr_gen_request a = prompt_req(1, "Once upon a time", 0); /* to the context's end */
    a.timeout_ms = 1;
    struct hr_gen_request b = prompt_req(2, "Waiting in line", 0);
    b.timeout_ms = 1;
    struct hr_gen_request c = prompt_req(3, "No hurry", 8);
    assert_int_equal(hr_engine_submit(e, &a, NULL), 0);
    assert_int_equal(hr_engine_submit(e, &b, NULL), 0);
    assert_int_equal(hr_engine_submit(e, &c, NULL), 0);
    struct result rs[3] = {{.id = 1}, {.id = 2}, {.id = 3}};
    collect(e, &w, rs, 3);
    assert_int_equal(rs[0].done_ev.finish, HR_FINISH_ERROR);
    assert_int_equal(rs[0].done_ev.err, HR_ETIMEDOUT);
    assert_true(rs[0].done_ev.n_completion < 400);
    assert_non_null(strstr(rs[0].done_ev.err_msg, "limit of 1 ms"));
    assert_int_equal(rs[1].done_ev.err, HR_ETIMEDOUT);
    assert_int_equal(rs[2].done_ev.finish, HR_FINISH_LENGTH); /* no deadline: unaffected */
    assert_int_equal(rs[2].done_ev.n_completion, 8);
    hr_engine_free(e);
}

/* Four long generations sharing a KV cache that holds one and a half of them: sequences are
 * preempted and recomputed, and every answer is the one it gets with room to spare; with and
 * without the prefix cache, greedy and sampled. */
static void test_preemption_gives_same_answers(void **state)
{
    (void)state;
    const char *prompts[4] = {"Once upon a time there was", "The cat sat on the mat and",
                              "Numbers one two three four", "Hello world, this is a test of"};
    for (int variant = 0; variant < 2; variant++) {
        struct waiter w;
        struct result want[4], got[4];
        for (int round = 0; round < 2; round++) {
            /* 256 positions per sequence; round 1: 384 positions for all four */
            struct hr_engine *e = start_kv(&w, 4, 8, 256, variant == 1, round ? 384 : 0);
            struct result *rs = round ? got : want;
            for (uint64_t i = 0; i < 4; i++) {
                struct hr_gen_request r = prompt_req(i + 1, prompts[i], 150);
                if (i % 2) { /* half of them sampled, with their own seeds */
                    r.sampling.temperature = 0.8f;
                    r.sampling.seed = 100 + i;
                }
                assert_int_equal(hr_engine_submit(e, &r, NULL), 0);
                memset(&rs[i], 0, sizeof rs[i]);
                rs[i].id = i + 1;
            }
            collect(e, &w, rs, 4);
            hr_engine_free(e);
        }
        uint32_t preempted = 0;
        for (int i = 0; i < 4; i++) {
            assert_int_equal(got[i].done_ev.finish, HR_FINISH_LENGTH);
            assert_int_equal(got[i].done_ev.n_completion, 150);
            assert_string_equal(got[i].text, want[i].text);
            assert_int_equal(want[i].done_ev.n_preempted, 0);
            preempted += got[i].done_ev.n_preempted;
        }
        assert_true(preempted > 0);
        printf("preemption (prefix cache %s): %u preemptions, answers identical\n",
               variant ? "on" : "off", preempted);
    }
}

/* n choices: ids id..id+n-1, choice k answers as a lone request with seed + k would, and
 * choices after the first take the prompt's KV from the prefix cache. */
static void test_n_choices(void **state)
{
    (void)state;
    const char *prompt = "Once upon a time, in a land far away, there lived a curious fox who "
                         "loved to read books about the stars and the sea";
    struct waiter w;
    struct hr_engine *e = start_pc(&w, 2, 8, 256, true);
    struct result alone[3];
    for (uint64_t k = 0; k < 3; k++) {
        struct hr_gen_request r = prompt_req(100 + k, prompt, 12);
        r.sampling.temperature = 0.9f;
        r.sampling.seed = 40 + k;
        assert_int_equal(hr_engine_submit(e, &r, NULL), 0);
        memset(&alone[k], 0, sizeof alone[k]);
        alone[k].id = 100 + k;
        collect(e, &w, &alone[k], 1);
    }
    hr_engine_free(e);
    e = start_pc(&w, 2, 8, 256, true); /* a cold cache: sharing comes from choice 0 */
    struct hr_gen_request r = prompt_req(10, prompt, 12);
    r.sampling.temperature = 0.9f;
    r.sampling.seed = 40;
    r.n_choices = 3;
    assert_int_equal(hr_engine_submit(e, &r, NULL), 0);
    struct result rs[3] = {{.id = 10}, {.id = 11}, {.id = 12}};
    collect(e, &w, rs, 3);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(rs[k].done_ev.finish, HR_FINISH_LENGTH);
        assert_string_equal(rs[k].text, alone[k].text);
    }
    assert_string_not_equal(rs[0].text, rs[1].text);
    assert_int_equal(rs[0].done_ev.n_cached, 0);
    assert_true(rs[1].done_ev.n_cached >= 16 && rs[2].done_ev.n_cached >= 16);
    /* canceling every choice at once, even those still held, ends each exactly once */
    r.id = 20;
    r.max_tokens = 0;
    assert_int_equal(hr_engine_submit(e, &r, NULL), 0);
    for (uint64_t k = 0; k < 3; k++)
        hr_engine_cancel(e, 20 + k);
    struct result cs[3] = {{.id = 20}, {.id = 21}, {.id = 22}};
    collect(e, &w, cs, 3);
    for (int k = 0; k < 3; k++)
        assert_int_equal(cs[k].done_ev.finish, HR_FINISH_CANCELED);
    struct hr_gen_request bad = prompt_req(30, prompt, 4);
    bad.n_choices = HR_MAX_CHOICES + 1;
    assert_int_equal(hr_engine_submit(e, &bad, NULL), HR_EINVAL);
    hr_engine_free(e);
}

static int setup(void **state)
{
    (void)state;
    return tu_write_tiny_model("engine-tiny.gguf", 1, model_path, sizeof model_path);
}

int main(void)
{
    hr_log_set_level(HR_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_matches_direct_and_interleaving),
        cmocka_unit_test(test_cancel_and_queue_cap),
        cmocka_unit_test(test_context_exceeded_and_bad_params),
        cmocka_unit_test(test_chat_request_runs),
        cmocka_unit_test(test_prefix_cache),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_preemption_gives_same_answers),
        cmocka_unit_test(test_n_choices),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
