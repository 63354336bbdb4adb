/* Internals shared by the store's files (schema and open, store thread, keys, queries);
 * nothing outside daemon/store includes this. */
#ifndef HR_STORE_INT_H
#define HR_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define HR_STORE_BUSY_MS 5000 /* every connection waits this long for another's lock */

/* How much of the file hr_store__open_db proves sound before touching it. */
enum hr_store_check {
    HR_STORE_CHECK_ALL,  /* every page (daemon start-up) */
    HR_STORE_CHECK_KEYS, /* the small key tables only (each `hearth keys` call) */
};

/* Opens path read-write, creating it with mode 0600 when absent, refuses (without writing a
 * byte) a file that is not SQLite, a newer schema or a corrupt database, then switches to WAL
 * and migrates. *out: close with sqlite3_close. */
int hr_store__open_db(const char *path, enum hr_store_check check, sqlite3 **out,
                      struct hr_diag *d);
/* The schema version in *version; refuses a file that is not SQLite or a newer schema. */
int hr_store__read_version(sqlite3 *db, const char *path, int *version, struct hr_diag *d);
/* The diag for an SQLite error met while reading or writing path; returns the HR_E* code. */
int hr_store__fail(sqlite3 *db, const char *path, const char *what, struct hr_diag *d);
/* The current schema version (number of migrations). */
int hr_store__schema_version(void);

/* Wall-clock unix ms. */
int64_t hr_store__now_ms(void);
/* ms's UTC day "YYYY-MM-DD" and month "YYYY-MM", the key_totals periods. */
void hr_store__periods(int64_t ms, char day[16], char month[16]);

/* Every key (active ones only unless with_revoked), oldest first, with the totals of now_ms's
 * UTC day and month; one read transaction must be open (or autocommit). *out malloc'd, NULL
 * when *n is 0. */
int hr_store__read_keys(sqlite3 *db, const char *path, bool with_revoked, int64_t now_ms,
                        struct hr_key **out, size_t *n, struct hr_diag *d);

#endif
