/* The usage ledger in SQLite: one row per finished API request (counts and timings, never
 * prompt or answer text). The loop hands rows to a bounded in-memory queue; one writer thread
 * owns the only write connection and commits queued rows in one transaction at most every
 * 250 ms, so the loop never waits on disk. Rows are flushed on close. */
#ifndef HR_STORE_H
#define HR_STORE_H

#include <stdint.h>
#include <stdio.h>

#include "engine/base/diag.h"

struct hr_usage_row {
    char request_id[64];
    int64_t time_ms; /* unix ms at completion */
    char model[128];
    char endpoint[64];
    uint32_t prompt_tokens;
    uint32_t completion_tokens;
    uint32_t queue_ms;
    uint32_t first_token_ms;
    uint32_t latency_ms;
    int http_status;
    char finish_reason[16];
};

struct hr_store;

/* Opens (creating or migrating) the database and starts the writer thread. A database from a
 * newer hearth or a file that is not SQLite is refused with a diag naming it, never touched.
 * Main thread at start-up. */
int hr_store_open(struct hr_store **out, const char *path, struct hr_diag *d);
/* Queues a row; never blocks on disk. HR_EFULL when the queue is at its cap. Any thread. */
int hr_store_append(struct hr_store *s, const struct hr_usage_row *row);
/* Blocks until every row appended so far is committed (or failed for good). Any thread but
 * the loop (tests, shutdown). */
int hr_store_flush(struct hr_store *s);
/* Flushes, stops the writer and closes. Main thread at shutdown. */
void hr_store_close(struct hr_store *s);

/* Prints totals per UTC day and model (requests, tokens, errors, mean latency) from the
 * database at path, opened read-only. since_day: NULL or "YYYY-MM-DD". */
int hr_store_report(const char *path, FILE *out, const char *since_day, struct hr_diag *d);

#endif
