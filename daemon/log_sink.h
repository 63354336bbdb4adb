/* The daemon's log sink: one line per message on stderr — UTC time, level, component,
 * message — written with a single write(2) so lines from different threads never interleave.
 * Any thread once installed. */
#ifndef HR_LOG_SINK_H
#define HR_LOG_SINK_H

void hr_log_sink_install(void);

#endif
