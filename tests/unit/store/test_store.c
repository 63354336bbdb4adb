/* The store: concurrent appends all committed, rows surviving close and reopen, WAL, the
 * migration of a real version-1 file, refusal (without touching them) of newer, foreign and
 * corrupt files, mode 0600, key totals from appended rows, the keys listener, retention, and
 * the ownership of the row texts append takes (ASan finds a leak or double free). */
#include "store_test.h"
#include "testutil.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/store/store.h"
#include "engine/base/err.h"

static void exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
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

/* The whole file, for proving a refused file was not written. */
static void assert_same_file(const char *path, const char *before, size_t n_before)
{
    size_t n_after = 0;
    char *after = tu_read_file(path, &n_after);
    assert_non_null(after);
    assert_int_equal(n_before, n_after);
    assert_memory_equal(before, after, n_before);
    free(after);
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
    assert_int_equal(hr_store_open(&s, path, NULL, &d), 0);
    pthread_t t[4];
    struct worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){s, i * 1000};
        pthread_create(&t[i], NULL, appender, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(hr_store_flush(s), 0);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM usage"), 1000);
    assert_int_equal(st_query(path, "SELECT COUNT(DISTINCT request_id) FROM usage"), 1000);
    assert_int_equal(st_query(path, "SELECT SUM(prompt_tokens) FROM usage"), 10000);
    assert_int_equal(st_query(path, "PRAGMA user_version"), 2);
    hr_store_close(s);
    /* reopen: rows kept, nothing migrated twice */
    assert_int_equal(hr_store_open(&s, path, NULL, &d), 0);
    struct hr_usage_row r = row(5000, "m", 1700000000000LL, 200);
    assert_int_equal(hr_store_append(s, &r), 0);
    hr_store_close(s); /* close flushes */
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM usage"), 1001);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Migration 1 exactly as released: a version-1 file must become version 2 with its rows. */
static void test_version1_migrated_rows_kept(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("v1.db", path, sizeof path);
    exec(path, "CREATE TABLE usage ("
               "  id INTEGER PRIMARY KEY,"
               "  request_id TEXT NOT NULL,"
               "  time_ms INTEGER NOT NULL,"
               "  model TEXT NOT NULL,"
               "  endpoint TEXT NOT NULL,"
               "  prompt_tokens INTEGER NOT NULL,"
               "  completion_tokens INTEGER NOT NULL,"
               "  queue_ms INTEGER NOT NULL,"
               "  first_token_ms INTEGER NOT NULL,"
               "  latency_ms INTEGER NOT NULL,"
               "  http_status INTEGER NOT NULL,"
               "  finish_reason TEXT NOT NULL);"
               "CREATE INDEX usage_time ON usage(time_ms);"
               "INSERT INTO usage VALUES (NULL, 'old_1', 1700000000000, 'alpha', '/v1/x', 7, 3,"
               "  1, 2, 30, 200, 'stop');"
               "INSERT INTO usage VALUES (NULL, 'old_2', 1700000001000, 'beta', '/v1/x', 9, 4,"
               "  1, 2, 40, 500, 'error');"
               "PRAGMA user_version = 1;");
    struct hr_store *s = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_open(&s, path, NULL, &d), 0);
    struct hr_usage_row r = row(3, "gamma", 1700000002000LL, 200);
    r.key_id = 42;
    r.cached_tokens = 6;
    assert_int_equal(hr_store_append(s, &r), 0);
    hr_store_close(s);
    assert_int_equal(st_query(path, "PRAGMA user_version"), 2);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM usage"), 3);
    assert_int_equal(st_query(path, "SELECT prompt_tokens FROM usage WHERE request_id = 'old_2'"),
                     9);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM usage WHERE key_id = 0 AND "
                                 "cached_tokens = 0 AND user IS NULL"), 2);
    assert_int_equal(st_query(path, "SELECT cached_tokens FROM usage WHERE key_id = 42"), 6);
    assert_int_equal(st_query(path, "SELECT value FROM meta WHERE name = 'keys_version'"), 0);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM sqlite_schema WHERE name IN "
                                 "('api_keys', 'key_totals', 'usage_key_time', "
                                 "'api_keys_active_name')"), 4);
}

