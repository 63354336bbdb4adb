/* A diagnostic: one human-readable line that says what is wrong and where (file, field,
 * offset, JSON param). Written where the fault is found; callers forward the pointer unchanged.
 * Every function taking `struct hr_diag *` accepts NULL. Any thread (one diag per call chain). */
#ifndef HR_DIAG_H
#define HR_DIAG_H

#include <stdarg.h>

#define HR_DIAG_MAX 512

struct hr_diag {
    char msg[HR_DIAG_MAX]; /* NUL-terminated; empty when nothing was reported */
};

/* Sets the message unless one is already set: the innermost finder of a fault wins. */
void hr_diag_set(struct hr_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void hr_diag_vset(struct hr_diag *d, const char *fmt, va_list ap);
/* Clears the message (before reusing a diag for a new operation). */
void hr_diag_clear(struct hr_diag *d);
/* The message, or "" when d is NULL or empty. */
const char *hr_diag_msg(const struct hr_diag *d);

#endif
