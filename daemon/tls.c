/* See tls.h. GnuTLS checks the pair here, where the flag and file can be named; libmicrohttpd
 * would only fail to start with a message of its own. Main thread, at start-up. */
#include "tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/small_file.h"
#include "engine/base/err.h"
#include "engine/base/log.h"

/* A certificate chain or key in PEM is a few KiB; anything near this is not one. */
#define TLS_FILE_MAX (1u << 20)
#define EXPIRY_WARN_S (14 * 86400)

static char *read_pem(const char *flag, const char *path, struct hr_diag *d)
{
    size_t len = 0;
    char *pem = hr_read_small_file(path, TLS_FILE_MAX, &len);
    if (!pem) {
        hr_diag_set(d, "%s %s: cannot read: %s", flag, path,
                    errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
        return NULL;
    }
    if (!strstr(pem, "-----BEGIN ")) {
        hr_diag_set(d, "%s %s: not a PEM file (no -----BEGIN line)", flag, path);
        free(pem);
        return NULL;
    }
    return pem;
}

/* Logs when the first certificate of the chain expires; warns when that is near or past. */
static void log_expiry(const char *cert_path, const char *pem)
{
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0)
        return;
    gnutls_datum_t dat = {(unsigned char *)(uintptr_t)pem, (unsigned int)strlen(pem)};
    if (gnutls_x509_crt_import(crt, &dat, GNUTLS_X509_FMT_PEM) >= 0) {
        time_t until = gnutls_x509_crt_get_expiration_time(crt);
        char when[32] = "?";
        struct tm tm;
        if (until != (time_t)-1 && gmtime_r(&until, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        time_t now = time(NULL);
        if (until != (time_t)-1 && until < now)
            hr_log(HR_LOG_WARN, "tls", "%s: the certificate EXPIRED at %s: clients will refuse "
                                       "it", cert_path, when);
        else if (until != (time_t)-1 && until - now < EXPIRY_WARN_S)
            hr_log(HR_LOG_WARN, "tls", "%s: the certificate expires soon, at %s", cert_path,
                   when);
        else
            hr_log(HR_LOG_INFO, "tls", "%s: certificate valid until %s", cert_path, when);
    }
    gnutls_x509_crt_deinit(crt);
}

int hr_tls_load(const char *cert_path, const char *key_path, struct hr_tls *out,
                struct hr_diag *d)
{
    out->cert_pem = out->key_pem = NULL;
    if (!cert_path[0] && !key_path[0])
        return 0;
    if (!cert_path[0] || !key_path[0]) {
        hr_diag_set(d, "%s: given without %s: HTTPS needs both", cert_path[0] ? "--tls-cert"
                                                                              : "--tls-key",
                    cert_path[0] ? "--tls-key" : "--tls-cert");
        return HR_EINVAL;
    }
    out->cert_pem = read_pem("--tls-cert", cert_path, d);
    out->key_pem = out->cert_pem ? read_pem("--tls-key", key_path, d) : NULL;
    if (!out->key_pem)
        return HR_EINVAL;
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        hr_diag_set(d, "--tls-cert %s: GnuTLS could not start", cert_path);
        return HR_ENOMEM;
    }
    gnutls_datum_t c = {(unsigned char *)out->cert_pem, (unsigned int)strlen(out->cert_pem)};
    gnutls_datum_t k = {(unsigned char *)out->key_pem, (unsigned int)strlen(out->key_pem)};
    int rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(cred);
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        hr_diag_set(d, "--tls-key %s: does not match the certificate in %s", key_path,
                    cert_path);
        return HR_EINVAL;
    }
    if (rc < 0) {
        hr_diag_set(d, "--tls-cert %s / --tls-key %s: %s", cert_path, key_path,
                    gnutls_strerror(rc));
        return HR_EINVAL;
    }
    log_expiry(cert_path, out->cert_pem);
    return 0;
}

void hr_tls_free(struct hr_tls *t)
{
    if (t->key_pem) /* the private key does not outlive its use in freed heap pages */
        explicit_bzero(t->key_pem, strlen(t->key_pem));
    free(t->cert_pem);
    free(t->key_pem);
    t->cert_pem = t->key_pem = NULL;
}
