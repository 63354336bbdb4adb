/* UTC parsing and formatting (see utc_time.h). The parser reads fixed-width digit fields by
 * hand rather than with sscanf, which would accept signs, spaces and short fields; timegm then
 * turns the checked fields into seconds. Any thread. */
#include "daemon/utc_time.h"

#include <stddef.h>
#include <time.h>

#include "engine/base/err.h"

/* Reads exactly n decimal digits at *p; -1 when any is missing. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

int hr_utc_parse_ms(const char *s, bool next_day, int64_t *ms_out)
{
    if (!s)
        return HR_EINVAL;
    const char *p = s;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return HR_EINVAL;
    int mo = digits(&p, 2);
    if (mo < 0 || *p++ != '-')
        return HR_EINVAL;
    int d = digits(&p, 2);
    if (d < 0)
        return HR_EINVAL;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
        return HR_EINVAL;
    int h = 0, mi = 0, sec = 0;
    bool has_time = false;
    if (*p == 'T' || *p == ' ') {
        p++;
        has_time = true;
        h = digits(&p, 2);
        if (h < 0 || *p++ != ':')
            return HR_EINVAL;
        mi = digits(&p, 2);
        if (mi < 0)
            return HR_EINVAL;
        if (*p == ':') {
            p++;
            sec = digits(&p, 2);
            if (sec < 0)
                return HR_EINVAL;
        }
        /* A leap second (:60) is refused: unix time has no place for it. */
        if (h > 23 || mi > 59 || sec > 59)
            return HR_EINVAL;
        if (*p == 'Z')
            p++;
    }
    if (*p != '\0')
        return HR_EINVAL;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d + (!has_time && next_day ? 1 : 0); /* timegm carries into the next month */
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return HR_EINVAL;
    *ms_out = (int64_t)t * 1000;
    return 0;
}

/* Splits ms into a broken-down UTC time, rounding toward the earlier second for negative ms. */
static void split(int64_t ms, struct tm *tm)
{
    int64_t sec = ms / 1000;
    if (ms % 1000 < 0)
        sec--;
    time_t t = (time_t)sec;
    if (!gmtime_r(&t, tm))
        *tm = (struct tm){.tm_year = 70, .tm_mday = 1};
}

/* Writes v as exactly n decimal digits (the fields' ranges are known, so nothing is cut). */
static char *put(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

char *hr_utc_format_iso(int64_t ms, char out[HR_UTC_ISO_MAX])
{
    struct tm tm;
    split(ms, &tm);
    hr_utc_format_day(ms, out);
    char *p = out + HR_UTC_DAY_MAX - 1;
    *p++ = 'T';
    p = put(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put(p, tm.tm_min, 2);
    *p++ = ':';
    p = put(p, tm.tm_sec, 2);
    *p++ = 'Z';
    *p = '\0';
    return out;
}

char *hr_utc_format_day(int64_t ms, char out[HR_UTC_DAY_MAX])
{
    struct tm tm;
    split(ms, &tm);
    int y = tm.tm_year + 1900;
    if (y < 0 || y > 9999) /* outside what the parser accepts: clamp rather than overflow */
        y = y < 0 ? 0 : 9999;
    char *p = put(out, y, 4);
    *p++ = '-';
    p = put(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put(p, tm.tm_mday, 2);
    *p = '\0';
    return out;
}

int64_t hr_utc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
