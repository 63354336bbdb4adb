/* UTC parsing and formatting: each accepted form, the next-day bound, and refusal of
 * impossible dates, out-of-range times and trailing characters. */
#include "testutil.h"

#include <string.h>

#include "daemon/utc_time.h"
#include "engine/base/err.h"

static int64_t parse(const char *s, bool next_day)
{
    int64_t ms = -1;
    assert_int_equal(hr_utc_parse_ms(s, next_day, &ms), 0);
    return ms;
}

static void test_days(void **state)
{
    (void)state;
    assert_int_equal(parse("1970-01-01", false), 0);
    assert_int_equal(parse("2026-12-01", false), 1796083200000LL);
    assert_int_equal(parse("2026-12-01", true), 1796083200000LL + 86400000LL);
    /* next_day carries over month, year and leap-day ends */
    assert_int_equal(parse("2026-12-31", true), parse("2027-01-01", false));
    assert_int_equal(parse("2024-02-29", true), parse("2024-03-01", false));
    assert_int_equal(parse("2026-02-28", true), parse("2026-03-01", false));
}

static void test_times(void **state)
{
    (void)state;
    int64_t want = 1796083200000LL + (10 * 3600 + 5 * 60 + 7) * 1000LL;
    assert_int_equal(parse("2026-12-01T10:05:07Z", false), want);
    assert_int_equal(parse("2026-12-01T10:05:07", false), want);
    assert_int_equal(parse("2026-12-01 10:05:07Z", false), want);
    assert_int_equal(parse("2026-12-01T10:05Z", false), want - 7000);
    assert_int_equal(parse("2026-12-01 10:05", false), want - 7000);
    /* a time is an instant: next_day does not move it */
    assert_int_equal(parse("2026-12-01T10:05:07Z", true), want);
    assert_int_equal(parse("2026-12-01T23:59:59Z", false), parse("2026-12-02", false) - 1000);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "2026", "2026-12", "2026-12-1", "26-12-01", "2026/12/01", "2026-13-01",
        "2026-00-10", "2026-02-30", "2025-02-29", "1900-02-29", "2026-04-31", "2026-12-00",
        "2026-12-32", "1969-12-31", "2026-12-01x", "2026-12-01 ", "2026-12-01T",
        "2026-12-01T10", "2026-12-01T24:00", "2026-12-01T10:60", "2026-12-01T10:00:60",
        "2026-12-01T10:00:00ZZ", "2026-12-01T10:00:00+01:00", "2026-12-01T1:00",
        "+2026-12-01", " 2026-12-01", "2026-12-01T10:00:0", "2026-12-01t10:00", "abcd-ef-gh",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        int rc = hr_utc_parse_ms(bad[i], false, &ms);
        if (rc != HR_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_int_equal(ms, 42);
    }
    int64_t ms;
    assert_int_equal(hr_utc_parse_ms(NULL, false, &ms), HR_EINVAL);
    assert_int_equal(hr_utc_parse_ms("2000-02-29", false, &ms), 0); /* 400-year leap day */
}

static void test_format(void **state)
{
    (void)state;
    char iso[HR_UTC_ISO_MAX], day[HR_UTC_DAY_MAX];
    int64_t ms = parse("2026-12-01T10:00:00Z", false);
    assert_string_equal(hr_utc_format_iso(ms, iso), "2026-12-01T10:00:00Z");
    assert_string_equal(hr_utc_format_iso(ms + 999, iso), "2026-12-01T10:00:00Z");
    assert_string_equal(hr_utc_format_day(ms, day), "2026-12-01");
    assert_string_equal(hr_utc_format_iso(0, iso), "1970-01-01T00:00:00Z");
    assert_string_equal(hr_utc_format_day(parse("2024-02-29", true) - 1, day), "2024-02-29");
    /* every formatted instant parses back to itself */
    for (int64_t t = 0; t < 4102444800000LL; t += 86400000LL * 37 + 3723000) {
        hr_utc_format_iso(t, iso);
        assert_int_equal(parse(iso, false), t);
    }
    int64_t now = hr_utc_now_ms();
    assert_true(now > parse("2024-01-01", false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
