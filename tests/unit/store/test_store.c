/* The usage store: concurrent appends all committed, rows surviving close and reopen, the
 * schema version, WAL mode, refusal (without touching them) of databases from a newer hearth
 * and of files that are not SQLite, and the per-day, per-model report. */
#include "testutil.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/store/store.h"
#include "engine/base/err.h"

static long long query(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static struct hr_usage_row row(int i, const char *model, int64_t time_ms, int status)
{
    struct hr_usage_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.request_id, sizeof r.request_id, "req_%d", i);
    r.time_ms = time_ms;
    snprintf(r.model, sizeof r.model, "%s", model);
    snprintf(r.endpoint, sizeof r.endpoint, "/v1/chat/completions");
    r.prompt_tokens = 10;
    r.completion_tokens = 5;
    r.latency_ms = 100;
    r.http_status = status;
    snprintf(r.finish_reason, sizeof r.finish_reason, "stop");
    return r;
}

struct worker_arg {
    struct hr_store *s;
    int base;
};

static void *appender(void *p)
{
    struct worker_arg *a = p;
    for (int i = 0; i < 250; i++) {
        struct hr_usage_row r = row(a->base + i, "m", 1700000000000LL, 200);
        assert_int_equal(hr_store_append(a->s, &r), 0);
    }
    return NULL;
}

static void test_concurrent_appends_committed(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("conc.db", path, sizeof path);
    struct hr_store *s = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_open(&s, path, &d), 0);
    pthread_t t[4];
    struct worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){s, i * 1000};
        pthread_create(&t[i], NULL, appender, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(hr_store_flush(s), 0);
    assert_int_equal(query(path, "SELECT COUNT(*) FROM usage"), 1000);
    assert_int_equal(query(path, "SELECT COUNT(DISTINCT request_id) FROM usage"), 1000);
    assert_int_equal(query(path, "SELECT SUM(prompt_tokens) FROM usage"), 10000);
    assert_int_equal(query(path, "PRAGMA user_version"), 1);
    hr_store_close(s);
    /* reopen: rows kept, nothing migrated twice */
    assert_int_equal(hr_store_open(&s, path, &d), 0);
    struct hr_usage_row r = row(5000, "m", 1700000000000LL, 200);
    assert_int_equal(hr_store_append(s, &r), 0);
    hr_store_close(s); /* close flushes */
    assert_int_equal(query(path, "SELECT COUNT(*) FROM usage"), 1001);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_newer_and_garbage_refused_untouched(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("newer.db", path, sizeof path);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version = 99; CREATE TABLE t(x);", NULL, NULL, NULL);
    sqlite3_close(db);
    size_t n1, n2;
    char *before = tu_read_file(path, &n1);
    struct hr_store *s = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_open(&s, path, &d), HR_EUNSUPPORTED);
    assert_non_null(strstr(d.msg, "newer"));
    assert_non_null(strstr(d.msg, path));
    char *after = tu_read_file(path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    free(before);
    free(after);

    tu_tmpfile("garbage.db", path, sizeof path);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xFF, f);
    fclose(f);
    before = tu_read_file(path, &n1);
    hr_diag_clear(&d);
    assert_true(hr_store_open(&s, path, &d) != 0);
    assert_non_null(strstr(d.msg, path));
    after = tu_read_file(path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    free(before);
    free(after);
}

static void test_report(void **state)
{
    (void)state;
    char path[512], out[512];
    tu_tmpfile("report.db", path, sizeof path);
    tu_tmpfile("report.txt", out, sizeof out);
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, path, NULL), 0);
    const int64_t day1 = 1700000000000LL; /* 2023-11-14 UTC */
    const int64_t day2 = day1 + 86400000LL;
    struct hr_usage_row rows[] = {row(1, "alpha", day1, 200), row(2, "alpha", day1, 400),
                                  row(3, "beta", day1, 200), row(4, "alpha", day2, 200)};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(hr_store_append(s, &rows[i]), 0);
    hr_store_close(s);
    FILE *f = fopen(out, "w");
    assert_int_equal(hr_store_report(path, f, NULL, NULL), 0);
    fclose(f);
    char *text = tu_read_file(out, NULL);
    assert_non_null(strstr(text, "2023-11-14  alpha"));
    assert_non_null(strstr(text, "2023-11-15  alpha"));
    assert_non_null(strstr(text, "2023-11-14  beta"));
    /* alpha on day 1: 2 requests, 20 prompt, 10 completion tokens, 1 error */
    char *line = strstr(text, "2023-11-14  alpha");
    int req, pt, ct, err;
    assert_int_equal(sscanf(line + 17, "%d %d %d %d", &req, &pt, &ct, &err), 4);
    assert_int_equal(req, 2);
    assert_int_equal(pt, 20);
    assert_int_equal(ct, 10);
    assert_int_equal(err, 1);
    free(text);
    f = fopen(out, "w");
    assert_int_equal(hr_store_report(path, f, "2023-11-15", NULL), 0);
    fclose(f);
    text = tu_read_file(out, NULL);
    assert_null(strstr(text, "2023-11-14"));
    assert_non_null(strstr(text, "2023-11-15"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_appends_committed),
        cmocka_unit_test(test_newer_and_garbage_refused_untouched),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
