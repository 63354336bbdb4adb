/* TLS material for `hearth serve --tls-cert FILE --tls-key FILE`: both PEM files read at
 * start-up, checked with GnuTLS (parsable, the key matches the certificate), and handed as
 * text to libmicrohttpd, which then serves HTTPS. Main thread, before the loop runs. */
#ifndef HR_TLS_H
#define HR_TLS_H

#include "engine/base/diag.h"

/* The PEM texts, NUL-terminated and malloc'd; both NULL when TLS is off. */
struct hr_tls {
    char *cert_pem; /* the certificate, then any intermediates */
    char *key_pem;
};

/* Reads and checks cert_path and key_path (both "" = TLS off: *out stays empty). Logs the
 * certificate's expiry, and warns when it has passed or is less than 14 days away. HR_EINVAL
 * with a diag naming the flag and file when one is given without the other, a file cannot be
 * read or is larger than 1 MiB, it is not PEM, or the key does not match; the caller frees
 * *out with hr_tls_free either way. */
int hr_tls_load(const char *cert_path, const char *key_path, struct hr_tls *out,
                struct hr_diag *d);
void hr_tls_free(struct hr_tls *t);

#endif
