/* A usage report (hr_store_usage_query's groups) as text: an aligned table for people, CSV
 * (RFC 4180) and JSON for programs. Shared by `hearth usage` and the daemon's GET /v1/usage,
 * so both print the same fields. Group names are data (key names and `user` values come from
 * clients): CSV and JSON carry them verbatim; only the table shortens them and masks control
 * characters. Any thread; no shared state.
 *
 * JSON shape (means in ms rounded to 0.1; times ISO 8601 UTC; key_id only when by key):
 *   {"object":"usage.report","by":"day|model|key|user","since":"...Z"|null,"until":...|null,
 *    "data":[{"group":"...","key_id":3,"requests":N,"errors":N,"prompt_tokens":N,
 *             "cached_tokens":N,"completion_tokens":N,"total_tokens":N,
 *             "mean_latency_ms":X,"mean_first_token_ms":X,"first":"...Z","last":"...Z"}],
 *    "total":{the same counters and means, "first"/"last" (null when there are no rows)}}
 * CSV: a header row, one row per group (no total row, so columns can be summed), CRLF line
 * ends: group[,key_id],requests,errors,prompt_tokens,cached_tokens,completion_tokens,
 *      total_tokens,mean_latency_ms,mean_first_token_ms,first,last */
#ifndef HR_USAGE_FORMAT_H
#define HR_USAGE_FORMAT_H

#include <stddef.h>
#include <stdio.h>

#include "daemon/store/store.h"

/* Aligned text tables, shared with `hearth keys list`: rows of cells, two spaces between
 * columns, the columns in left_mask (bit c: column c) left-aligned, the rest right-aligned. */
#define HR_TABLE_COLS_MAX 16
#define HR_TABLE_NAME_CHARS 32 /* names are cut to this many characters, "..." included */
#define HR_TABLE_CELL_MAX (HR_TABLE_NAME_CHARS * 4 + 8)
struct hr_table_row {
    char cell[HR_TABLE_COLS_MAX][HR_TABLE_CELL_MAX];
};
/* text as a table shows it: control bytes (which could move a terminal's cursor or recolour
 * it) become '?', and a name longer than HR_TABLE_NAME_CHARS is cut on a character boundary
 * and ends in "...". */
void hr_table_cell(char cell[HR_TABLE_CELL_MAX], const char *text);
/* 0, or HR_EIO when out fails. */
int hr_table_print(FILE *out, const struct hr_table_row *rows, size_t n_rows, int n_cols,
                   unsigned left_mask);

/* "day", "model", "key" or "user". */
const char *hr_usage_by_name(enum hr_usage_by by);
/* Sums of every group's counters; means weighted by each group's requests; first/last the
 * earliest and latest (0 when n is 0). group is "total", key_id 0. */
void hr_usage_total(const struct hr_usage_group *g, size_t n, struct hr_usage_group *total);
/* The table, with a header and a total line. 0, or HR_EIO when out fails. */
int hr_usage_table(FILE *out, const struct hr_usage_query *q, const struct hr_usage_group *g,
                   size_t n);
/* The CSV. 0, or HR_EIO when out fails. */
int hr_usage_csv(FILE *out, const struct hr_usage_query *q, const struct hr_usage_group *g,
                 size_t n);
/* The JSON document, compact, malloc'd (caller frees); NULL when out of memory. */
char *hr_usage_json(const struct hr_usage_query *q, const struct hr_usage_group *g, size_t n);

#endif
