/* SHA-256 against FIPS 180-4's example digests, split updates against one-shot ones, and a
 * file digest against coreutils' sha256sum. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sha256.h"
#include "engine/base/err.h"

static void hex_of(const void *data, size_t n, char hex[65])
{
    struct hr_sha256 s;
    uint8_t d[32];
    hr_sha256_init(&s);
    hr_sha256_update(&s, data, n);
    hr_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static void test_known_digests(void **state)
{
    (void)state;
    char hex[65];
    hex_of("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    hex_of(million, 1000000, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

/* Every split of a message that crosses the padding boundaries gives the one-shot digest. */
static void test_split_updates(void **state)
{
    (void)state;
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 31 + 7);
    for (size_t len = 0; len <= sizeof msg; len += 1) {
        char want[65], got[65];
        hex_of(msg, len, want);
        for (size_t cut = 0; cut <= len; cut += 13) {
            struct hr_sha256 s;
            uint8_t d[32];
            hr_sha256_init(&s);
            hr_sha256_update(&s, msg, cut);
            for (size_t i = cut; i < len; i++)
                hr_sha256_update(&s, msg + i, 1);
            hr_sha256_final(&s, d);
            for (int i = 0; i < 32; i++)
                snprintf(got + 2 * i, 3, "%02x", d[i]);
            assert_string_equal(got, want);
        }
    }
}

static void test_file_matches_sha256sum(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("sha.bin", path, sizeof path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t x = 12345;
    for (int i = 0; i < 3 * 1024 * 1024 + 77; i++) { /* crosses the 1 MiB reads */
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 24), f);
    }
    fclose(f);
    char hex[65];
    assert_int_equal(hr_sha256_file(path, NULL, hex), 0);
    char cmd[600], want[65] = {0};
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%64s", want), 1);
    pclose(p);
    assert_string_equal(hex, want);
    atomic_bool stop = true;
    assert_int_equal(hr_sha256_file(path, &stop, hex), HR_ECANCELED);
    assert_int_not_equal(hr_sha256_file("/nonexistent/file", NULL, hex), 0);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_digests),
        cmocka_unit_test(test_split_updates),
        cmocka_unit_test(test_file_matches_sha256sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
