/* Usage report formats: CSV quoting of hostile group names (exact bytes), JSON that parses
 * back to the same values and totals, and the table's alignment, total line, cut names and
 * masked control characters. */
#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/usage_format.h"
#include "daemon/utc_time.h"

static char *render(int (*fn)(FILE *, const struct hr_usage_query *,
                              const struct hr_usage_group *, size_t),
                    const struct hr_usage_query *q, const struct hr_usage_group *g, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fn(f, q, g, n), 0);
    fclose(f);
    return buf;
}

static struct hr_usage_group grp(const char *name, int64_t key_id, int64_t req, int64_t pt,
                                 int64_t ct, double lat)
{
    struct hr_usage_group g;
    memset(&g, 0, sizeof g);
    snprintf(g.group, sizeof g.group, "%s", name);
    g.key_id = key_id;
    g.requests = req;
    g.errors = req / 2;
    g.prompt_tokens = pt;
    g.cached_tokens = pt / 4;
    g.completion_tokens = ct;
    g.mean_latency_ms = lat;
    g.mean_first_token_ms = lat / 2;
    g.first_ms = 1796083200000LL;
    g.last_ms = 1796083200000LL + 3600000;
    return g;
}

static void test_csv_quoting(void **state)
{
    (void)state;
    struct hr_usage_group g[4] = {
        grp("'; DROP TABLE usage; --", 1, 2, 10, 5, 12.34),
        grp("a,b \"quoted\"", 2, 1, 3, 4, 1),
        grp("line\r\nbreak", 3, 1, 0, 0, 0),
        grp("", 0, 3, 1, 1, 0),
    };
    struct hr_usage_query q = {.by = HR_USAGE_BY_KEY};
    char *csv = render(hr_usage_csv, &q, g, 4);
    const char *want =
        "group,key_id,requests,errors,prompt_tokens,cached_tokens,completion_tokens,"
        "total_tokens,mean_latency_ms,mean_first_token_ms,first,last\r\n"
        "'; DROP TABLE usage; --,1,2,1,10,2,5,15,12.3,6.2,2026-12-01T00:00:00Z,"
        "2026-12-01T01:00:00Z\r\n"
        "\"a,b \"\"quoted\"\"\",2,1,0,3,0,4,7,1.0,0.5,2026-12-01T00:00:00Z,2026-12-01T01:00:00Z\r\n"
        "\"line\r\nbreak\",3,1,0,0,0,0,0,0.0,0.0,2026-12-01T00:00:00Z,2026-12-01T01:00:00Z\r\n"
        ",0,3,1,1,0,1,2,0.0,0.0,2026-12-01T00:00:00Z,2026-12-01T01:00:00Z\r\n";
    assert_string_equal(csv, want);
    free(csv);
    q.by = HR_USAGE_BY_MODEL; /* no key_id column */
    csv = render(hr_usage_csv, &q, g, 1);
    assert_non_null(strstr(csv, "group,requests,errors,"));
    assert_null(strstr(csv, "key_id"));
    assert_non_null(strstr(csv, "\r\n'; DROP TABLE usage; --,2,1,10,"));
    free(csv);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    struct hr_usage_group g[3] = {
        grp("'; DROP TABLE usage; --", 7, 2, 10, 5, 10),
        grp("\"x\"\n\\y,\xc3\xa9", 9, 4, 100, 50, 40),
        grp("\xff\xfe not utf-8", 11, 1, 1, 1, 1),
    };
    g[1].first_ms -= 86400000; /* the earliest row of all */
    struct hr_usage_query q = {.by = HR_USAGE_BY_KEY,
                               .since_ms = 1796083200000LL,
                               .until_ms = 1796083200000LL + 86400000};
    char *text = hr_usage_json(&q, g, 3);
    assert_non_null(text);
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "usage.report");
    assert_string_equal(json_string_value(json_object_get(j, "by")), "key");
    assert_string_equal(json_string_value(json_object_get(j, "since")), "2026-12-01T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "until")), "2026-12-02T00:00:00Z");
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 3);
    json_t *d0 = json_array_get(data, 0), *d1 = json_array_get(data, 1);
    assert_string_equal(json_string_value(json_object_get(d0, "group")), g[0].group);
    assert_string_equal(json_string_value(json_object_get(d1, "group")), g[1].group);
    /* a name that is not UTF-8 is still shown, its bad bytes masked */
    assert_string_equal(json_string_value(json_object_get(json_array_get(data, 2), "group")),
                        "?? not utf-8");
    assert_int_equal(json_integer_value(json_object_get(d1, "key_id")), 9);
    assert_int_equal(json_integer_value(json_object_get(d1, "requests")), 4);
    assert_int_equal(json_integer_value(json_object_get(d1, "errors")), 2);
    assert_int_equal(json_integer_value(json_object_get(d1, "prompt_tokens")), 100);
    assert_int_equal(json_integer_value(json_object_get(d1, "cached_tokens")), 25);
    assert_int_equal(json_integer_value(json_object_get(d1, "completion_tokens")), 50);
    assert_int_equal(json_integer_value(json_object_get(d1, "total_tokens")), 150);
    assert_true(json_real_value(json_object_get(d1, "mean_latency_ms")) == 40.0);
    assert_true(json_real_value(json_object_get(d1, "mean_first_token_ms")) == 20.0);
    assert_string_equal(json_string_value(json_object_get(d1, "first")), "2026-11-30T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(d1, "last")), "2026-12-01T01:00:00Z");
    json_t *t = json_object_get(j, "total");
    assert_null(json_object_get(t, "group"));
    assert_null(json_object_get(t, "key_id"));
    assert_int_equal(json_integer_value(json_object_get(t, "requests")), 7);
    assert_int_equal(json_integer_value(json_object_get(t, "prompt_tokens")), 111);
    assert_int_equal(json_integer_value(json_object_get(t, "total_tokens")), 111 + 56);
    /* weighted by requests: (2*10 + 4*40 + 1*1) / 7 = 25.857 -> 25.9 */
    assert_true(json_real_value(json_object_get(t, "mean_latency_ms")) == 25.9);
    assert_string_equal(json_string_value(json_object_get(t, "first")), "2026-11-30T00:00:00Z");
    /* means print without binary noise */
    assert_non_null(strstr(text, "\"mean_latency_ms\":25.9,"));
    json_decref(j);
    free(text);
}

