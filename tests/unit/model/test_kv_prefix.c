/* The prefix cache's bookkeeping on the paged KV cache: full blocks become findable once
 * committed, a match is exact (same tokens, same blocks before them) and always leaves the
 * last token to evaluate, blocks nobody holds stay cached until space is needed (oldest
 * released first, a prefix's first blocks last), a prefix computed twice at once is
 * registered once, and free-block counts stay right throughout. Logit equality with a cold
 * cache is tested on the engine (test_engine.c). */
#include "testutil.h"

#include <string.h>

#include "engine/engine.h"

static struct hr_model *model;

static void fill(int32_t *t, size_t n, int32_t base)
{
    for (size_t i = 0; i < n; i++)
        t[i] = base + (int32_t)(i % 50);
}

static void test_commit_attach_release(void **state)
{
    (void)state;
    struct hr_kv *kv = NULL;
    assert_int_equal(hr_kv_new(&kv, model, HR_KV_F32, 8, 2, 128), 0);
    int32_t a[64];
    fill(a, 64, 3);
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, a, 64), 0); /* nothing cached yet */
    assert_int_equal(hr_kv_seq_reserve(kv, 0, 50), 0);
    hr_kv_seq_commit(kv, 0, a, 40); /* two full blocks evaluated */
    /* another sequence sees the two committed blocks while the first still runs */
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 1, a, 64), 32);
    assert_int_equal(hr_kv_seq_reserve(kv, 1, 64), 0);
    assert_int_equal(hr_kv_free_blocks(kv), 8 - 4 - 2);
    hr_kv_seq_release(kv, 1);
    hr_kv_seq_commit(kv, 0, a, 50);
    hr_kv_seq_release(kv, 0);
    assert_int_equal(hr_kv_cached_blocks(kv), 3);
    assert_int_equal(hr_kv_free_blocks(kv), 8);
    /* the last token's block is never lent: 48 tokens reuse 2 blocks, 49 reuse 3 */
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, a, 48), 32);
    hr_kv_seq_release(kv, 0);
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, a, 49), 48);
    hr_kv_seq_release(kv, 0);
    /* exact: one token changed in block 1 stops the match after block 0 */
    int32_t b[64];
    memcpy(b, a, sizeof b);
    b[20] = 999;
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, b, 64), 16);
    hr_kv_seq_release(kv, 0);
    /* a different first block shares nothing, even with block 1 equal */
    b[20] = a[20];
    b[0] = 998;
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, b, 64), 0);
    assert_int_equal(hr_kv_seq_reserve(kv, 0, 16), 0);
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, a, 64), 0); /* seq not empty: refused */
    hr_kv_seq_release(kv, 0);
    hr_kv_free(kv);
}

static void test_eviction_order(void **state)
{
    (void)state;
    struct hr_kv *kv = NULL;
    assert_int_equal(hr_kv_new(&kv, model, HR_KV_F32, 4, 2, 64), 0);
    int32_t a[64], c[64];
    fill(a, 64, 3);
    fill(c, 64, 60);
    assert_int_equal(hr_kv_seq_reserve(kv, 0, 64), 0);
    hr_kv_seq_commit(kv, 0, a, 64);
    hr_kv_seq_release(kv, 0);
    assert_int_equal(hr_kv_cached_blocks(kv), 4);
    /* two blocks wanted: the two last of a's go, its first two stay findable */
    assert_int_equal(hr_kv_seq_reserve(kv, 1, 32), 0);
    assert_int_equal(hr_kv_cached_blocks(kv), 2);
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, a, 64), 32);
    /* every block is now held: nothing more can be had */
    assert_int_equal(hr_kv_free_blocks(kv), 0);
    assert_int_equal(hr_kv_seq_reserve(kv, 0, 48), HR_EFULL);
    hr_kv_seq_commit(kv, 1, c, 32);
    hr_kv_seq_release(kv, 1);
    hr_kv_seq_release(kv, 0);
    assert_int_equal(hr_kv_free_blocks(kv), 4);
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, c, 40), 32);
    hr_kv_seq_release(kv, 0);
    hr_kv_free(kv);
}

static void test_same_prefix_twice_at_once(void **state)
{
    (void)state;
    struct hr_kv *kv = NULL;
    assert_int_equal(hr_kv_new(&kv, model, HR_KV_F32, 8, 2, 64), 0);
    int32_t a[64];
    fill(a, 64, 7);
    assert_int_equal(hr_kv_seq_reserve(kv, 0, 40), 0);
    assert_int_equal(hr_kv_seq_reserve(kv, 1, 40), 0);
    hr_kv_seq_commit(kv, 0, a, 40);
    hr_kv_seq_commit(kv, 1, a, 40); /* already there: seq 1's blocks stay private */
    hr_kv_seq_release(kv, 0);
    hr_kv_seq_release(kv, 1);
    assert_int_equal(hr_kv_cached_blocks(kv), 2);
    assert_int_equal(hr_kv_free_blocks(kv), 8);
    assert_int_equal(hr_kv_seq_attach_prefix(kv, 0, a, 64), 32);
    hr_kv_seq_release(kv, 0);
    hr_kv_free(kv);
}

static int setup(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("kv-prefix-tiny.gguf", path, sizeof path);
    struct hr_synth_params p = {0};
    p.preset = "tiny";
    p.type = HR_TYPE_F32;
    p.out_path = path;
    p.seed = 2;
    struct hr_diag d = {{0}};
    if (hr_synth_write(&p, &d) != 0 || hr_model_load(&model, path, &d) != 0) {
        fprintf(stderr, "%s\n", d.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hr_model_free(model);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_attach_release),
        cmocka_unit_test(test_eviction_order),
        cmocka_unit_test(test_same_prefix_twice_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