static void test_newer_and_garbage_refused_untouched(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("newer.db", path, sizeof path);
    exec(path, "PRAGMA user_version = 99; CREATE TABLE t(x);");
    size_t n1;
    char *before = tu_read_file(path, &n1);
    struct hr_store *s = NULL;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_open(&s, path, NULL, &d), HR_EUNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(d.msg, "newer"));
    assert_non_null(strstr(d.msg, path));
    assert_same_file(path, before, n1);
    free(before);

    tu_tmpfile("garbage.db", path, sizeof path);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xFF, f);
    fclose(f);
    before = tu_read_file(path, &n1);
    hr_diag_clear(&d);
    assert_int_equal(hr_store_open(&s, path, NULL, &d), HR_EFORMAT);
    assert_non_null(strstr(d.msg, path));
    assert_non_null(strstr(d.msg, "not a SQLite database"));
    assert_same_file(path, before, n1);
    free(before);
}

/* A hearth database whose header is fine but one page of the usage table is garbage. */
static void test_corrupt_refused_untouched(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("corrupt.db", path, sizeof path);
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, path, NULL, NULL), 0);
    for (int i = 0; i < 2000; i++) {
        struct hr_usage_row r = row(i, "alpha", 1700000000000LL + i, 200);
        r.user = strdup("a user with a longish name to fill pages");
        assert_int_equal(hr_store_append(s, &r), 0);
    }
    hr_store_close(s);
    exec(path, "PRAGMA journal_mode = DELETE");
    long long page_size = st_query(path, "PRAGMA page_size");
    long long page = 0;
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_stmt *st = NULL;
    /* dbstat names a leaf of the usage table; without it, a page in the middle will do. */
    if (sqlite3_prepare_v2(db, "SELECT pageno FROM dbstat WHERE name = 'usage' AND "
                               "pagetype = 'leaf' LIMIT 1 OFFSET 5", -1, &st, NULL) ==
            SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        page = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (page == 0)
        page = st_query(path, "PRAGMA page_count") / 2;
    assert_true(page > 1);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)((page - 1) * page_size), SEEK_SET), 0);
    for (long long i = 0; i < page_size; i++)
        fputc((int)((i * 131 + 7) & 0xFF), f);
    fclose(f);
    size_t n1;
    char *before = tu_read_file(path, &n1);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_store_open(&s, path, NULL, &d), HR_EFORMAT);
    assert_null(s);
    assert_non_null(strstr(d.msg, path));
    assert_non_null(strstr(d.msg, "corrupt"));
    assert_null(strchr(d.msg, '\n'));
    assert_same_file(path, before, n1);
    free(before);
}

