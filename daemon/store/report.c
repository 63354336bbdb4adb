/* `hearth usage` report: totals per UTC day and model from the usage table, read through a
 * read-only connection so it can run while the daemon writes. Main thread. */
#include <sqlite3.h>
#include <string.h>

#include "engine/base/err.h"
#include "store.h"

int hr_store_report(const char *path, FILE *out, const char *since_day, struct hr_diag *d)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        hr_diag_set(d, "%s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return HR_EIO;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    const char *sql =
        "SELECT strftime('%Y-%m-%d', time_ms / 1000, 'unixepoch') AS day, model, COUNT(*), "
        "SUM(prompt_tokens), SUM(completion_tokens), SUM(http_status >= 400), "
        "AVG(latency_ms) FROM usage WHERE day >= ?1 GROUP BY day, model ORDER BY day, model";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        hr_diag_set(d, "%s: not a hearth usage database: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return HR_EFORMAT;
    }
    sqlite3_bind_text(st, 1, since_day ? since_day : "0000-00-00", -1, SQLITE_STATIC);
    fprintf(out, "%-10s  %-24s %9s %14s %14s %7s %10s\n", "day", "model", "requests",
            "prompt_tok", "completion_tok", "errors", "mean_ms");
    long long t_req = 0, t_pt = 0, t_ct = 0, t_err = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long req = sqlite3_column_int64(st, 2), pt = sqlite3_column_int64(st, 3);
        long long ct = sqlite3_column_int64(st, 4), err = sqlite3_column_int64(st, 5);
        fprintf(out, "%-10s  %-24.24s %9lld %14lld %14lld %7lld %10.0f\n",
                (const char *)sqlite3_column_text(st, 0),
                (const char *)sqlite3_column_text(st, 1), req, pt, ct, err,
                sqlite3_column_double(st, 6));
        t_req += req;
        t_pt += pt;
        t_ct += ct;
        t_err += err;
    }
    int result = 0;
    if (rc != SQLITE_DONE) {
        hr_diag_set(d, "%s: %s", path, sqlite3_errmsg(db));
        result = HR_EIO;
    } else {
        fprintf(out, "%-10s  %-24s %9lld %14lld %14lld %7lld\n", "total", "", t_req, t_pt, t_ct,
                t_err);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return result;
}
