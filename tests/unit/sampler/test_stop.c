/* Stop strings: text before the first stop string is shown, the stop string and everything
 * after never are, a tail that could still become a stop string is held back exactly as long
 * as it could, and whatever the split of the text into pushes the result is the same. */
#include "testutil.h"

#include <string.h>

#include "engine/engine.h"

/* Pushes text in pieces of `step` bytes; returns what was shown (NUL-terminated in out). */
static size_t run(const char *const *stops, size_t n_stops, const char *text, size_t step,
                  char *out, bool *hit)
{
    struct hr_stop st;
    assert_int_equal(hr_stop_init(&st, stops, n_stops), 0);
    char buf[64 + HR_MAX_STOP_BYTES];
    size_t o = 0, len = strlen(text);
    for (size_t i = 0; i < len; i += step) {
        size_t k = len - i < step ? len - i : step;
        size_t got = hr_stop_push(&st, text + i, k, buf, sizeof buf);
        memcpy(out + o, buf, got);
        o += got;
    }
    *hit = st.hit;
    size_t got = hr_stop_flush(&st, buf, sizeof buf);
    memcpy(out + o, buf, got);
    o += got;
    out[o] = '\0';
    hr_stop_deinit(&st);
    return o;
}

static void test_cut_before_stop_any_split(void **state)
{
    (void)state;
    const char *stops[] = {"END", "\n\n"};
    const char *cases[][2] = {
        {"hello END world", "hello "},
        {"line one\n\nline two", "line one"},
        {"no stop here, EN D", "no stop here, EN D"},
        {"ENENDX", "EN"},
        {"tail EN", "tail EN"}, /* a partial stop at the end is shown at flush */
        {"END", ""},
        {"a\nb\n\nEND", "a\nb"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t step = 1; step <= 8; step++) {
            char out[128];
            bool hit;
            run(stops, 2, cases[c][0], step, out, &hit);
            assert_string_equal(out, cases[c][1]);
            assert_true(hit == (strlen(cases[c][1]) < strlen(cases[c][0])));
        }
    }
}

/* What may still become a stop string is held back, and only that. */
static void test_holds_back_only_possible_prefixes(void **state)
{
    (void)state;
    const char *stops[] = {"<|stop|>"};
    struct hr_stop st;
    assert_int_equal(hr_stop_init(&st, stops, 1), 0);
    char buf[512];
    assert_int_equal(hr_stop_push(&st, "abc<|st", 7, buf, sizeof buf), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(hr_stop_push(&st, "ar", 2, buf, sizeof buf), 6); /* "<|star": no stop */
    assert_memory_equal(buf, "<|star", 6);
    assert_int_equal(hr_stop_push(&st, "<", 1, buf, sizeof buf), 0);
    assert_int_equal(hr_stop_push(&st, "|stop|> after", 13, buf, sizeof buf), 0);
    assert_true(st.hit);
    assert_int_equal(hr_stop_push(&st, "more", 4, buf, sizeof buf), 0);
    assert_int_equal(hr_stop_flush(&st, buf, sizeof buf), 0);
    hr_stop_deinit(&st);
}

static void test_none_passes_through_and_bad_lists(void **state)
{
    (void)state;
    char out[64];
    bool hit;
    assert_int_equal(run(NULL, 0, "anything END", 3, out, &hit), 12);
    assert_false(hit);
    struct hr_stop st;
    const char *empty[] = {""};
    assert_int_equal(hr_stop_init(&st, empty, 1), HR_EINVAL);
    const char *five[] = {"a", "b", "c", "d", "e"};
    assert_int_equal(hr_stop_init(&st, five, 5), HR_EINVAL);
    char longs[HR_MAX_STOP_BYTES + 2];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    const char *too_long[] = {longs};
    assert_int_equal(hr_stop_init(&st, too_long, 1), HR_EINVAL);
    longs[HR_MAX_STOP_BYTES] = '\0';
    assert_int_equal(hr_stop_init(&st, too_long, 1), 0);
    hr_stop_deinit(&st);
}

/* Multi-byte characters: a held tail never splits one, and a stop string of them works. */
static void test_utf8(void **state)
{
    (void)state;
    const char *stops[] = {"——"};
    char out[64];
    bool hit;
    run(stops, 1, "ça va—bien——fin", 2, out, &hit);
    assert_string_equal(out, "ça va—bien");
    assert_true(hit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_before_stop_any_split),
        cmocka_unit_test(test_holds_back_only_possible_prefixes),
        cmocka_unit_test(test_none_passes_through_and_bad_lists),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
