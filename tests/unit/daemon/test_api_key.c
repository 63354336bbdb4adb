/* API key secrets: shape and alphabet, known base62 spellings of fixed bytes (expected values
 * from Python's big integers), distinct keys, the hash being SHA-256 of the secret, the hint,
 * and the constant-time comparison's answers. */
#include "testutil.h"

#include <string.h>

#include "daemon/api_key.h"
#include "daemon/sha256.h"
#include "engine/base/err.h"

static bool base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void test_known_vectors(void **state)
{
    (void)state;
    uint8_t b[32];
    char s[HR_API_KEY_LEN + 1];
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    hr_api_key_encode(b, s);
    assert_string_equal(s, "hk_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf");
    memset(b, 0xFF, sizeof b);
    hr_api_key_encode(b, s);
    assert_string_equal(s, "hk_yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1");
    memset(b, 0, sizeof b);
    hr_api_key_encode(b, s);
    assert_string_equal(s, "hk_0000000000000000000000000000000000000000000");
    b[31] = 1;
    hr_api_key_encode(b, s);
    assert_string_equal(s, "hk_0000000000000000000000000000000000000000001");
}

static void test_generate(void **state)
{
    (void)state;
    char prev[HR_API_KEY_LEN + 1] = "";
    for (int k = 0; k < 64; k++) {
        char s[HR_API_KEY_LEN + 1], hint[HR_API_KEY_HINT_MAX];
        uint8_t hash[32], want[32];
        struct hr_diag d = {{0}};
        assert_int_equal(hr_api_key_generate(s, hash, hint, &d), 0);
        assert_int_equal(strlen(s), HR_API_KEY_LEN);
        assert_memory_equal(s, "hk_", 3);
        for (int i = 3; i < HR_API_KEY_LEN; i++)
            assert_true(base62(s[i]));
        assert_string_not_equal(s, prev);
        memcpy(prev, s, sizeof s);
        /* the hash is plain SHA-256 of the whole string, prefix included */
        struct hr_sha256 sh;
        hr_sha256_init(&sh);
        hr_sha256_update(&sh, s, strlen(s));
        hr_sha256_final(&sh, want);
        assert_memory_equal(hash, want, 32);
        hr_api_key_hash(s, strlen(s), want);
        assert_memory_equal(hash, want, 32);
        char h2[HR_API_KEY_HINT_MAX];
        hr_api_key_hint(s, h2);
        assert_string_equal(hint, h2);
        assert_int_equal(strlen(hint), 14);
        assert_memory_equal(hint, s, 7);
        assert_memory_equal(hint + 7, "...", 3);
        assert_memory_equal(hint + 10, s + HR_API_KEY_LEN - 4, 4);
    }
}

static void test_hash_vector(void **state)
{
    (void)state;
    static const uint8_t want[32] = {
        0x42, 0x02, 0xc3, 0x1d, 0x1b, 0x64, 0x01, 0x84, 0x69, 0x64, 0x1c,
        0x81, 0x91, 0xac, 0xcf, 0xd4, 0x05, 0xc4, 0x1c, 0x58, 0xaf, 0x5c,
        0x0e, 0x8a, 0x7a, 0xd9, 0x79, 0x9e, 0x37, 0xfd, 0xd3, 0x19,
    };
    uint8_t got[32];
    hr_api_key_hash("hk_abcdef", 6, got); /* n bytes only: "hk_abc" */
    assert_memory_equal(got, want, 32);
}

static void test_hint(void **state)
{
    (void)state;
    char h[HR_API_KEY_HINT_MAX];
    hr_api_key_hint("hk_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf", h);
    assert_string_equal(h, "hk_003a...IDlf");
    hr_api_key_hint("hk_short", h);
    assert_string_equal(h, "hk_...");
    hr_api_key_hint("sk-0123456789abcdef", h);
    assert_string_equal(h, "hk_...");
}

static void test_equal(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = (uint8_t)(i * 7 + 1);
    memcpy(b, a, 32);
    assert_true(hr_api_key_equal(a, b));
    /* a difference in any byte and any bit is seen */
    for (int i = 0; i < 32; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            assert_false(hr_api_key_equal(a, b));
            b[i] ^= (uint8_t)(1u << bit);
        }
    assert_true(hr_api_key_equal(a, b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors), cmocka_unit_test(test_generate),
        cmocka_unit_test(test_hash_vector),   cmocka_unit_test(test_hint),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
