/* Helpers shared by the unit tests: locating ../shared data (tests skip cleanly without it)
 * and temporary files. */
#ifndef HR_TESTUTIL_H
#define HR_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Path of a file under the shared data folder (HEARTH_SHARED or ../shared from the checkout)
 * in buf; NULL when it does not exist. */
const char *tu_shared_path(const char *rel, char *buf, size_t cap);
/* Whole file into a malloc'd NUL-terminated buffer (caller frees); NULL on failure. */
char *tu_read_file(const char *path, size_t *n_out);
/* A fresh temporary directory (created) for this test process; same value on every call. */
const char *tu_tmpdir(void);
/* tu_tmpdir()/name in buf. */
const char *tu_tmpfile(const char *name, char *buf, size_t cap);

#endif
