/* Logging through a sink the host installs. The engine never writes to stdout/stderr itself;
 * the daemon's sink writes one line per message to stderr, `hearth run` keeps stdout for the
 * answer. Formatting is skipped below the sink's level. Any thread. */
#ifndef HR_LOG_H
#define HR_LOG_H

enum hr_log_level {
    HR_LOG_DEBUG = 0,
    HR_LOG_INFO = 1,
    HR_LOG_WARN = 2,
    HR_LOG_ERROR = 3,
    HR_LOG_OFF = 4,
};

/* Receives a formatted message (no trailing newline). Called on the logging thread. */
typedef void (*hr_log_fn)(enum hr_log_level level, const char *component, const char *msg,
                          void *ud);

/* Installs the sink; NULL restores the default (stderr). Call before starting threads. */
void hr_log_set_sink(hr_log_fn fn, void *ud);
void hr_log_set_level(enum hr_log_level min_level);
enum hr_log_level hr_log_get_level(void);
const char *hr_log_level_name(enum hr_log_level level);

void hr_log(enum hr_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
