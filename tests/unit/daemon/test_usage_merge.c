/* Merging replicas' usage reports: groups of one name add up (counts summed, means weighted
 * by requests, the earliest first and latest last row), the others interleave in order, an
 * empty side changes nothing, and merging A then B equals merging B then A. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/usage_merge.h"

static struct hr_usage_group grp(const char *name, int64_t req, int64_t pt, double lat,
                                 int64_t first, int64_t last)
{
    struct hr_usage_group g;
    memset(&g, 0, sizeof g);
    snprintf(g.group, sizeof g.group, "%s", name);
    g.requests = req;
    g.errors = req / 3;
    g.prompt_tokens = pt;
    g.cached_tokens = pt / 4;
    g.completion_tokens = 2 * pt;
    g.mean_latency_ms = lat;
    g.mean_first_token_ms = lat / 2;
    g.first_ms = first;
    g.last_ms = last;
    return g;
}

static struct hr_usage_group *merged(const struct hr_usage_group *a, size_t na,
                                     const struct hr_usage_group *b, size_t nb, size_t *n)
{
    struct hr_usage_group *acc = NULL;
    *n = 0;
    assert_int_equal(hr_usage_merge(&acc, n, a, na), 0);
    assert_int_equal(hr_usage_merge(&acc, n, b, nb), 0);
    return acc;
}

static void test_same_names_add_up(void **state)
{
    (void)state;
    struct hr_usage_group a[] = {grp("2026-12-01", 3, 30, 100.0, 10, 20),
                                 grp("2026-12-03", 1, 5, 40.0, 50, 50)};
    struct hr_usage_group b[] = {grp("2026-12-01", 1, 10, 500.0, 5, 15),
                                 grp("2026-12-02", 2, 8, 10.0, 30, 31)};
    size_t n;
    struct hr_usage_group *g = merged(a, 2, b, 2, &n);
    assert_int_equal(n, 3);
    assert_string_equal(g[0].group, "2026-12-01");
    assert_string_equal(g[1].group, "2026-12-02");
    assert_string_equal(g[2].group, "2026-12-03");
    assert_int_equal(g[0].requests, 4);
    assert_int_equal(g[0].errors, 1);
    assert_int_equal(g[0].prompt_tokens, 40);
    assert_int_equal(g[0].cached_tokens, 7 + 2);
    assert_int_equal(g[0].completion_tokens, 80);
    assert_true(g[0].mean_latency_ms == (3 * 100.0 + 500.0) / 4);
    assert_true(g[0].mean_first_token_ms == (3 * 50.0 + 250.0) / 4);
    assert_int_equal(g[0].first_ms, 5);
    assert_int_equal(g[0].last_ms, 20);
    assert_int_equal(g[1].requests, 2);
    assert_int_equal(g[2].requests, 1);
    free(g);
}

static void test_order_does_not_matter(void **state)
{
    (void)state;
    struct hr_usage_group a[] = {grp("acme", 7, 70, 12.5, 1, 9), grp("globex", 2, 3, 1.0, 4, 4)};
    struct hr_usage_group b[] = {grp("", 1, 1, 2.0, 3, 3), grp("acme", 1, 9, 99.0, 2, 12),
                                 grp("zeta", 5, 5, 5.0, 6, 7)};
    size_t n1, n2;
    struct hr_usage_group *g1 = merged(a, 2, b, 3, &n1);
    struct hr_usage_group *g2 = merged(b, 3, a, 2, &n2);
    assert_int_equal(n1, 4);
    assert_int_equal(n2, 4);
    assert_string_equal(g1[0].group, "");
    for (size_t i = 0; i < n1; i++) {
        assert_string_equal(g1[i].group, g2[i].group);
        assert_int_equal(g1[i].requests, g2[i].requests);
        assert_int_equal(g1[i].prompt_tokens, g2[i].prompt_tokens);
        assert_true(g1[i].mean_latency_ms - g2[i].mean_latency_ms < 1e-9 &&
                    g2[i].mean_latency_ms - g1[i].mean_latency_ms < 1e-9);
        assert_int_equal(g1[i].first_ms, g2[i].first_ms);
        assert_int_equal(g1[i].last_ms, g2[i].last_ms);
    }
    free(g1);
    free(g2);
}

static void test_empty_sides(void **state)
{
    (void)state;
    struct hr_usage_group a[] = {grp("m", 2, 4, 8.0, 1, 2)};
    size_t n;
    struct hr_usage_group *g = merged(a, 1, NULL, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].requests, 2);
    assert_true(g[0].mean_latency_ms == 8.0);
    free(g);
    g = merged(NULL, 0, NULL, 0, &n);
    assert_int_equal(n, 0);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_names_add_up),
        cmocka_unit_test(test_order_does_not_matter),
        cmocka_unit_test(test_empty_sides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
