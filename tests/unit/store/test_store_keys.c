/* Keys in the store: create and list round-trip every field, an active name is unique and a
 * revoked one reusable, names and model lists shaped like SQL injection are stored verbatim,
 * bad fields are refused with a diag and no row, update changes only what it sets and never
 * a revoked key, revoke keeps the row, and every change bumps keys_version. */
#include "store_test.h"
#include "testutil.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/store/store.h"
#include "engine/base/err.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct hr_key key(const char *name, uint8_t seed)
{
    struct hr_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    for (int i = 0; i < 32; i++)
        k.hash[i] = (uint8_t)(seed * 31 + i);
    snprintf(k.hint, sizeof k.hint, "hk_abcd...wxyz");
    return k;
}

static const char *db_path(const char *name)
{
    static char path[512];
    return tu_tmpfile(name, path, sizeof path);
}

static void test_create_and_list_round_trip(void **state)
{
    (void)state;
    const char *path = db_path("keys_rt.db");
    mode_t old = umask(022);
    struct hr_key k = key("ci-runner", 1);
    k.admin = true;
    snprintf(k.models, sizeof k.models, "llama-3.1-8b,qwen2.5:7b");
    k.rpm = 60;
    k.tpm = 10000;
    k.daily_tokens = 100000;
    k.monthly_tokens = 2000000;
    k.expires_ms = 1900000000000LL;
    int64_t before = now_ms();
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_key_create(path, &k, &d), 0);
    umask(old);
    assert_true(k.id > 0);
    assert_true(k.created_ms >= before && k.created_ms <= now_ms());
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* a keys call may be the one creating it */
    assert_int_equal(st_query(path, "PRAGMA user_version"), 2);
    struct hr_key k2 = key("second", 2);
    assert_int_equal(hr_store_key_create(path, &k2, &d), 0);
    assert_true(k2.id > k.id);
    struct hr_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(hr_store_key_list(path, false, now_ms(), &keys, &n, &d), 0);
    assert_int_equal(n, 2);
    assert_int_equal(keys[0].id, k.id); /* oldest first */
    assert_string_equal(keys[0].name, "ci-runner");
    assert_memory_equal(keys[0].hash, k.hash, 32);
    assert_string_equal(keys[0].hint, "hk_abcd...wxyz");
    assert_true(keys[0].admin);
    assert_string_equal(keys[0].models, "llama-3.1-8b,qwen2.5:7b");
    assert_int_equal(keys[0].rpm, 60);
    assert_int_equal(keys[0].tpm, 10000);
    assert_int_equal(keys[0].daily_tokens, 100000);
    assert_int_equal(keys[0].monthly_tokens, 2000000);
    assert_int_equal(keys[0].expires_ms, 1900000000000LL);
    assert_int_equal(keys[0].created_ms, k.created_ms);
    assert_int_equal(keys[0].revoked_ms, 0);
    assert_false(keys[1].admin);
    assert_string_equal(keys[1].models, "");
    free(keys);
    assert_int_equal(st_query(path, "SELECT value FROM meta WHERE name = 'keys_version'"), 2);
}

static void test_active_name_unique_revoked_reusable(void **state)
{
    (void)state;
    const char *path = db_path("keys_dup.db");
    struct hr_key a = key("team-a", 1), b = key("team-a", 2);
    assert_int_equal(hr_store_key_create(path, &a, NULL), 0);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_key_create(path, &b, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, "a key named 'team-a' already exists"));
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM api_keys"), 1);
    struct hr_key_ref ref = {0, "team-a"};
    struct hr_key out;
    assert_int_equal(hr_store_key_revoke(path, ref, &out, NULL), 0);
    assert_int_equal(out.id, a.id);
    assert_true(out.revoked_ms > 0);
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_create(path, &b, &d), 0);
    assert_true(b.id != a.id);
    struct hr_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(hr_store_key_list(path, false, now_ms(), &keys, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(keys[0].id, b.id);
    free(keys);
    assert_int_equal(hr_store_key_list(path, true, now_ms(), &keys, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(keys[0].id, a.id);
    assert_true(keys[0].revoked_ms > 0);
    free(keys);
    /* the same secret twice is refused too */
    struct hr_key c = key("team-c", 2);
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_create(path, &c, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, path));
}

static void test_injection_shaped_stored_verbatim(void **state)
{
    (void)state;
    const char *path = db_path("keys_inj.db");
    const char *names[] = {"'; DROP TABLE api_keys; --", "a\"b'c", "x;y--z /* */", "%s%n%x",
                           "名前 ключ"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct hr_key k = key(names[i], (uint8_t)(i + 1));
        snprintf(k.models, sizeof k.models, "m1,'); DELETE FROM usage; --,\"q\"");
        struct hr_diag d = {{0}};
        assert_int_equal(hr_store_key_create(path, &k, &d), 0);
    }
    struct hr_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(hr_store_key_list(path, false, now_ms(), &keys, &n, NULL), 0);
    assert_int_equal(n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(keys[i].name, names[i]);
        assert_string_equal(keys[i].models, "m1,'); DELETE FROM usage; --,\"q\"");
    }
    free(keys);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM sqlite_schema WHERE name IN "
                                 "('api_keys', 'usage')"), 2);
    struct hr_key dup = key("'; DROP TABLE api_keys; --", 99);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_key_create(path, &dup, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, "'; DROP TABLE api_keys; --' already exists"));
    struct hr_key_ref ref = {0, "x;y--z /* */"};
    struct hr_key out;
    assert_int_equal(hr_store_key_revoke(path, ref, &out, NULL), 0);
    assert_string_equal(out.name, "x;y--z /* */");
}

