/* Opening the database file: creation with mode 0600, refusal of foreign, newer or corrupt
 * files before a byte is written, WAL, and the schema migrations keyed by PRAGMA
 * user_version. Leaves rows and keys to store.c and store_keys.c. Any thread but the loop. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/err.h"

/* Migration i brings user_version from i to i + 1. Append only; never edit a released one.
 *
 * Version 2: usage rows name their key and user and may carry the request and answer text;
 * api_keys holds keys (only the SHA-256 of each secret); key_totals keeps tokens per key per
 * UTC day ('YYYY-MM-DD') and month ('YYYY-MM') so quotas never scan the ledger; meta's
 * keys_version is bumped by triggers on any change to api_keys, by whichever process makes
 * it, so the daemon notices with one cheap SELECT. */
static const char *const migrations[] = {
    "CREATE TABLE usage ("
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
    "CREATE INDEX usage_time ON usage(time_ms);",

    "ALTER TABLE usage ADD COLUMN key_id INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage ADD COLUMN user TEXT;"
    "ALTER TABLE usage ADD COLUMN prompt_text TEXT;"
    "ALTER TABLE usage ADD COLUMN output_text TEXT;"
    "CREATE INDEX usage_key_time ON usage(key_id, time_ms);"
    "CREATE TABLE api_keys ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
    "  hint TEXT NOT NULL,"
    "  admin INTEGER NOT NULL DEFAULT 0,"
    "  models TEXT NOT NULL DEFAULT '',"
    "  rpm INTEGER NOT NULL DEFAULT 0,"
    "  tpm INTEGER NOT NULL DEFAULT 0,"
    "  daily_tokens INTEGER NOT NULL DEFAULT 0,"
    "  monthly_tokens INTEGER NOT NULL DEFAULT 0,"
    "  expires_ms INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL,"
    "  revoked_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX api_keys_active_name ON api_keys(name) WHERE revoked_ms = 0;"
    "CREATE TABLE key_totals ("
    "  key_id INTEGER NOT NULL,"
    "  period TEXT NOT NULL,"
    "  tokens INTEGER NOT NULL,"
    "  PRIMARY KEY (key_id, period)) WITHOUT ROWID;"
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta (name, value) VALUES ('keys_version', 0);"
    "CREATE TRIGGER api_keys_inserted AFTER INSERT ON api_keys BEGIN"
    "  UPDATE meta SET value = value + 1 WHERE name = 'keys_version'; END;"
    "CREATE TRIGGER api_keys_updated AFTER UPDATE ON api_keys BEGIN"
    "  UPDATE meta SET value = value + 1 WHERE name = 'keys_version'; END;"
    "CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys BEGIN"
    "  UPDATE meta SET value = value + 1 WHERE name = 'keys_version'; END;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

int hr_store__schema_version(void)
{
    return SCHEMA_VERSION;
}

int64_t hr_store__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hr_store__periods(int64_t ms, char day[16], char month[16])
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    /* The moduli only tell the compiler the widths; gmtime_r's fields are in range. */
    unsigned year = (unsigned)(tm.tm_year + 1900) % 10000u;
    unsigned mon = (unsigned)(tm.tm_mon + 1) % 100u;
    unsigned mday = (unsigned)tm.tm_mday % 100u;
    snprintf(day, 16, "%04u-%02u-%02u", year, mon, mday);
    snprintf(month, 16, "%04u-%02u", year, mon);
}

/* SQLite's own text, on one line and short, for a diag. */
static void one_line(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap && i < 200; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    dst[i] = '\0';
}

static int corrupt(const char *path, const char *why, struct hr_diag *d)
{
    char msg[256];
    one_line(msg, sizeof msg, why);
    hr_diag_set(d, "%s: the database is corrupt (%s); restore it from a backup or move it away",
                path, msg);
    return HR_EFORMAT;
}

int hr_store__fail(sqlite3 *db, const char *path, const char *what, struct hr_diag *d)
{
    int code = sqlite3_errcode(db) & 0xff;
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
        return corrupt(path, sqlite3_errmsg(db), d);
    if (code == SQLITE_NOMEM)
        return HR_ENOMEM;
    char msg[256];
    one_line(msg, sizeof msg, sqlite3_errmsg(db));
    hr_diag_set(d, "%s: %s: %s", path, what, msg);
    return HR_EIO;
}

