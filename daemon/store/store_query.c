/* Grouped usage reports (`hearth usage`, GET /v1/usage) over a read-only connection, which
 * in WAL mode neither waits for nor blocks the daemon's writer. Never creates or migrates
 * the file. Any thread but the loop. */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/err.h"

/* The grouping column is picked from this fixed list by the enum; data only ever arrives as
 * bound parameters. Rows of two keys that share a name (one revoked) stay apart by key_id. */
#define QUERY(group, key)                                                                    \
    "SELECT " group ", " key ", COUNT(*), SUM(u.http_status >= 400), SUM(u.prompt_tokens), " \
    "SUM(u.cached_tokens), SUM(u.completion_tokens), AVG(u.latency_ms), "                    \
    "AVG(u.first_token_ms), MIN(u.time_ms), MAX(u.time_ms) "                                 \
    "FROM usage u LEFT JOIN api_keys k ON k.id = u.key_id "                                  \
    "WHERE u.time_ms >= ?1 AND (?2 = 0 OR u.time_ms < ?2) "                                  \
    "GROUP BY 1, 2 ORDER BY 1, 2"

static const char *const queries[] = {
    [HR_USAGE_BY_DAY] = QUERY("strftime('%Y-%m-%d', u.time_ms / 1000, 'unixepoch')", "0"),
    [HR_USAGE_BY_MODEL] = QUERY("u.model", "0"),
    [HR_USAGE_BY_KEY] = QUERY("CASE WHEN u.key_id = 0 THEN '' ELSE COALESCE(k.name, '') END",
                              "u.key_id"),
    [HR_USAGE_BY_USER] = QUERY("COALESCE(u.user, '')", "0"),
};

/* Copies at most cap - 1 bytes, backing off so a UTF-8 sequence is never cut in half. */
static void copy_group(char *dst, size_t cap, const unsigned char *src, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && (src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static int open_readonly(const char *path, sqlite3 **db, struct hr_diag *d)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) {
            hr_diag_set(d, "%s: no usage database here (the daemon creates it when it starts)",
                        path);
            return HR_ENOTFOUND;
        }
        hr_diag_set(d, "%s: %s", path, strerror(errno));
        return HR_EIO;
    }
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        hr_diag_set(d, "%s: cannot open the database: %s", path,
                    *db ? sqlite3_errmsg(*db) : "out of memory");
        return *db ? HR_EIO : HR_ENOMEM;
    }
    sqlite3_busy_timeout(*db, HR_STORE_BUSY_MS);
    int version;
    int rc = hr_store__read_version(*db, path, &version, d);
    if (!rc && version < hr_store__schema_version()) {
        hr_diag_set(d, "%s: database schema version %d is older than this hearth's (%d); start "
                       "hearth serve once to upgrade it", path, version,
                    hr_store__schema_version());
        rc = HR_EUNSUPPORTED;
    }
    return rc;
}

int hr_store_usage_query(const char *path, const struct hr_usage_query *q,
                         struct hr_usage_group **out, size_t *n, struct hr_diag *d)
{
    *out = NULL;
    *n = 0;
    if ((unsigned)q->by >= sizeof queries / sizeof queries[0] || q->since_ms < 0 ||
        q->until_ms < 0) {
        hr_diag_set(d, "%s: bad usage query", path);
        return HR_EINVAL;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    struct hr_usage_group *groups = NULL;
    size_t count = 0, cap = 0;
    int rc = open_readonly(path, &db, d);
    if (rc)
        goto fail;
    if (sqlite3_prepare_v2(db, queries[q->by], -1, &st, NULL) != SQLITE_OK) {
        rc = hr_store__fail(db, path, "not a hearth usage database", d);
        goto fail;
    }
    sqlite3_bind_int64(st, 1, q->since_ms);
    sqlite3_bind_int64(st, 2, q->until_ms);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct hr_usage_group *grown = realloc(groups, ncap * sizeof *groups);
            if (!grown) {
                rc = HR_ENOMEM;
                goto fail;
            }
            groups = grown;
            cap = ncap;
        }
        struct hr_usage_group *g = &groups[count++];
        memset(g, 0, sizeof *g);
        const unsigned char *text = sqlite3_column_text(st, 0);
        copy_group(g->group, sizeof g->group, text ? text : (const unsigned char *)"",
                   text ? (size_t)sqlite3_column_bytes(st, 0) : 0);
        g->key_id = sqlite3_column_int64(st, 1);
        g->requests = sqlite3_column_int64(st, 2);
        g->errors = sqlite3_column_int64(st, 3);
        g->prompt_tokens = sqlite3_column_int64(st, 4);
        g->cached_tokens = sqlite3_column_int64(st, 5);
        g->completion_tokens = sqlite3_column_int64(st, 6);
        g->mean_latency_ms = sqlite3_column_double(st, 7);
        g->mean_first_token_ms = sqlite3_column_double(st, 8);
        g->first_ms = sqlite3_column_int64(st, 9);
        g->last_ms = sqlite3_column_int64(st, 10);
    }
    if (step != SQLITE_DONE) {
        rc = hr_store__fail(db, path, "cannot read the usage rows", d);
        goto fail;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    *out = groups;
    *n = count;
    return 0;
fail:
    free(groups);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}
