/* Sampling: greedy picks the argmax (lowest id on ties, never NaN); a seed fixes the draws;
 * top-k 1 and a tiny top-p collapse to greedy; draws follow the softmax; temperature sharpens;
 * out-of-range parameters are refused. */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "engine/engine.h"

static void test_greedy(void **state)
{
    (void)state;
    float x[5] = {1, 3, 3, -2, 0};
    assert_int_equal(hr_argmax(x, 5), 1);
    float y[3] = {NAN, -5, -4};
    assert_int_equal(hr_argmax(y, 3), 2);
    struct hr_sampler s;
    struct hr_sampler_params p = {0, 0, 1, 1};
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
    struct hr_sampler_params p = {1.0f, 0, 1.0f, 1234};
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
    struct hr_sampler_params p = {5.0f, 1, 1.0f, 7};
    assert_int_equal(hr_sampler_init(&s, &p, 6), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(hr_sampler_sample(&s, x), 1);
    hr_sampler_deinit(&s);
    struct hr_sampler_params q = {5.0f, 0, 1e-6f, 7};
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
    struct hr_sampler_params p = {1.0f, 0, 1.0f, 99};
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
    struct hr_sampler_params cold = {0.25f, 0, 1.0f, 99};
    freqs(&cold, x, 4, 20000, got);
    assert_true(got[2] > 0.95);
}

static void test_invalid_params(void **state)
{
    (void)state;
    struct hr_sampler s;
    struct hr_sampler_params bad[] = {
        {-0.1f, 0, 1, 0}, {NAN, 0, 1, 0}, {INFINITY, 0, 1, 0},
        {1, -1, 1, 0},    {1, 0, 0, 0},   {1, 0, 1.5f, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(hr_sampler_init(&s, &bad[i], 10), HR_EINVAL);
    struct hr_sampler_params ok = {1, 0, 1, 0};
    assert_int_equal(hr_sampler_init(&s, &ok, 0), HR_EINVAL);
    assert_int_equal(hr_sampler_init(&s, &ok, 1), 0);
    float one = 3;
    assert_int_equal(hr_sampler_sample(&s, &one), 0);
    hr_sampler_deinit(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_topk1_and_tiny_topp_are_greedy),
        cmocka_unit_test(test_follows_softmax),
        cmocka_unit_test(test_invalid_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