static void test_new_file_mode_0600(void **state)
{
    (void)state;
    char path[512], wal[600], shm[600];
    tu_tmpfile("mode.db", path, sizeof path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    mode_t old = umask(022);
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, path, NULL, NULL), 0);
    struct hr_usage_row r = row(1, "m", 1700000000000LL, 200);
    assert_int_equal(hr_store_append(s, &r), 0);
    assert_int_equal(hr_store_flush(s), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(shm, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    hr_store_close(s);
    umask(old);
}

static void test_key_totals_from_rows(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("totals.db", path, sizeof path);
    struct hr_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "ci");
    k.hash[0] = 1;
    assert_int_equal(hr_store_key_create(path, &k, NULL), 0);
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, path, NULL, NULL), 0);
    const int64_t nov14 = 1700000000000LL; /* 2023-11-14 22:13 UTC */
    const int64_t nov15 = nov14 + 86400000LL, dec01 = nov14 + 17 * 86400000LL;
    const int64_t times[] = {nov14, nov14 + 1000, nov15, dec01};
    for (int i = 0; i < 4; i++) {
        struct hr_usage_row r = row(i, "m", times[i], 200);
        r.key_id = k.id;
        assert_int_equal(hr_store_append(s, &r), 0);
    }
    struct hr_usage_row anon = row(9, "m", nov14, 200); /* no key: no totals */
    assert_int_equal(hr_store_append(s, &anon), 0);
    hr_store_close(s);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT tokens FROM key_totals WHERE key_id = %lld AND "
                              "period = '2023-11-14'", (long long)k.id);
    assert_int_equal(st_query(path, sql), 30);
    snprintf(sql, sizeof sql, "SELECT tokens FROM key_totals WHERE key_id = %lld AND "
                              "period = '2023-11-15'", (long long)k.id);
    assert_int_equal(st_query(path, sql), 15);
    snprintf(sql, sizeof sql, "SELECT tokens FROM key_totals WHERE key_id = %lld AND "
                              "period = '2023-11'", (long long)k.id);
    assert_int_equal(st_query(path, sql), 45);
    snprintf(sql, sizeof sql, "SELECT tokens FROM key_totals WHERE key_id = %lld AND "
                              "period = '2023-12'", (long long)k.id);
    assert_int_equal(st_query(path, sql), 15);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM key_totals"), 5);
    struct hr_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(hr_store_key_list(path, false, nov14 + 5000, &keys, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(keys[0].day_tokens, 30);
    assert_int_equal(keys[0].month_tokens, 45);
    free(keys);
}

struct listener {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    size_t n;
    char first_name[HR_KEY_NAME_MAX];
    int64_t first_revoked_ms;
};

static void on_keys(void *ud, struct hr_key *keys, size_t n)
{
    struct listener *l = ud;
    pthread_mutex_lock(&l->mu);
    l->calls++;
    l->n = n;
    if (n) {
        snprintf(l->first_name, sizeof l->first_name, "%s", keys[0].name);
        l->first_revoked_ms = keys[0].revoked_ms;
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    free(keys);
}

/* Waits up to 1 s for call number `calls`; returns the count reached. */
static int wait_calls(struct listener *l, int calls)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_mutex_lock(&l->mu);
    while (l->calls < calls && pthread_cond_timedwait(&l->cv, &l->mu, &until) == 0) {
    }
    int got = l->calls;
    pthread_mutex_unlock(&l->mu);
    return got;
}

static void test_listener_sees_other_connection(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("listen.db", path, sizeof path);
    struct listener l = {.calls = 0};
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    struct hr_store_options o = {.keys_changed = on_keys, .ud = &l};
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, path, &o, NULL), 0);
    assert_int_equal(l.calls, 1); /* synchronous, before open returned */
    assert_int_equal(l.n, 0);
    struct hr_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "late");
    k.hash[0] = 7;
    assert_int_equal(hr_store_key_create(path, &k, NULL), 0);
    assert_int_equal(wait_calls(&l, 2), 2);
    pthread_mutex_lock(&l.mu);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.first_name, "late");
    assert_int_equal(l.first_revoked_ms, 0);
    pthread_mutex_unlock(&l.mu);
    struct hr_key_ref ref = {0, "late"};
    assert_int_equal(hr_store_key_revoke(path, ref, NULL, NULL), 0);
    assert_int_equal(wait_calls(&l, 3), 3);
    pthread_mutex_lock(&l.mu);
    assert_int_equal(l.n, 1); /* revoked keys are handed over too */
    assert_true(l.first_revoked_ms > 0);
    pthread_mutex_unlock(&l.mu);
    /* Appending rows changes no key: no further call. */
    struct hr_usage_row r = row(1, "m", now_ms(), 200);
    assert_int_equal(hr_store_append(s, &r), 0);
    assert_int_equal(hr_store_flush(s), 0);
    sleep_ms(600);
    assert_int_equal(wait_calls(&l, 4), 3);
    hr_store_close(s);
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
}

