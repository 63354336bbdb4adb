/* See service_notify.h. libsystemd does the protocol (a datagram to $NOTIFY_SOCKET). */
#include "service_notify.h"

#include <stdlib.h>

#if defined(HEARTH_HAVE_SYSTEMD)
#include <systemd/sd-daemon.h>

void hr_service_notify(const char *state)
{
    sd_notify(0, state);
}

uint64_t hr_service_watchdog_usec(void)
{
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

bool hr_service_notify_built(void)
{
    return true;
}

#else

void hr_service_notify(const char *state)
{
    (void)state;
}

uint64_t hr_service_watchdog_usec(void)
{
    return 0;
}

bool hr_service_notify_built(void)
{
    return false;
}

#endif