static void test_json_empty(void **state)
{
    (void)state;
    struct hr_usage_query q = {.by = HR_USAGE_BY_DAY};
    char *text = hr_usage_json(&q, NULL, 0);
    assert_non_null(text);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "since")));
    assert_true(json_is_null(json_object_get(j, "until")));
    assert_int_equal(json_array_size(json_object_get(j, "data")), 0);
    json_t *t = json_object_get(j, "total");
    assert_int_equal(json_integer_value(json_object_get(t, "requests")), 0);
    assert_true(json_is_null(json_object_get(t, "first")));
    assert_null(json_object_get(json_array_get(json_object_get(j, "data"), 0), "key_id"));
    json_decref(j);
    free(text);
}

static void test_table(void **state)
{
    (void)state;
    struct hr_usage_group g[3] = {
        grp("2026-12-01", 0, 3, 1200, 45, 120.25),
        grp("a-very-long-model-name-that-goes-on-and-on-forever", 0, 10, 5, 5, 3),
        grp("evil\x1b[31m\nname", 0, 1, 1, 1, 1),
    };
    struct hr_usage_query q = {.by = HR_USAGE_BY_MODEL};
    char *tab = render(hr_usage_table, &q, g, 3);
    /* five lines (header, three groups, total), each the same width */
    size_t lines = 0, width = 0;
    for (char *p = tab, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++) {
        size_t w = (size_t)(nl - p);
        if (lines == 0)
            width = w;
        assert_int_equal(w, width);
    }
    assert_int_equal(lines, 5);
    assert_memory_equal(tab, "model ", 6);
    assert_non_null(strstr(tab, "requests  errors  prompt  cached  completion  total  latency_ms"));
    assert_non_null(strstr(tab, "a-very-long-model-name-that-g... "));
    assert_null(strstr(tab, "forever"));
    assert_null(strchr(tab, '\x1b'));
    assert_non_null(strstr(tab, "evil?[31m?name"));
    assert_non_null(strstr(tab, "\ntotal "));
    assert_non_null(strstr(tab, "  1206  ")); /* total prompt tokens */
    assert_non_null(strstr(tab, "  120.3  ")); /* mean latency to 0.1 ms */
    free(tab);
    /* by key: a key_id column, "(no key)" for rows without one */
    struct hr_usage_group k[1] = {grp("", 0, 1, 1, 1, 1)};
    q.by = HR_USAGE_BY_KEY;
    tab = render(hr_usage_table, &q, k, 1);
    assert_memory_equal(tab, "key       key_id  requests", 26);
    assert_non_null(strstr(tab, "(no key)"));
    free(tab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_empty),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
