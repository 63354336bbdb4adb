/* `hearth usage`: usage totals from the ledger grouped by UTC day, model, key or user, as a
 * table, CSV or JSON (usage_format.c, the same text as GET /v1/usage); several --db merge
 * replicas' ledgers into one report (usage_merge.c). Reads through the store's read-only
 * report call, so it works while the daemon writes. Main thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/commands.h"
#include "daemon/store/store.h"
#include "daemon/usage_format.h"
#include "daemon/usage_merge.h"
#include "daemon/utc_time.h"
#include "engine/base/err.h"

static void print_help(void)
{
    fputs("usage: hearth usage [--since WHEN] [--until WHEN] [--by day|model|key|user]\n"
          "                    [--format table|csv|json] [--db FILE | --config FILE |\n"
          "                    --data-dir DIR]\n"
          "\n"
          "Prints requests, errors, tokens (prompt, cached, completion, total) and mean\n"
          "latency and time to first token per group of the usage ledger.\n"
          "  --since WHEN   rows from WHEN on: YYYY-MM-DD (that UTC day's start) or\n"
          "                 YYYY-MM-DDTHH:MM[:SS]Z\n"
          "  --until WHEN   rows before WHEN; a bare YYYY-MM-DD includes that whole day\n"
          "  --by KIND      group by UTC day (default), model, key (by id: a reused name\n"
          "                 shows twice) or the requests' user field\n"
          "  --format F     table (default), csv (RFC 4180, a header row, no total row) or\n"
          "                 json ({\"object\":\"usage.report\",...}, as GET /v1/usage)\n"
          "  --db FILE      the database; else --config FILE's db or data_dir, else\n"
          "                 --data-dir DIR, else DATA_DIR/hearth.db as `hearth serve` uses.\n"
          "                 Given more than once (replicas' ledgers), the groups of every\n"
          "                 database are added up (keys by name)\n",
          stdout);
}

static int bad_value(const char *opt, const char *expected, const char *got)
{
    fprintf(stderr, "hearth: usage: %s: expected %s, got '%.200s'\n", opt, expected, got);
    return 2;
}

enum format { TABLE, CSV, JSON };

/* Replicas one report may merge. */
#define MAX_DBS 64

/* The groups of path added into *g. 0, or an exit status after printing why. */
static int query_into(const char *path, const struct hr_usage_query *q,
                      struct hr_usage_group **g, size_t *n)
{
    /* Checked here, not left to SQLite, so a wrong path is not silently a new empty file. */
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "hearth: usage: %s: no usage database (has the daemon run?)\n", path);
        return 1;
    }
    struct hr_usage_group *one = NULL;
    size_t n_one = 0;
    struct hr_diag d = {{0}};
    int rc = hr_store_usage_query(path, q, &one, &n_one, &d);
    if (rc == 0 && !*g) {
        *g = one;
        *n = n_one;
        return 0;
    }
    if (rc == 0)
        rc = hr_usage_merge(g, n, one, n_one);
    free(one);
    if (rc) {
        fprintf(stderr, "hearth: usage: %s: %s\n", path, d.msg[0] ? d.msg : hr_err_str(rc));
        return 1;
    }
    return 0;
}

int hr_cmd_usage(int argc, char **argv)
{
    struct hr_cmd_db db = {0};
    struct hr_usage_query q = {.by = HR_USAGE_BY_DAY};
    enum format fmt = TABLE;
    const char *dbs[MAX_DBS];
    size_t n_dbs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help();
            return 0;
        }
        int r = hr_cmd_opt("usage", argc, argv, &i, "--db", &v);
        if (r == 1) {
            if (n_dbs == MAX_DBS)
                return bad_value("--db", "at most 64 databases", v);
            dbs[n_dbs++] = v;
        }
        if (r == 0)
            r = hr_cmd_db_opt("usage", argc, argv, &i, &db);
        if (r == 0 && (r = hr_cmd_opt("usage", argc, argv, &i, "--since", &v)) == 1) {
            if (hr_utc_parse_ms(v, false, &q.since_ms) != 0)
                return bad_value("--since", "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z", v);
        } else if (r == 0 && (r = hr_cmd_opt("usage", argc, argv, &i, "--until", &v)) == 1) {
            if (hr_utc_parse_ms(v, true, &q.until_ms) != 0)
                return bad_value("--until", "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z", v);
        } else if (r == 0 && (r = hr_cmd_opt("usage", argc, argv, &i, "--by", &v)) == 1) {
            if (strcmp(v, "day") == 0)
                q.by = HR_USAGE_BY_DAY;
            else if (strcmp(v, "model") == 0)
                q.by = HR_USAGE_BY_MODEL;
            else if (strcmp(v, "key") == 0)
                q.by = HR_USAGE_BY_KEY;
            else if (strcmp(v, "user") == 0)
                q.by = HR_USAGE_BY_USER;
            else
                return bad_value("--by", "day, model, key or user", v);
        } else if (r == 0 && (r = hr_cmd_opt("usage", argc, argv, &i, "--format", &v)) == 1) {
            if (strcmp(v, "table") == 0)
                fmt = TABLE;
            else if (strcmp(v, "csv") == 0)
                fmt = CSV;
            else if (strcmp(v, "json") == 0)
                fmt = JSON;
            else
                return bad_value("--format", "table, csv or json", v);
        }
        if (r == 2)
            return 2;
        if (r == 0) {
            fprintf(stderr, "hearth: usage: unknown option '%.200s' (see hearth usage --help)\n",
                    a);
            return 2;
        }
    }
    if (q.since_ms && q.until_ms && q.until_ms <= q.since_ms) {
        fprintf(stderr, "hearth: usage: --until: must be later than --since\n");
        return 2;
    }
    struct hr_usage_group *g = NULL;
    size_t n = 0;
    int rc = 0;
    if (n_dbs == 0) {
        char path[HR_CMD_DB_PATH_MAX];
        rc = hr_cmd_db_path(&db, path);
        if (rc)
            return rc;
        rc = query_into(path, &q, &g, &n);
    }
    for (size_t k = 0; rc == 0 && k < n_dbs; k++)
        rc = query_into(dbs[k], &q, &g, &n);
    if (rc) {
        free(g);
        return rc;
    }
    if (fmt == JSON) {
        char *text = hr_usage_json(&q, g, n);
        if (text)
            puts(text);
        else
            rc = HR_ENOMEM;
        free(text);
    } else {
        rc = fmt == CSV ? hr_usage_csv(stdout, &q, g, n) : hr_usage_table(stdout, &q, g, n);
    }
    free(g);
    if (rc == 0 && fflush(stdout) != 0)
        rc = HR_EIO;
    if (rc) {
        fprintf(stderr, "hearth: usage: %s\n", hr_err_str(rc));
        return 1;
    }
    return 0;
}