int hr_store__read_version(sqlite3 *db, const char *path, int *version, struct hr_diag *d)
{
    sqlite3_stmt *st = NULL;
    *version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (*version < 0) {
        int code = sqlite3_errcode(db) & 0xff;
        if (code == SQLITE_NOTADB) {
            hr_diag_set(d, "%s: not a SQLite database; move it away or choose another path",
                        path);
            return HR_EFORMAT;
        }
        return hr_store__fail(db, path, "cannot read the schema version", d);
    }
    if (*version > SCHEMA_VERSION) {
        hr_diag_set(d, "%s: database schema version %d is newer than this hearth supports (%d); "
                       "upgrade hearth", path, *version, SCHEMA_VERSION);
        return HR_EUNSUPPORTED;
    }
    return 0;
}

/* Runs one integrity pragma; any answer but "ok" (or an error on the way) is corruption. */
static int run_check(sqlite3 *db, const char *path, const char *sql, struct hr_diag *d)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return hr_store__fail(db, path, "cannot check the database", d);
    int rc = sqlite3_step(st);
    int result = 0;
    if (rc == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (!msg || strcmp(msg, "ok") != 0)
            result = corrupt(path, msg ? msg : "integrity check failed", d);
    } else {
        result = hr_store__fail(db, path, "cannot check the database", d);
    }
    sqlite3_finalize(st);
    return result;
}

/* quick_check reads every page (0.4 s warm, 4 s cold per million ledger rows), so only the
 * daemon's start-up and migrations pay for it; a keys call checks the tables it writes. A
 * damaged ledger page a keys call skips is still reported as corrupt where it is read. */
static int check(sqlite3 *db, const char *path, int version, enum hr_store_check what,
                 struct hr_diag *d)
{
    if (what == HR_STORE_CHECK_ALL || version < SCHEMA_VERSION)
        return run_check(db, path, "PRAGMA quick_check(1)", d);
    static const char *const key_tables[] = {
        "PRAGMA quick_check(api_keys)",
        "PRAGMA quick_check(key_totals)",
        "PRAGMA quick_check(meta)",
    };
    for (size_t i = 0; i < sizeof key_tables / sizeof key_tables[0]; i++) {
        int rc = run_check(db, path, key_tables[i], d);
        if (rc)
            return rc;
    }
    return 0;
}

/* Each step is its own IMMEDIATE transaction and re-reads the version inside it, so two
 * processes opening an old file at once migrate it exactly once. */
static int migrate(sqlite3 *db, const char *path, struct hr_diag *d)
{
    for (;;) {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return hr_store__fail(db, path, "cannot start the schema migration", d);
        int v;
        int rc = hr_store__read_version(db, path, &v, d);
        if (rc) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if (v >= SCHEMA_VERSION)
            break;
        char set_version[64];
        snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d", v + 1);
        char *err = NULL;
        if (sqlite3_exec(db, migrations[v], NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(db, set_version, NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
            char msg[256];
            one_line(msg, sizeof msg, err ? err : sqlite3_errmsg(db));
            hr_diag_set(d, "%s: schema migration to version %d failed: %s", path, v + 1, msg);
            sqlite3_free(err);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return HR_EIO;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return hr_store__fail(db, path, "cannot finish the schema migration", d);
    return 0;
}

/* The file will say who used what, so only its owner may read it. SQLite gives the -wal and
 * -shm files the database file's mode, so creating it 0600 covers all three. An existing
 * file keeps the mode its owner chose. */
static int create_private(const char *path, struct hr_diag *d)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0;
        hr_diag_set(d, "%s: cannot create the database: %s", path, strerror(errno));
        return HR_EIO;
    }
    /* umask may have cleared bits of 0600 too; the owner must read and write it. */
    int rc = fchmod(fd, 0600) == 0 ? 0 : HR_EIO;
    if (rc)
        hr_diag_set(d, "%s: cannot set mode 0600: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int hr_store__open_db(const char *path, enum hr_store_check what, sqlite3 **out,
                      struct hr_diag *d)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            hr_diag_set(d, "%s: %s", path, strerror(errno));
            return HR_EIO;
        }
        int rc = create_private(path, d);
        if (rc)
            return rc;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        hr_diag_set(d, "%s: cannot open the database: %s", path,
                    db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return db ? HR_EIO : HR_ENOMEM;
    }
    sqlite3_busy_timeout(db, HR_STORE_BUSY_MS);
    int version;
    int rc = hr_store__read_version(db, path, &version, d);
    if (!rc)
        rc = check(db, path, version, what, d);
    if (rc)
        goto fail;
    /* Readers (reports, `hearth keys`) never block the writer, nor it them. */
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK) {
        rc = hr_store__fail(db, path, "cannot switch to WAL", d);
        goto fail;
    }
    rc = migrate(db, path, d);
    if (rc)
        goto fail;
    *out = db;
    return 0;
fail:
    sqlite3_close(db);
    return rc;
}