static void test_retention_deletes_only_old(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("retention.db", path, sizeof path);
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, path, NULL, NULL), 0);
    const int64_t now = now_ms();
    for (int i = 0; i < 30; i++) {
        /* 0..9: 40 days old; 10..19: 29 days old; 20..29: today */
        int64_t age_days = i < 10 ? 40 : i < 20 ? 29 : 0;
        struct hr_usage_row r = row(i, "m", now - age_days * 86400000LL, 200);
        assert_int_equal(hr_store_append(s, &r), 0);
    }
    hr_store_close(s);
    exec(path, "INSERT INTO key_totals VALUES (1, '2001-01', 5), (1, '2001-01-02', 5),"
               "  (1, strftime('%Y-%m', 'now'), 5), (1, strftime('%Y-%m-%d', 'now'), 5)");
    struct hr_store_options o = {.retention_days = 30};
    assert_int_equal(hr_store_open(&s, path, &o, NULL), 0);
    long long left = 0;
    for (int i = 0; i < 50; i++) {
        left = st_query(path, "SELECT COUNT(*) FROM usage");
        if (left == 20)
            break;
        sleep_ms(100);
    }
    hr_store_close(s);
    assert_int_equal(left, 20);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM usage WHERE CAST(substr(request_id, 5) "
                                 "AS INTEGER) < 10"), 0);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM key_totals"), 2);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM key_totals WHERE period < '2002'"), 0);
}

static char *dup_text(const char *s)
{
    char *p = strdup(s);
    assert_non_null(p);
    return p;
}

/* The texts go to the store whatever append returns: stored verbatim when queued, freed when
 * refused because the queue is full (ASan reports a leak otherwise). Rows acknowledged while
 * another process held the write lock are all committed once it lets go. */
static void test_append_takes_texts(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("own.db", path, sizeof path);
    struct hr_store *s = NULL;
    assert_int_equal(hr_store_open(&s, path, NULL, NULL), 0);
    struct hr_usage_row r = row(1, "m", 1700000000000LL, 200);
    r.user = dup_text("user-'; DROP TABLE usage; --");
    r.prompt_text = dup_text("{\"messages\":[]}");
    r.output_text = dup_text("hello");
    assert_int_equal(hr_store_append(s, &r), 0);
    assert_null(r.user);
    assert_int_equal(hr_store_flush(s), 0);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM usage WHERE user = "
                                 "'user-''; DROP TABLE usage; --' AND prompt_text = "
                                 "'{\"messages\":[]}' AND output_text = 'hello'"), 1);

    sqlite3 *blocker = NULL;
    assert_int_equal(sqlite3_open(path, &blocker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    r = row(2, "m", 1700000000000LL, 200);
    assert_int_equal(hr_store_append(s, &r), 0);
    sleep_ms(400); /* the store thread now waits for the lock with that row */
    long acknowledged = 1;
    int rc = 0;
    for (int i = 0; i < 70000 && rc == 0; i++) {
        r = row(3 + i, "m", 1700000000000LL, 200);
        r.user = dup_text("u");
        r.output_text = dup_text("text");
        rc = hr_store_append(s, &r);
        if (rc == 0)
            acknowledged++;
    }
    assert_int_equal(rc, HR_EFULL);
    assert_true(acknowledged > 60000);
    assert_int_equal(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    assert_int_equal(hr_store_flush(s), 0);
    hr_store_close(s);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM usage"), 1 + acknowledged);
    assert_int_equal(st_query(path, "SELECT COUNT(*) FROM usage WHERE output_text = 'text'"),
                     acknowledged - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_appends_committed),
        cmocka_unit_test(test_version1_migrated_rows_kept),
        cmocka_unit_test(test_newer_and_garbage_refused_untouched),
        cmocka_unit_test(test_corrupt_refused_untouched),
        cmocka_unit_test(test_new_file_mode_0600),
        cmocka_unit_test(test_key_totals_from_rows),
        cmocka_unit_test(test_listener_sees_other_connection),
        cmocka_unit_test(test_retention_deletes_only_old),
        cmocka_unit_test(test_append_takes_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
