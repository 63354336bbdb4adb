/* API key secrets (see api_key.h). The random bytes come from getrandom(2) only: a key
 * derived from anything weaker would be guessable, so failure is reported, never papered
 * over. Any thread. */
#include "daemon/api_key.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "daemon/sha256.h"
#include "engine/base/err.h"

static const char alphabet[63] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void hr_api_key_encode(const uint8_t bytes[32], char secret[HR_API_KEY_LEN + 1])
{
    /* Schoolbook division of the 256-bit number by 62, once per digit, least significant
     * digit first; the working copy is wiped because it is the secret in another form. */
    uint8_t num[32];
    memcpy(num, bytes, sizeof num);
    const size_t pre = sizeof HR_API_KEY_PREFIX - 1;
    memcpy(secret, HR_API_KEY_PREFIX, pre);
    for (int i = HR_API_KEY_DIGITS - 1; i >= 0; i--) {
        unsigned rem = 0;
        for (size_t j = 0; j < sizeof num; j++) {
            unsigned cur = (rem << 8) | num[j];
            num[j] = (uint8_t)(cur / 62);
            rem = cur % 62;
        }
        secret[pre + (size_t)i] = alphabet[rem];
    }
    secret[HR_API_KEY_LEN] = '\0';
    explicit_bzero(num, sizeof num);
}

void hr_api_key_hint(const char *secret, char hint[HR_API_KEY_HINT_MAX])
{
    const size_t pre = sizeof HR_API_KEY_PREFIX - 1;
    size_t n = strlen(secret);
    if (n < pre + 8 || strncmp(secret, HR_API_KEY_PREFIX, pre) != 0) {
        memcpy(hint, "hk_...", sizeof "hk_...");
        return;
    }
    memcpy(hint, secret, pre + 4);
    memcpy(hint + pre + 4, "...", 3);
    memcpy(hint + pre + 7, secret + n - 4, 4);
    hint[pre + 11] = '\0';
}

void hr_api_key_hash(const char *secret, size_t n, uint8_t out[32])
{
    struct hr_sha256 s;
    hr_sha256_init(&s);
    hr_sha256_update(&s, secret, n);
    hr_sha256_final(&s, out);
    explicit_bzero(&s, sizeof s);
}

bool hr_api_key_equal(const uint8_t a[32], const uint8_t b[32])
{
    /* Accumulate every difference so the loop's length never depends on the data. */
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < 32; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

/* Fills buf from the kernel CSPRNG, retrying interrupted and short reads. */
static int random_bytes(uint8_t *buf, size_t n, struct hr_diag *d)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            hr_diag_set(d, "getrandom: %s (no key made: there is no safe fallback)",
                        strerror(errno));
            return HR_EIO;
        }
        got += (size_t)r;
    }
    return 0;
}

int hr_api_key_generate(char secret[HR_API_KEY_LEN + 1], uint8_t hash[32],
                        char hint[HR_API_KEY_HINT_MAX], struct hr_diag *d)
{
    uint8_t raw[32];
    int rc = random_bytes(raw, sizeof raw, d);
    if (rc) {
        explicit_bzero(raw, sizeof raw);
        return rc;
    }
    hr_api_key_encode(raw, secret);
    explicit_bzero(raw, sizeof raw);
    hr_api_key_hash(secret, HR_API_KEY_LEN, hash);
    hr_api_key_hint(secret, hint);
    return 0;
}
