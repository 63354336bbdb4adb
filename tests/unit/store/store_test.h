/* Shared by the store's unit tests: one integer from a query on a read-only connection of
 * its own (what another process would read). Header-only: each test is one binary. */
#ifndef HR_STORE_TEST_H
#define HR_STORE_TEST_H

#include <sqlite3.h>

#include "testutil.h"

static inline long long st_query(const char *path, const char *sql)
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

#endif
