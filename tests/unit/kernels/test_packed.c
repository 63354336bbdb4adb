/* Packed weights (16-row panels of Q8_0, Q4_0, Q5_0, Q4_K and Q6_K, read by the avx512vnni,
 * avx512 and avx2 sets): sizes, results within the activation-quantization bound of a
 * double-precision product, the same bits for any batch size, position in the batch, thread
 * count and packing set, rows that do not fill a panel, and the fall back to the file's
 * layout when no copy exists or ref is chosen. Each set is skipped on a CPU without it. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

enum { MAX_ROWS = 37, NTOK = 40, POS = 29, MAX_COLS = 768 };

static uint8_t *quantized(uint32_t type, size_t rows, size_t cols, uint64_t *rb)
{
    assert_true(hr_dtype_row_bytes(type, cols, rb));
    uint8_t *q = malloc(rows * *rb);
    float *w = malloc(cols * sizeof *w);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++)
            w[c] = cosf((float)(r * cols + c) * 0.013f) * (1.0f + (float)((r + c) % 5));
        assert_true(hr_quant_row(type, w, q + r * *rb, cols));
    }
    free(w);
    return q;
}

/* |packed - exact| stays within float rounding plus, per element, |w| times half an
 * activation step (the 32-block's amax / 254). */
static void check_bound(uint32_t type, const uint8_t *q, uint64_t rb, size_t rows, size_t cols,
                        const float *x, size_t ntok, const float *y)
{
    float *dq = malloc(cols * sizeof *dq);
    for (size_t r = 0; r < rows; r++) {
        hr_dequant_row(type, q + r * rb, dq, cols);
        for (size_t t = 0; t < ntok; t++) {
            const float *xt = x + t * cols;
            double exact = 0, mag = 0, bound = 0;
            for (size_t b = 0; b < cols; b += 32) {
                double amax = 0;
                for (size_t c = b; c < b + 32; c++)
                    amax = fmax(amax, fabs((double)xt[c]));
                for (size_t c = b; c < b + 32; c++) {
                    exact += (double)dq[c] * xt[c];
                    mag += fabs((double)dq[c] * xt[c]);
                    bound += fabs((double)dq[c]) * amax / 254.0;
                }
            }
            double got = y[t * rows + r];
            if (fabs(got - exact) > bound * 1.01 + 2e-5 * mag + 1e-6)
                fail_msg("%s %zux%zu: token %zu row %zu %g, exact %g (bound %g)",
                         hr_dtype_get(type)->name, rows, cols, t, r, got, exact, bound);
        }
    }
    free(dq);
}

/* Every packing set gives the same bits: the integer sums are exact and the scaling runs in
 * one order. The first set checked leaves its results here for the others. */
static float first_results[5][3][3][NTOK * MAX_ROWS];
static bool have_first;

