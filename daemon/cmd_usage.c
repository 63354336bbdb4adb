/* `hearth usage`: prints usage totals per day and model from the ledger. Main thread. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/store/store.h"
#include "engine/base/err.h"

int hr_cmd_usage(int argc, char **argv)
{
    const char *db = NULL, *since = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs("usage: hearth usage [--db FILE] [--since YYYY-MM-DD]\n\n"
                  "Prints requests, tokens, errors and mean latency per UTC day and model.\n"
                  "  --db FILE     usage database (default: DATA_DIR/hearth.db)\n"
                  "  --since DAY   only days from DAY on\n",
                  stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hearth: usage: %s: missing value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--db") == 0)
            db = argv[++i];
        else if (strcmp(argv[i], "--since") == 0)
            since = argv[++i];
        else {
            fprintf(stderr, "hearth: usage: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    int y, m, dd;
    char tail;
    if (since && (sscanf(since, "%4d-%2d-%2d%c", &y, &m, &dd, &tail) != 3 || strlen(since) != 10)) {
        fprintf(stderr, "hearth: usage: --since: expected YYYY-MM-DD, got '%s'\n", since);
        return 2;
    }
    char path[4200];
    if (!db) {
        struct hr_config cfg;
        hr_config_defaults(&cfg);
        char dir[4096];
        snprintf(path, sizeof path, "%s/hearth.db", hr_config_data_dir(&cfg, dir, sizeof dir));
        db = path;
    }
    struct stat st;
    if (stat(db, &st) != 0) {
        fprintf(stderr, "hearth: %s: no usage database (has the daemon run?)\n", db);
        return 1;
    }
    struct hr_diag d = {{0}};
    int rc = hr_store_report(db, stdout, since, &d);
    if (rc) {
        fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        return 1;
    }
    return 0;
}