static void assert_refused(const char *path, struct hr_key *k, const char *what)
{
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_key_create(path, k, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, what));
}

static void test_bad_fields_refused(void **state)
{
    (void)state;
    const char *path = db_path("keys_bad.db");
    struct hr_key k = key("", 1);
    assert_refused(path, &k, "empty");
    k = key("tab\there", 1);
    assert_refused(path, &k, "control");
    k = key("del\x7f", 1);
    assert_refused(path, &k, "control");
    k = key("nl\n", 1);
    assert_refused(path, &k, "control");
    k = key("x", 1);
    memset(k.name, 'a', sizeof k.name); /* no NUL inside the field */
    assert_refused(path, &k, "shorter");
    const char *models[] = {",a", "a,,b", "a,", ","};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        k = key("ok", 1);
        snprintf(k.models, sizeof k.models, "%s", models[i]);
        assert_refused(path, &k, "empty model id");
    }
    k = key("ok", 1);
    k.rpm = -1;
    assert_refused(path, &k, "rpm");
    k = key("ok", 1);
    k.monthly_tokens = -5;
    assert_refused(path, &k, "monthly_tokens");
    k = key("ok", 1);
    k.expires_ms = -1;
    assert_refused(path, &k, "expires_ms");
    /* nothing was written (the file may not even exist yet) */
    k = key("ok", 1);
    assert_int_equal(hr_store_key_create(path, &k, NULL), 0);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM api_keys"), 1);
}

static void test_update(void **state)
{
    (void)state;
    const char *path = db_path("keys_upd.db");
    struct hr_key a = key("alpha", 1), b = key("beta", 2);
    a.rpm = 10;
    snprintf(a.models, sizeof a.models, "m1");
    assert_int_equal(hr_store_key_create(path, &a, NULL), 0);
    assert_int_equal(hr_store_key_create(path, &b, NULL), 0);
    long long v0 = st_query(path, "SELECT value FROM meta WHERE name = 'keys_version'");
    struct hr_key_update u = {.set_tpm = true, .tpm = 500};
    struct hr_key out;
    struct hr_diag d = {{0}};
    struct hr_key_ref by_name = {0, "alpha"};
    assert_int_equal(hr_store_key_update(path, by_name, &u, &out, &d), 0);
    assert_int_equal(out.id, a.id);
    assert_int_equal(out.tpm, 500);
    assert_int_equal(out.rpm, 10); /* untouched */
    assert_string_equal(out.models, "m1");
    assert_string_equal(out.name, "alpha");
    assert_int_equal(st_query(path, "SELECT value FROM meta WHERE name = 'keys_version'"), v0 + 1);
    struct hr_key_update u2 = {.set_name = true, .name = "gamma", .set_admin = true,
                               .admin = true, .set_models = true, .models = "",
                               .set_expires = true, .expires_ms = 0, .set_rpm = true, .rpm = 0};
    struct hr_key_ref by_id = {a.id, NULL};
    assert_int_equal(hr_store_key_update(path, by_id, &u2, &out, &d), 0);
    assert_string_equal(out.name, "gamma");
    assert_true(out.admin);
    assert_string_equal(out.models, "");
    assert_int_equal(out.rpm, 0);
    assert_int_equal(out.tpm, 500);
    /* rename onto another active name */
    struct hr_key_update u3 = {.set_name = true, .name = "beta"};
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_update(path, by_id, &u3, &out, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, "a key named 'beta' already exists"));
    /* bad values */
    struct hr_key_update u4 = {.set_daily = true, .daily_tokens = -1};
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_update(path, by_id, &u4, &out, &d), HR_EINVAL);
    struct hr_key_update u5 = {.set_models = true, .models = "a,,b"};
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_update(path, by_id, &u5, &out, &d), HR_EINVAL);
    /* missing and revoked keys */
    struct hr_key_ref nobody = {0, "nobody"};
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_update(path, nobody, &u, &out, &d), HR_ENOTFOUND);
    assert_non_null(strstr(d.msg, "no active key named 'nobody'"));
    struct hr_key_ref beta = {b.id, NULL};
    assert_int_equal(hr_store_key_revoke(path, beta, NULL, NULL), 0);
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_update(path, beta, &u, &out, &d), HR_ENOTFOUND);
    assert_non_null(strstr(d.msg, "no active key"));
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_revoke(path, beta, NULL, &d), HR_ENOTFOUND);
    struct hr_key_ref none = {0, NULL};
    hr_diag_clear(&d);
    assert_int_equal(hr_store_key_revoke(path, none, NULL, &d), HR_EINVAL);
    /* revoked row kept, and nothing else changed by the refused calls */
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM api_keys"), 2);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT tpm FROM api_keys WHERE id = %lld", (long long)b.id);
    assert_int_equal(st_query(path, sql), 0);
    snprintf(sql, sizeof sql, "SELECT daily_tokens FROM api_keys WHERE id = %lld",
             (long long)a.id);
    assert_int_equal(st_query(path, sql), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_list_round_trip),
        cmocka_unit_test(test_active_name_unique_revoked_reusable),
        cmocka_unit_test(test_injection_shaped_stored_verbatim),
        cmocka_unit_test(test_bad_fields_refused),
        cmocka_unit_test(test_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
