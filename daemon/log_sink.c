/* stderr log lines for the daemon (see log_sink.h). Control characters in messages are
 * escaped so untrusted text cannot forge log lines. Any thread. */
#include "log_sink.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/log.h"

static void sink(enum hr_log_level level, const char *component, const char *msg, void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1400];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, hr_log_level_name(level), component);
    size_t o = n > 0 ? (size_t)n : 0;
    for (const char *p = msg; *p && o + 5 < sizeof line; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7F)
            o += (size_t)snprintf(line + o, sizeof line - o, "\\x%02x", c);
        else
            line[o++] = (char)c;
    }
    line[o++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, o);
    (void)w; /* nowhere to report a failing stderr */
}

void hr_log_sink_install(void)
{
    hr_log_set_sink(sink, NULL);
}
