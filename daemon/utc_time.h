/* UTC dates and times for the command line and reports: parses the few forms an operator types
 * (a day, or a day and a time of day) into unix milliseconds, and formats milliseconds back as
 * ISO 8601. No time zones other than UTC, no locale. Any thread; no shared state. */
#ifndef HR_UTC_TIME_H
#define HR_UTC_TIME_H

#include <stdbool.h>
#include <stdint.h>

#define HR_UTC_ISO_MAX 21 /* "2026-12-01T10:00:00Z" and its NUL */
#define HR_UTC_DAY_MAX 11 /* "2026-12-01" and its NUL */

/* Parses `YYYY-MM-DD` or `YYYY-MM-DD[T| ]HH:MM[:SS][Z]` (a time without Z is UTC too) into
 * unix ms in *ms_out. A bare day means its first instant, or with next_day the first instant
 * of the day after (so an inclusive `--until DAY` becomes an exclusive bound). Years 1970 to
 * 9999. HR_EINVAL for anything else: impossible dates (2026-02-30), a time out of range,
 * missing digits, trailing characters. */
int hr_utc_parse_ms(const char *s, bool next_day, int64_t *ms_out);
/* ms as "YYYY-MM-DDTHH:MM:SSZ" (seconds truncated) into out; returns out. */
char *hr_utc_format_iso(int64_t ms, char out[HR_UTC_ISO_MAX]);
/* ms's UTC day as "YYYY-MM-DD" into out; returns out. */
char *hr_utc_format_day(int64_t ms, char out[HR_UTC_DAY_MAX]);
/* The wall clock in unix ms. */
int64_t hr_utc_now_ms(void);

#endif
