/* The F16 block attention kernel (hr_attn_f16): on a paged cache whose blocks are scattered
 * through memory, every query's output matches a double-precision softmax(q.k) . v over its
 * own range of positions (sliding windows included, soft-capping too), for head sizes that do
 * and do not fill 16-float chunks; and a query's bits are the same computed alone or with 31
 * others; on avx512 and on avx2 (head sizes a multiple of 8 there), each skipped on a CPU
 * without it; ref reports no kernel. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

enum { N_BLOCKS = 9, N_POS = N_BLOCKS * 16 - 5, N_LAYERS = 2, N_HEADS = 2, NQ = 32 };

struct cache {
    uint8_t *k, *v;
    uint32_t table[N_BLOCKS];
    size_t row_bytes, block_bytes;
    uint32_t hd;
};

/* Position p, head h, layer il: a half at (table[p/16] * block_bytes + (il * 16 + p % 16) *
 * row_bytes + h * hd * 2), as the engine's cache lays it out. */
static uint8_t *row(const struct cache *c, uint8_t *base, uint32_t il, uint32_t h, uint32_t p)
{
    return base + c->table[p / 16] * c->block_bytes + (il * 16 + p % 16) * c->row_bytes +
           (size_t)h * c->hd * 2;
}

static void fill(struct cache *c, uint32_t hd)
{
    c->hd = hd;
    c->row_bytes = (size_t)N_HEADS * hd * 2;
    c->block_bytes = (size_t)N_LAYERS * 16 * c->row_bytes;
    c->k = malloc(N_BLOCKS * c->block_bytes);
    c->v = malloc(N_BLOCKS * c->block_bytes);
    for (uint32_t b = 0; b < N_BLOCKS; b++)
        c->table[b] = (b * 5 + 3) % N_BLOCKS; /* a permutation: blocks out of order */
    memset(c->k, 0xFF, N_BLOCKS * c->block_bytes); /* NaN wherever nothing was written */
    memset(c->v, 0xFF, N_BLOCKS * c->block_bytes);
    for (uint32_t il = 0; il < N_LAYERS; il++)
        for (uint32_t h = 0; h < N_HEADS; h++)
            for (uint32_t p = 0; p < N_POS; p++)
                for (uint32_t d = 0; d < hd; d++) {
                    float kv = sinf((float)(p * 7 + d * 3 + h * 11 + il) * 0.37f);
                    uint16_t kh = hr_f32_to_f16(2.0f * kv), vh = hr_f32_to_f16(cosf(kv * 5));
                    memcpy(row(c, c->k, il, h, p) + 2 * d, &kh, 2);
                    memcpy(row(c, c->v, il, h, p) + 2 * d, &vh, 2);
                }
}

static void reference(const struct cache *c, uint32_t il, uint32_t h, const float *q,
                      uint32_t first, uint32_t end, float scale, float cap, double *out)
{
    double s[N_POS], max = -INFINITY, sum = 0;
    for (uint32_t p = first; p < end; p++) {
        double dot = 0;
        for (uint32_t d = 0; d < c->hd; d++) {
            uint16_t kh;
            memcpy(&kh, row(c, c->k, il, h, p) + 2 * d, 2);
            dot += (double)q[d] * hr_f16_to_f32(kh);
        }
        s[p] = dot * scale;
        if (cap > 0)
            s[p] = tanh(s[p] / cap) * cap;
        max = fmax(max, s[p]);
    }
    for (uint32_t d = 0; d < c->hd; d++)
        out[d] = 0;
    for (uint32_t p = first; p < end; p++) {
        double e = exp(s[p] - max);
        sum += e;
        for (uint32_t d = 0; d < c->hd; d++) {
            uint16_t vh;
            memcpy(&vh, row(c, c->v, il, h, p) + 2 * d, 2);
            out[d] += e * hr_f16_to_f32(vh);
        }
    }
    for (uint32_t d = 0; d < c->hd; d++)
        out[d] /= sum;
}

static void check_set(const char *set)
{
    if (hr_kernels_use(set) != 0) {
        printf("kernels %s: not available on this CPU, skipped\n", set);
        skip();
    }
    const uint32_t hds[] = {64, 80, 128};
    for (size_t hi = 0; hi < 3; hi++)
        for (int capped = 0; capped < 2; capped++) {
            uint32_t hd = hds[hi];
            assert_true(hr_attn_f16_supported(hd));
            struct cache c;
            fill(&c, hd);
            uint32_t il = 1, h = 1;
            size_t off = il * 16 * c.row_bytes + (size_t)h * hd * 2;
            struct hr_attn_kv kv = {c.k + off, c.v + off, c.table, c.block_bytes, c.row_bytes,
                                    hd, 1.0f / sqrtf((float)hd), capped ? 1.5f : 0.0f};
            float *q = malloc(NQ * hd * sizeof *q), *all = malloc(NQ * hd * sizeof *all);
            float *one = malloc(hd * sizeof *one);
            struct hr_attn_query qs[NQ];
            for (uint32_t j = 0; j < NQ; j++) {
                for (uint32_t d = 0; d < hd; d++)
                    q[j * hd + d] = cosf((float)(j * 13 + d) * 0.21f) * 2.0f;
                /* causal ends from 1 to N_POS; every third query in a window of 20 */
                uint32_t end = 1 + (j * 37) % N_POS, first = j % 3 == 0 && end > 20 ? end - 20 : 0;
                qs[j] = (struct hr_attn_query){q + j * hd, all + j * hd, first, end};
            }
            assert_true(hr_attn_f16(&kv, qs, NQ));
            double *ref = malloc(hd * sizeof *ref);
            for (uint32_t j = 0; j < NQ; j++) {
                reference(&c, il, h, qs[j].q, qs[j].first, qs[j].end, kv.scale, kv.softcap, ref);
                for (uint32_t d = 0; d < hd; d++)
                    if (fabs(all[j * hd + d] - ref[d]) > 2e-5 * (1 + fabs(ref[d])))
                        fail_msg("hd %u cap %d query %u [%u, %u) dim %u: %g, exact %g", hd,
                                 capped, j, qs[j].first, qs[j].end, d, all[j * hd + d], ref[d]);
                struct hr_attn_query alone = qs[j];
                alone.out = one;
                assert_true(hr_attn_f16(&kv, &alone, 1));
                assert_memory_equal(one, all + j * hd, hd * sizeof *one);
            }
            free(ref), free(q), free(all), free(one), free(c.k), free(c.v);
        }
    assert_false(hr_attn_f16_supported(HR_MODEL_MAX_HEAD_DIM + 1));
    if (strcmp(set, "avx2") == 0)
        assert_false(hr_attn_f16_supported(68));
    printf("%s block attention: head sizes 64, 80, 128, windows and soft-capping within 2e-5 of "
           "exact; each query the same alone as among %d\n", set, NQ);
    assert_int_equal(hr_kernels_use("ref"), 0);
    assert_false(hr_attn_f16_supported(64));
}

static void test_block_attention_avx512(void **state)
{
    (void)state;
    check_set("avx512");
}

static void test_block_attention_avx2(void **state)
{
    (void)state;
    check_set("avx2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_attention_avx512),
        cmocka_unit_test(test_block_attention_avx2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
