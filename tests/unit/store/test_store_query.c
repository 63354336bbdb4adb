/* Usage reports: grouping by UTC day, model, key (name from api_keys, "" without a key,
 * same-named keys kept apart by id) and user, the sums, means and first/last of each group,
 * the since (inclusive) and until (exclusive) bounds, an empty ledger, reading while the
 * store is open, and a missing file reported without being created. */
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/store/store.h"
#include "engine/base/err.h"

#define DAY1 1700000000000LL /* 2023-11-14 22:13:20 UTC */
#define DAY2 (DAY1 + 86400000LL)

static struct hr_usage_row row(const char *model, int64_t time_ms, int64_t key_id,
                               const char *user, int status, uint32_t latency_ms)
{
    struct hr_usage_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.request_id, sizeof r.request_id, "req_%lld", (long long)time_ms);
    r.time_ms = time_ms;
    r.key_id = key_id;
    snprintf(r.model, sizeof r.model, "%s", model);
    snprintf(r.endpoint, sizeof r.endpoint, "/v1/chat/completions");
    r.prompt_tokens = 10;
    r.cached_tokens = 4;
    r.completion_tokens = 5;
    r.first_token_ms = latency_ms / 2;
    r.latency_ms = latency_ms;
    r.http_status = status;
    snprintf(r.finish_reason, sizeof r.finish_reason, "stop");
    r.user = user ? strdup(user) : NULL;
    return r;
}

static int64_t make_key(const char *path, const char *name, uint8_t seed)
{
    struct hr_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    memset(k.hash, seed, sizeof k.hash);
    assert_int_equal(hr_store_key_create(path, &k, NULL), 0);
    return k.id;
}

static const struct hr_usage_group *find(const struct hr_usage_group *g, size_t n,
                                         const char *group, int64_t key_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].group, group) == 0 && g[i].key_id == key_id)
            return &g[i];
    fail_msg("no group '%s' (key %lld)", group, (long long)key_id);
    return NULL;
}

static char path[512];
static int64_t key_a, key_b_old, key_b;

/* Seven rows: two days, two models, keys a / b (revoked) / b (new) / none, users. */
static int setup(void **state)
{
    (void)state;
    tu_tmpfile("query.db", path, sizeof path);
    key_a = make_key(path, "a", 1);
    key_b_old = make_key(path, "b", 2);
    struct hr_key_ref ref = {key_b_old, NULL};
    assert_int_equal(hr_store_key_revoke(path, ref, NULL, NULL), 0);
    key_b = make_key(path, "b", 3);
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, path, NULL, NULL), 0);
    struct hr_usage_row rows[] = {
        row("alpha", DAY1, key_a, "alice", 200, 100),
        row("alpha", DAY1 + 1000, key_a, "bob", 400, 300),
        row("beta", DAY1 + 2000, 0, NULL, 200, 50),
        row("alpha", DAY2, key_b_old, "alice", 200, 100),
        row("beta", DAY2 + 1000, key_b, NULL, 500, 100),
        row("beta", DAY2 + 2000, key_b, "carol", 200, 100),
        row("alpha", DAY2 + 3000, 0, "alice", 200, 100),
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_int_equal(hr_store_append(s, &rows[i]), 0);
    assert_int_equal(hr_store_flush(s), 0);
    /* Queries below run while the store is open: read-only beside the writer. */
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    hr_store_close(*state);
    return 0;
}

static void run(const struct hr_usage_query *q, struct hr_usage_group **g, size_t *n)
{
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_usage_query(path, q, g, n, &d), 0);
}

static void test_by_day(void **state)
{
    (void)state;
    struct hr_usage_query q = {.by = HR_USAGE_BY_DAY};
    struct hr_usage_group *g = NULL;
    size_t n = 0;
    run(&q, &g, &n);
    assert_int_equal(n, 2);
    assert_string_equal(g[0].group, "2023-11-14");
    assert_string_equal(g[1].group, "2023-11-15");
    assert_int_equal(g[0].requests, 3);
    assert_int_equal(g[0].errors, 1);
    assert_int_equal(g[0].prompt_tokens, 30);
    assert_int_equal(g[0].cached_tokens, 12);
    assert_int_equal(g[0].completion_tokens, 15);
    assert_true(g[0].mean_latency_ms > 149.9 && g[0].mean_latency_ms < 150.1);
    assert_true(g[0].mean_first_token_ms > 74.9 && g[0].mean_first_token_ms < 75.1);
    assert_int_equal(g[0].first_ms, DAY1);
    assert_int_equal(g[0].last_ms, DAY1 + 2000);
    assert_int_equal(g[0].key_id, 0);
    assert_int_equal(g[1].requests, 4);
    assert_int_equal(g[1].errors, 1);
    free(g);
}

