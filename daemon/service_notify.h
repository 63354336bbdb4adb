/* Telling the service manager how the daemon is doing, when systemd runs it with
 * Type=notify: READY=1 once it listens, STOPPING=1 when a signal stops it, WATCHDOG=1 at half
 * the unit's WatchdogSec from the loop (so a stuck loop gets the daemon restarted). Needs
 * libsystemd at build time; without it every call does nothing. Loop thread. */
#ifndef HR_SERVICE_NOTIFY_H
#define HR_SERVICE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Sends state (e.g. "READY=1\nSTATUS=listening on ...") when NOTIFY_SOCKET is set. */
void hr_service_notify(const char *state);
/* The watchdog period the manager asked for in microseconds; 0 when it asked for none. */
uint64_t hr_service_watchdog_usec(void);
/* Whether this build can talk to systemd at all. */
bool hr_service_notify_built(void);

#endif