static void check_set(const char *set)
{
    if (hr_kernels_use(set) != 0) {
        printf("kernels %s: not available on this CPU, skipped\n", set);
        skip();
    }
    struct hr_pool *p2 = NULL;
    assert_int_equal(hr_pool_new(&p2, 2), 0);
    float *x = malloc(NTOK * MAX_COLS * sizeof *x), *xb = malloc(NTOK * MAX_COLS * sizeof *xb);
    for (size_t i = 0; i < NTOK * MAX_COLS; i++)
        x[i] = sinf((float)i * 0.031f) * (1.0f + (float)(i % 3));
    float *yall = malloc(NTOK * MAX_ROWS * sizeof *yall), *yn = malloc(NTOK * MAX_ROWS * 4);
    float *y1 = malloc(MAX_ROWS * sizeof *y1), *yb = malloc(NTOK * MAX_ROWS * sizeof *yb);
    const uint32_t types[] = {HR_TYPE_Q8_0, HR_TYPE_Q4_0, HR_TYPE_Q5_0, HR_TYPE_Q4_K,
                              HR_TYPE_Q6_K};
    const size_t rows_list[] = {1, 16, MAX_ROWS};
    const size_t block_cols[] = {32, 96, 544}, super_cols[] = {256, 512, MAX_COLS};
    for (size_t ti = 0; ti < 5; ti++)
        for (size_t ri = 0; ri < 3; ri++)
            for (size_t ci = 0; ci < 3; ci++) {
                uint32_t type = types[ti];
                size_t rows = rows_list[ri], cols = ti < 3 ? block_cols[ci] : super_cols[ci];
                uint64_t rb;
                uint8_t *q = quantized(type, rows, cols, &rb);
                size_t bytes = hr_pack_bytes(type, rows, cols);
                /* Q4_K's panels keep its 8 scales and mins as bytes: 4 more per 144 */
                size_t packed_rb = type == HR_TYPE_Q4_K ? rb / 144 * 148 : rb;
                assert_int_equal(bytes, (rows + 15) / 16 * 16 * packed_rb);
                uint8_t *packed = malloc(bytes);
                hr_pack(type, q, rb, rows, cols, packed, rows > 16 ? p2 : NULL);
                hr_matmul_packed(type, packed, q, rb, rows, cols, x, NTOK, yall, NULL);
                check_bound(type, q, rb, rows, cols, x, NTOK, yall);
                if (have_first)
                    assert_memory_equal(yall, first_results[ti][ri][ci],
                                        NTOK * rows * sizeof *yall);
                memcpy(first_results[ti][ri][ci], yall, NTOK * rows * sizeof *yall);
                for (size_t n = 1; n <= NTOK; n++) {
                    hr_matmul_packed(type, packed, q, rb, rows, cols, x, n, yn,
                                     n % 2 ? NULL : p2);
                    assert_memory_equal(yn, yall, n * rows * sizeof *yn);
                }
                for (size_t t = 0; t < NTOK; t++)
                    memcpy(xb + t * cols, x + ((t + 1) % NTOK) * cols, cols * sizeof *xb);
                memcpy(xb + POS * cols, x, cols * sizeof *xb);
                hr_matmul_packed(type, packed, q, rb, rows, cols, x, 1, y1, NULL);
                hr_matmul_packed(type, packed, q, rb, rows, cols, xb, NTOK, yb, p2);
                assert_memory_equal(yb + POS * rows, y1, rows * sizeof *y1);
                /* no copy, or a set that reads the file's layout: exactly hr_matmul on W */
                hr_matmul_packed(type, NULL, q, rb, rows, cols, x, NTOK, yn, NULL);
                hr_matmul(type, q, rb, rows, cols, x, NTOK, yb, NULL);
                assert_memory_equal(yn, yb, NTOK * rows * sizeof *yn);
                assert_int_equal(hr_kernels_use("ref"), 0);
                assert_int_equal(hr_pack_bytes(type, rows, cols), 0);
                hr_matmul_packed(type, packed, q, rb, rows, cols, x, NTOK, yn, NULL);
                hr_matmul(type, q, rb, rows, cols, x, NTOK, yb, NULL);
                assert_memory_equal(yn, yb, NTOK * rows * sizeof *yn);
                assert_int_equal(hr_kernels_use(set), 0);
                free(packed);
                free(q);
            }
    printf("%s packed Q8_0/Q4_0/Q5_0/Q4_K/Q6_K: within bound, batch invariant for 1..%d tokens, 1 "
           "and 2 threads%s\n", set, NTOK, have_first ? ", the bits of the set before" : "");
    have_first = true;
    hr_kernels_use("ref");
    hr_pool_free(p2);
    free(x), free(xb), free(yall), free(yn), free(y1), free(yb);
}

static void test_packed_avx512vnni(void **state)
{
    (void)state;
    check_set("avx512vnni");
}

static void test_packed_avx512(void **state)
{
    (void)state;
    check_set("avx512");
}

static void test_packed_avx2(void **state)
{
    (void)state;
    check_set("avx2");
}

static void test_only_block_types_pack(void **state)
{
    (void)state;
    if (hr_kernels_use("avx2") != 0)
        skip();
    assert_int_equal(hr_pack_bytes(HR_TYPE_F16, 16, 64), 0);
    assert_int_equal(hr_pack_bytes(HR_TYPE_Q5_K, 16, 256), 0);
    assert_int_equal(hr_pack_bytes(HR_TYPE_Q4_K, 16, 256), 16 * 148);
    assert_int_equal(hr_pack_bytes(HR_TYPE_Q6_K, 17, 512), 32 * 420);
    assert_int_equal(hr_pack_bytes(HR_TYPE_Q8_0, 16, 0), 0);
    assert_int_equal(hr_pack_bytes(HR_TYPE_Q8_0, 17, 64), 32 * 68);
    assert_int_equal(hr_kernels_use("ref"), 0);
    assert_int_equal(hr_pack_bytes(HR_TYPE_Q8_0, 16, 64), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_avx512vnni),
        cmocka_unit_test(test_packed_avx512),
        cmocka_unit_test(test_packed_avx2),
        cmocka_unit_test(test_only_block_types_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
