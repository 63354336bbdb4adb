/* SHA-256 (FIPS 180-4), for the provenance of served model files: /v1/models reports the
 * digest of exactly the bytes being run. Any thread; no shared state. */
#ifndef HR_SHA256_H
#define HR_SHA256_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hr_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t block[64];
    size_t n_block; /* bytes waiting in block */
};

void hr_sha256_init(struct hr_sha256 *s);
void hr_sha256_update(struct hr_sha256 *s, const void *data, size_t n);
/* Writes the 32-byte digest; s must be re-initialised before reuse. */
void hr_sha256_final(struct hr_sha256 *s, uint8_t out[32]);
/* The digest of a whole file as 64 lowercase hex digits plus NUL; reads it in 1 MiB pieces.
 * 0, HR_EIO (errno kept), or HR_ECANCELED as soon as *stop (may be NULL) is set between
 * pieces. Blocks for as long as the file takes to read: worker threads. */
int hr_sha256_file(const char *path, const atomic_bool *stop, char hex[65]);

#endif
