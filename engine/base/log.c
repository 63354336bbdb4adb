/* Log sink dispatch (see log.h). The level is read without a lock: a stale read only changes
 * whether one message is formatted. Any thread. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static hr_log_fn sink;
static void *sink_ud;
static volatile int min_level = HR_LOG_INFO;

void hr_log_set_sink(hr_log_fn fn, void *ud)
{
    sink = fn;
    sink_ud = ud;
}

void hr_log_set_level(enum hr_log_level level)
{
    min_level = (int)level;
}

enum hr_log_level hr_log_get_level(void)
{
    return (enum hr_log_level)min_level;
}

const char *hr_log_level_name(enum hr_log_level level)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    return (unsigned)level <= HR_LOG_OFF ? names[level] : "?";
}

void hr_log(enum hr_log_level level, const char *component, const char *fmt, ...)
{
    if ((int)level < min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sink)
        sink(level, component, msg, sink_ud);
    else
        fprintf(stderr, "%s %s: %s\n", hr_log_level_name(level), component, msg);
}
