/* API key secrets: generation, the hash the store keeps in place of the secret, the hint shown
 * in lists, and a constant-time comparison of hashes for auth. Any thread; no shared state.
 *
 * A secret is "hk_" and 43 base62 digits (0-9A-Za-z): 32 bytes from the kernel's CSPRNG read
 * as one big-endian number, written in base 62 with leading zeros to a fixed width (62^43 >
 * 2^256, so every 32-byte value has exactly one 43-digit spelling). */
#ifndef HR_API_KEY_H
#define HR_API_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/diag.h"

#define HR_API_KEY_PREFIX "hk_"
#define HR_API_KEY_DIGITS 43
#define HR_API_KEY_LEN 46      /* prefix + digits, without the NUL */
#define HR_API_KEY_HINT_MAX 24 /* "hk_" + 4 + "..." + 4 and its NUL fit; same as hr_key.hint */

/* A fresh secret (NUL-terminated) with its SHA-256 and hint. HR_EIO with a diag when the
 * kernel gives no random bytes; it never falls back to a weaker source. The caller should
 * wipe secret when done with it. */
int hr_api_key_generate(char secret[HR_API_KEY_LEN + 1], uint8_t hash[32],
                        char hint[HR_API_KEY_HINT_MAX], struct hr_diag *d);
/* The secret spelling of 32 given bytes (generate's encoding, exposed for tests). */
void hr_api_key_encode(const uint8_t bytes[32], char secret[HR_API_KEY_LEN + 1]);
/* "hk_" + the first 4 + "..." + the last 4 characters after the prefix; a secret too short
 * for that (not one of ours) gives "hk_...". */
void hr_api_key_hint(const char *secret, char hint[HR_API_KEY_HINT_MAX]);
/* SHA-256 of the n bytes of secret as presented (prefix included). */
void hr_api_key_hash(const char *secret, size_t n, uint8_t out[32]);
/* Whether two hashes are equal, in time independent of where they differ. */
bool hr_api_key_equal(const uint8_t a[32], const uint8_t b[32]);

#endif
