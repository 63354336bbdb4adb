/* Per-key limits on a stepped clock: the request bucket's burst, refill and Retry-After; token
 * reservations, settlement (refund and debt), requests too large for the bucket; daily and
 * monthly quotas and their UTC roll-over; reconfiguration; the x-ratelimit reset text. */
#include "testutil.h"

#include <string.h>

#include "daemon/key_limits.h"

#define DAY_MS 86400000LL
/* 2026-12-01T12:00:00Z */
#define NOON_MS 1796126400000LL

static void test_request_bucket(void **state)
{
    (void)state;
    struct hr_limit_cfg c = {3, 0, 0, 0};
    struct hr_limit l;
    struct hr_limit_verdict v;
    hr_limit_init(&l, &c, 0, NOON_MS, 0, 0);
    for (int i = 0; i < 3; i++)
        assert_true(hr_limit_admit(&l, &c, 0, NOON_MS, &v));
    assert_int_equal(hr_limit_remaining_requests(&l, &c, 0), 0);
    assert_false(hr_limit_admit(&l, &c, 0, NOON_MS, &v));
    assert_int_equal(v.kind, HR_LIMIT_REQUESTS);
    assert_int_equal(v.limit, 3);
    assert_int_equal(v.retry_after_s, 20); /* one request refills in 60 s / 3 */
    /* 19 s later still refused; at 20 s one more */
    assert_false(hr_limit_admit(&l, &c, 19000, NOON_MS, &v));
    assert_int_equal(v.retry_after_s, 1);
    assert_true(hr_limit_admit(&l, &c, 20000, NOON_MS, &v));
    assert_false(hr_limit_admit(&l, &c, 20000, NOON_MS, &v));
    /* a long wait refills to the burst, never beyond */
    assert_int_equal(hr_limit_remaining_requests(&l, &c, 3600000), 3);
}

static void test_token_reserve_and_settle(void **state)
{
    (void)state;
    struct hr_limit_cfg c = {0, 1000, 0, 0};
    struct hr_limit l;
    struct hr_limit_verdict v;
    struct hr_limit_hold h;
    hr_limit_init(&l, &c, 0, NOON_MS, 0, 0);
    assert_true(hr_limit_admit(&l, &c, 0, NOON_MS, &v));
    assert_false(hr_limit_reserve(&l, &c, 1001, 0, NOON_MS, &h, &v));
    assert_int_equal(v.kind, HR_LIMIT_TOO_LARGE);
    assert_int_equal(v.requested, 1001);
    assert_true(hr_limit_reserve(&l, &c, 800, 0, NOON_MS, &h, &v));
    assert_int_equal(hr_limit_remaining_tokens(&l, &c, 0), 200);
    assert_false(hr_limit_reserve(&l, &c, 300, 0, NOON_MS, &h, &v));
    assert_int_equal(v.kind, HR_LIMIT_TOKENS);
    assert_int_equal(v.retry_after_s, 6); /* 100 more tokens at 1000/min */
    /* it used 100 of its 800: 700 come back */
    hr_limit_settle(&l, &c, &h, 100, 0, NOON_MS);
    assert_int_equal(hr_limit_remaining_tokens(&l, &c, 0), 900);
    /* a short reservation settled long puts the bucket in debt: admission waits */
    assert_true(hr_limit_reserve(&l, &c, 10, 0, NOON_MS, &h, &v));
    hr_limit_settle(&l, &c, &h, 1500, 0, NOON_MS);
    assert_int_equal(hr_limit_remaining_tokens(&l, &c, 0), 0);
    assert_false(hr_limit_admit(&l, &c, 0, NOON_MS, &v));
    assert_int_equal(v.kind, HR_LIMIT_TOKENS);
    assert_true(hr_limit_admit(&l, &c, 60000, NOON_MS, &v)); /* 600 in debt + 1000 refilled */
}

