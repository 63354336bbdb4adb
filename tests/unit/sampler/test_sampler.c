/* Sampling: greedy picks the argmax (lowest id on ties, never NaN); a seed fixes the draws;
 * top-k 1 and a tiny top-p collapse to greedy; draws follow the softmax; temperature sharpens;
 * out-of-range parameters are refused. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "engine/engine.h"

/* The four basic parameters; the others zero (off). */
#define P(t, k, tp, sd)                                                                    \
    ((struct hr_sampler_params){.temperature = (t), .top_k = (k), .top_p = (tp), .seed = (sd)})

static void test_greedy(void **state)
{
    (void)state;
    float x[5] = {1, 3, 3, -2, 0};
    assert_int_equal(hr_argmax(x, 5), 1);
    float y[3] = {NAN, -5, -4};
    assert_int_equal(hr_argmax(y, 3), 2);
    struct hr_sampler s;
    struct hr_sampler_params p = P(0, 0, 1, 1);
    assert_int_equal(hr_sampler_init(&s, &p, 5), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(hr_sampler_sample(&s, x), 1);
    hr_sampler_deinit(&s);
}

static void test_seed_reproducible(void **state)
{
    (void)state;
    float x[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
    struct hr_sampler a, b, c;
    struct hr_sampler_params p = P(1.0f, 0, 1.0f, 1234);
    assert_int_equal(hr_sampler_init(&a, &p, 8), 0);
    assert_int_equal(hr_sampler_init(&b, &p, 8), 0);
    p.seed = 1235;
    assert_int_equal(hr_sampler_init(&c, &p, 8), 0);
    int differ = 0;
    for (int i = 0; i < 200; i++) {
        int32_t ta = hr_sampler_sample(&a, x);
        assert_int_equal(ta, hr_sampler_sample(&b, x));
        differ += ta != hr_sampler_sample(&c, x);
    }
    assert_true(differ > 50);
    hr_sampler_deinit(&a);
    hr_sampler_deinit(&b);
    hr_sampler_deinit(&c);
}

static void test_topk1_and_tiny_topp_are_greedy(void **state)
{
    (void)state;
    float x[6] = {0.5f, 2.0f, 1.9f, -1, 0, 1};
    struct hr_sampler s;
    struct hr_sampler_params p = P(5.0f, 1, 1.0f, 7);
    assert_int_equal(hr_sampler_init(&s, &p, 6), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(hr_sampler_sample(&s, x), 1);
    hr_sampler_deinit(&s);
    struct hr_sampler_params q = P(5.0f, 0, 1e-6f, 7);
    assert_int_equal(hr_sampler_init(&s, &q, 6), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(hr_sampler_sample(&s, x), 1);
    hr_sampler_deinit(&s);
}

static void freqs(const struct hr_sampler_params *p, const float *x, int n, int draws,
                  double *out)
{
    struct hr_sampler s;
    assert_int_equal(hr_sampler_init(&s, p, n), 0);
    memset(out, 0, (size_t)n * sizeof *out);
    for (int i = 0; i < draws; i++)
        out[hr_sampler_sample(&s, x)] += 1.0 / draws;
    hr_sampler_deinit(&s);
}

static void test_follows_softmax(void **state)
{
    (void)state;
    float x[4] = {0.0f, 1.0f, 2.0f, 0.5f};
    double want[4], sum = 0;
    for (int i = 0; i < 4; i++)
        sum += exp(x[i]);
    for (int i = 0; i < 4; i++)
        want[i] = exp(x[i]) / sum;
    double got[4];
    struct hr_sampler_params p = P(1.0f, 0, 1.0f, 99);
    freqs(&p, x, 4, 40000, got);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(got[i] - want[i]) < 0.01);
    /* top-k 2 keeps the two best, renormalised */
    p.top_k = 2;
    freqs(&p, x, 4, 40000, got);
    assert_true(got[0] == 0 && got[3] == 0);
    assert_true(fabs(got[2] - exp(2.0) / (exp(2.0) + exp(1.0))) < 0.01);
    /* top-p 0.7: {2} has 0.61 of the mass, {2,1} 0.83 -> both kept, nothing else */
    p.top_k = 0;
    p.top_p = 0.7f;
    freqs(&p, x, 4, 40000, got);
    assert_true(got[0] == 0 && got[3] == 0 && got[1] > 0.2);
    /* lower temperature sharpens */
    struct hr_sampler_params cold = P(0.25f, 0, 1.0f, 99);
    freqs(&cold, x, 4, 20000, got);
    assert_true(got[2] > 0.95);
}

static void test_invalid_params(void **state)
{
    (void)state;
    struct hr_sampler s;
    struct hr_sampler_params bad[] = {
        P(-0.1f, 0, 1, 0), P(NAN, 0, 1, 0), P(INFINITY, 0, 1, 0),
        P(1, -1, 1, 0),    P(1, 0, 0, 0),   P(1, 0, 1.5f, 0),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(hr_sampler_init(&s, &bad[i], 10), HR_EINVAL);
    struct hr_sampler_params ok = P(1, 0, 1, 0);
    assert_int_equal(hr_sampler_init(&s, &ok, 0), HR_EINVAL);
    assert_int_equal(hr_sampler_init(&s, &ok, 1), 0);
    float one = 3;
    assert_int_equal(hr_sampler_sample(&s, &one), 0);
    hr_sampler_deinit(&s);
}

/* logit_bias moves greedy choices and bans tokens at any temperature. */
static void test_logit_bias(void **state)
{
    (void)state;
    float x[4] = {1, 3, 2, 0};
    struct hr_logit_bias b[] = {{1, -100}, {3, 2.5f}};
    struct hr_sampler_params p = P(0, 0, 1, 1);
    p.logit_bias = b;
    p.n_logit_bias = 2;
    struct hr_sampler s;
    assert_int_equal(hr_sampler_init(&s, &p, 4), 0);
    assert_int_equal(hr_sampler_sample(&s, x), 3); /* 0 + 2.5 beats 2 */
    hr_sampler_deinit(&s);
    p.temperature = 1;
    double got[4];
    freqs(&p, x, 4, 20000, got);
    assert_true(got[1] < 1e-3);
    assert_true(x[1] == 3); /* the caller's logits are untouched */
    struct hr_logit_bias out_of_vocab = {4, 1};
    p.logit_bias = &out_of_vocab;
    p.n_logit_bias = 1;
    assert_int_equal(hr_sampler_init(&s, &p, 4), HR_EINVAL);
    struct hr_logit_bias too_big = {0, 101};
    p.logit_bias = &too_big;
    assert_int_equal(hr_sampler_init(&s, &p, 4), HR_EINVAL);
}

/* The repeat penalty sees the last repeat_last_n tokens, prompt included; each token is
 * penalised once however often it occurs; positive logits are divided, negative multiplied. */
static void test_repeat_penalty_window(void **state)
{
    (void)state;
    float x[4] = {2.0f, 1.9f, -1.0f, -1.05f};
    struct hr_sampler_params p = P(0, 0, 1, 1);
    p.repeat_penalty = 1.5f;
    p.repeat_last_n = 2;
    struct hr_sampler s;
    assert_int_equal(hr_sampler_init(&s, &p, 4), 0);
    assert_int_equal(hr_sampler_sample(&s, x), 0);
    hr_sampler_accept(&s, 0, false); /* prompt token */
    hr_sampler_accept(&s, 0, false);
    assert_int_equal(hr_sampler_sample(&s, x), 1); /* 2/1.5 < 1.9 */
    hr_sampler_accept(&s, 1, true);
    hr_sampler_accept(&s, 3, true); /* window is now {1, 3}: 0 is free again */
    assert_int_equal(hr_sampler_sample(&s, x), 0);
    hr_sampler_deinit(&s);
    /* negative logits move away from zero: with 2 and 1 banned, -1 * 1.5 < -1.05 */
    float y[4] = {-5.0f, -6.0f, -1.0f, -1.05f};
    p.repeat_last_n = 8;
    assert_int_equal(hr_sampler_init(&s, &p, 4), 0);
    hr_sampler_accept(&s, 2, false);
    assert_int_equal(hr_sampler_sample(&s, y), 3);
    hr_sampler_deinit(&s);
}

/* OpenAI's penalties: only generated tokens count (not the prompt); frequency scales with the
 * count, presence is paid once. */
static void test_frequency_presence(void **state)
{
    (void)state;
    float x[3] = {3.0f, 2.0f, 1.5f};
    struct hr_sampler_params p = P(0, 0, 1, 1);
    p.frequency_penalty = 0.4f;
    struct hr_sampler s;
    assert_int_equal(hr_sampler_init(&s, &p, 3), 0);
    for (int i = 0; i < 10; i++)
        hr_sampler_accept(&s, 0, false); /* the prompt: no effect */
    assert_int_equal(hr_sampler_sample(&s, x), 0);
    hr_sampler_accept(&s, 0, true);
    assert_int_equal(hr_sampler_sample(&s, x), 0); /* 3 - 0.4 > 2 */
    hr_sampler_accept(&s, 0, true);
    hr_sampler_accept(&s, 0, true);
    assert_int_equal(hr_sampler_sample(&s, x), 1); /* 3 - 1.2 < 2 */
    hr_sampler_deinit(&s);
    p.frequency_penalty = 0;
    p.presence_penalty = 0.6f;
    assert_int_equal(hr_sampler_init(&s, &p, 3), 0);
    for (int i = 0; i < 5; i++)
        hr_sampler_accept(&s, 1, true);
    assert_int_equal(hr_sampler_sample(&s, x), 0);
    hr_sampler_accept(&s, 0, true); /* 3 - 0.6 = 2.4 > 2 - 0.6: presence is not per count */
    assert_int_equal(hr_sampler_sample(&s, x), 0);
    hr_sampler_deinit(&s);
    /* a negative penalty encourages repetition */
    p.presence_penalty = -2;
    assert_int_equal(hr_sampler_init(&s, &p, 3), 0);
    hr_sampler_accept(&s, 2, true);
    assert_int_equal(hr_sampler_sample(&s, x), 2);
    hr_sampler_deinit(&s);
}

/* min-p keeps tokens at least min_p as likely as the best; typical-p keeps the tokens whose
 * surprise is closest to the entropy. */
static void test_min_p_and_typical(void **state)
{
    (void)state;
    float x[4] = {0.0f, 1.0f, 2.0f, 0.5f};
    double got[4];
    struct hr_sampler_params p = P(1, 0, 1, 5);
    p.min_p = 0.3f; /* relative: e^-1 = 0.37 kept, e^-1.5 = 0.22 and e^-2 dropped */
    freqs(&p, x, 4, 40000, got);
    assert_true(got[0] == 0 && got[3] == 0);
    assert_true(fabs(got[2] - exp(2.0) / (exp(2.0) + exp(1.0))) < 0.01);
    /* typical: probabilities .078 .213 .579 .129; entropy 1.110 nats; |-ln q - H|:
     * 1 -> 0.436, 2 -> 0.564, 3 -> 0.936, 0 -> 1.436. typical_p 0.2 keeps {1} alone. */
    p.min_p = 0;
    p.typical_p = 0.2f;
    freqs(&p, x, 4, 20000, got);
    assert_true(got[1] > 0.999 && got[0] == 0 && got[2] == 0 && got[3] == 0);
    p.typical_p = 0.5f; /* {1, 2} */
    freqs(&p, x, 4, 40000, got);
    assert_true(got[0] == 0 && got[3] == 0);
    assert_true(fabs(got[2] - exp(2.0) / (exp(2.0) + exp(1.0))) < 0.01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_topk1_and_tiny_topp_are_greedy),
        cmocka_unit_test(test_follows_softmax),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test(test_logit_bias),
        cmocka_unit_test(test_repeat_penalty_window),
        cmocka_unit_test(test_frequency_presence),
        cmocka_unit_test(test_min_p_and_typical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
