/* Diagnostic lines (see diag.h). Any thread. */
#include "diag.h"

#include <stdio.h>

void hr_diag_vset(struct hr_diag *d, const char *fmt, va_list ap)
{
    if (!d || d->msg[0])
        return;
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
}

void hr_diag_set(struct hr_diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hr_diag_vset(d, fmt, ap);
    va_end(ap);
}

void hr_diag_clear(struct hr_diag *d)
{
    if (d)
        d->msg[0] = '\0';
}

const char *hr_diag_msg(const struct hr_diag *d)
{
    return d ? d->msg : "";
}