static void test_daily_quota_rolls_over(void **state)
{
    (void)state;
    struct hr_limit_cfg c = {0, 0, 500, 0};
    struct hr_limit l;
    struct hr_limit_verdict v;
    struct hr_limit_hold h;
    hr_limit_init(&l, &c, 0, NOON_MS, 400, 400); /* the store counted 400 today */
    assert_false(hr_limit_reserve(&l, &c, 101, 0, NOON_MS, &h, &v));
    assert_int_equal(v.kind, HR_LIMIT_DAILY);
    assert_int_equal(v.used, 400);
    assert_int_equal(v.retry_after_s, 12 * 3600); /* midnight UTC */
    assert_true(hr_limit_reserve(&l, &c, 100, 0, NOON_MS, &h, &v));
    hr_limit_settle(&l, &c, &h, 100, 0, NOON_MS);
    assert_false(hr_limit_admit(&l, &c, 0, NOON_MS, &v)); /* used up: refused at arrival */
    assert_int_equal(v.kind, HR_LIMIT_DAILY);
    assert_true(hr_limit_admit(&l, &c, 0, NOON_MS + DAY_MS, &v)); /* a new day */
    /* a hold from yesterday settles into today with its real count only */
    hr_limit_init(&l, &c, 0, NOON_MS, 0, 0);
    assert_true(hr_limit_reserve(&l, &c, 300, 0, NOON_MS, &h, &v));
    hr_limit_settle(&l, &c, &h, 50, 0, NOON_MS + DAY_MS);
    assert_int_equal(l.day_used, 50);
}

static void test_monthly_quota(void **state)
{
    (void)state;
    struct hr_limit_cfg c = {0, 0, 0, 1000};
    struct hr_limit l;
    struct hr_limit_verdict v;
    struct hr_limit_hold h;
    hr_limit_init(&l, &c, 0, NOON_MS, 0, 1000);
    assert_false(hr_limit_admit(&l, &c, 0, NOON_MS, &v));
    assert_int_equal(v.kind, HR_LIMIT_MONTHLY);
    /* 2026-12-01T12:00Z to 2027-01-01T00:00Z: 30.5 days */
    assert_int_equal(v.retry_after_s, 30 * 86400 + 12 * 3600);
    /* the next month starts from zero */
    int64_t jan = NOON_MS + 31 * DAY_MS;
    assert_true(hr_limit_reserve(&l, &c, 1000, 0, jan, &h, &v));
    assert_false(hr_limit_reserve(&l, &c, 1, 0, jan, &h, &v));
}

static void test_reconfigure(void **state)
{
    (void)state;
    struct hr_limit_cfg none = {0, 0, 0, 0}, some = {5, 100, 0, 0}, less = {2, 100, 0, 0};
    struct hr_limit l;
    struct hr_limit_verdict v;
    hr_limit_init(&l, &none, 0, NOON_MS, 0, 0);
    hr_limit_reconfigure(&l, &none, &some, 0); /* newly limited: a full burst */
    assert_int_equal(hr_limit_remaining_requests(&l, &some, 0), 5);
    hr_limit_reconfigure(&l, &some, &less, 0);
    assert_int_equal(hr_limit_remaining_requests(&l, &less, 0), 2);
    assert_true(hr_limit_admit(&l, &less, 0, NOON_MS, &v));
    assert_true(hr_limit_admit(&l, &less, 0, NOON_MS, &v));
    assert_false(hr_limit_admit(&l, &less, 0, NOON_MS, &v));
}

static void test_reset_text(void **state)
{
    (void)state;
    struct hr_limit_cfg c = {60, 6000, 0, 0};
    struct hr_limit l;
    struct hr_limit_verdict v;
    struct hr_limit_hold h;
    char t[32];
    hr_limit_init(&l, &c, 0, NOON_MS, 0, 0);
    hr_limit_reset_text(&l, &c, false, 0, t, sizeof t);
    assert_string_equal(t, "0ms");
    assert_true(hr_limit_admit(&l, &c, 0, NOON_MS, &v));
    hr_limit_reset_text(&l, &c, false, 0, t, sizeof t);
    assert_string_equal(t, "1s");
    assert_true(hr_limit_reserve(&l, &c, 6000, 0, NOON_MS, &h, &v));
    hr_limit_reset_text(&l, &c, true, 0, t, sizeof t);
    assert_string_equal(t, "1m0s");
    hr_limit_reset_text(&l, &c, true, 59500, t, sizeof t);
    assert_string_equal(t, "500ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_bucket),
        cmocka_unit_test(test_token_reserve_and_settle),
        cmocka_unit_test(test_daily_quota_rolls_over),
        cmocka_unit_test(test_monthly_quota),
        cmocka_unit_test(test_reconfigure),
        cmocka_unit_test(test_reset_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