static void test_by_model(void **state)
{
    (void)state;
    struct hr_usage_query q = {.by = HR_USAGE_BY_MODEL};
    struct hr_usage_group *g = NULL;
    size_t n = 0;
    run(&q, &g, &n);
    assert_int_equal(n, 2);
    assert_string_equal(g[0].group, "alpha");
    assert_int_equal(g[0].requests, 4);
    assert_string_equal(g[1].group, "beta");
    assert_int_equal(g[1].requests, 3);
    assert_int_equal(g[1].first_ms, DAY1 + 2000);
    assert_int_equal(g[1].last_ms, DAY2 + 2000);
    free(g);
}

static void test_by_key(void **state)
{
    (void)state;
    struct hr_usage_query q = {.by = HR_USAGE_BY_KEY};
    struct hr_usage_group *g = NULL;
    size_t n = 0;
    run(&q, &g, &n);
    assert_int_equal(n, 4);
    /* ordered by name: "" (no key), "a", then the two keys named "b" by id */
    assert_string_equal(g[0].group, "");
    assert_int_equal(g[0].key_id, 0);
    assert_int_equal(g[0].requests, 2);
    assert_string_equal(g[1].group, "a");
    assert_int_equal(g[1].key_id, key_a);
    assert_int_equal(g[1].requests, 2);
    assert_int_equal(g[1].errors, 1);
    assert_string_equal(g[2].group, "b");
    assert_int_equal(g[2].key_id, key_b_old);
    assert_int_equal(g[2].requests, 1);
    assert_string_equal(g[3].group, "b");
    assert_int_equal(g[3].key_id, key_b);
    assert_int_equal(g[3].requests, 2);
    free(g);
}

static void test_by_user(void **state)
{
    (void)state;
    struct hr_usage_query q = {.by = HR_USAGE_BY_USER};
    struct hr_usage_group *g = NULL;
    size_t n = 0;
    run(&q, &g, &n);
    assert_int_equal(n, 4);
    assert_string_equal(g[0].group, "");
    assert_int_equal(g[0].requests, 2);
    assert_string_equal(g[1].group, "alice");
    assert_int_equal(g[1].requests, 3);
    assert_int_equal(find(g, n, "bob", 0)->errors, 1);
    assert_int_equal(find(g, n, "carol", 0)->requests, 1);
    assert_string_equal(g[3].group, "carol");
    free(g);
}

static void test_bounds(void **state)
{
    (void)state;
    /* since is inclusive, until exclusive */
    struct hr_usage_query q = {.since_ms = DAY1 + 1000, .until_ms = DAY2 + 1000,
                               .by = HR_USAGE_BY_MODEL};
    struct hr_usage_group *g = NULL;
    size_t n = 0;
    run(&q, &g, &n);
    assert_int_equal(n, 2);
    assert_int_equal(find(g, n, "alpha", 0)->requests, 2); /* DAY1+1000, DAY2 */
    assert_int_equal(find(g, n, "alpha", 0)->first_ms, DAY1 + 1000);
    assert_int_equal(find(g, n, "beta", 0)->requests, 1);  /* DAY1+2000 only */
    free(g);
    q = (struct hr_usage_query){.since_ms = DAY2 + 3000, .by = HR_USAGE_BY_DAY};
    run(&q, &g, &n);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].requests, 1);
    free(g);
    q = (struct hr_usage_query){.until_ms = DAY1, .by = HR_USAGE_BY_DAY};
    run(&q, &g, &n);
    assert_int_equal(n, 0);
    free(g);
    q = (struct hr_usage_query){.since_ms = DAY2 + 4000, .by = HR_USAGE_BY_KEY};
    run(&q, &g, &n);
    assert_int_equal(n, 0);
    free(g);
}

static void test_empty_and_missing(void **state)
{
    (void)state;
    char other[512];
    tu_tmpfile("empty.db", other, sizeof other);
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, other, NULL, NULL), 0);
    hr_store_close(s);
    struct hr_usage_query q = {.by = HR_USAGE_BY_USER};
    struct hr_usage_group *g = NULL;
    size_t n = 5;
    assert_int_equal(hr_store_usage_query(other, &q, &g, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(g);
    tu_tmpfile("missing.db", other, sizeof other);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_usage_query(other, &q, &g, &n, &d), HR_ENOTFOUND);
    assert_non_null(strstr(d.msg, other));
    struct stat st;
    assert_int_not_equal(stat(other, &st), 0); /* not created */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_day),   cmocka_unit_test(test_by_model),
        cmocka_unit_test(test_by_key),   cmocka_unit_test(test_by_user),
        cmocka_unit_test(test_bounds),   cmocka_unit_test(test_empty_and_missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
