/* Quantizers for Q5_0, Q5_1, Q4_K, Q5_K and Q6_K, checked through the reference dequantizer
 * (itself tested against llama.cpp's outputs): Gaussian rows come back within a per-type
 * error bound; edge rows (zeros, constants, an outlier, huge, tiny, negative-only) never
 * decode to NaN or Inf and stay within their own bounds; a block that is already exactly
 * representable comes back (nearly) unchanged, which pins the byte layout; bytes do not
 * depend on anything but the input. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define N 4096 /* 16 super-blocks per row */

static const uint32_t qtypes[] = {HR_TYPE_Q5_0, HR_TYPE_Q5_1, HR_TYPE_Q4_K, HR_TYPE_Q5_K,
                                  HR_TYPE_Q6_K};
#define N_QTYPES (sizeof qtypes / sizeof qtypes[0])

/* Bounds on the RMS error relative to the row's RMS for Gaussian rows: the measured values
 * (printed) Q5_0 4.17%, Q5_1 3.43%, Q4_K 7.11%, Q5_K 3.52%, Q6_K 1.69%, plus ~10%. Each bit
 * halves the error, as it should. For scale: a uniform 16-level grid over a 32-value
 * sub-block's range (about +-2 sigma) has a step of 0.27 sigma, an RMS error of
 * 0.27 / sqrt(12) = 7.8%; the fixed 4-bit Lloyd-Max quantizer for a Gaussian has 9.7%. So
 * 4-bit types cannot reach ~4.5% on Gaussian rows; the search gains by clipping the tails. */
static float gauss_bound(uint32_t type)
{
    switch (type) {
    case HR_TYPE_Q5_0:
        return 0.046f;
    case HR_TYPE_Q5_1:
        return 0.038f;
    case HR_TYPE_Q4_K:
        return 0.078f;
    case HR_TYPE_Q5_K:
        return 0.039f;
    default:
        return 0.019f;
    }
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float gauss(uint64_t *s)
{
    double u1 = ((double)(rng_next(s) >> 11) + 0.5) * 0x1.0p-53;
    double u2 = (double)(rng_next(s) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static uint64_t row_bytes(uint32_t type, uint64_t n)
{
    uint64_t rb = 0;
    assert_true(hr_dtype_row_bytes(type, n, &rb));
    return rb;
}

/* Quantizes and decodes x (n values) as type into y; returns the RMS error over the RMS of x
 * (the RMS error itself when x is all zeros). Fails on any non-finite decoded value. */
static double round_trip(uint32_t type, const float *x, float *y, size_t n)
{
    uint8_t *q = malloc(row_bytes(type, n));
    assert_non_null(q);
    assert_true(hr_quant_row(type, x, q, n));
    hr_dequant_row(type, q, y, n);
    free(q);
    double se = 0, sx = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(isfinite(y[i]));
        se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        sx += (double)x[i] * x[i];
    }
    return sx > 0 ? sqrt(se / sx) : sqrt(se / (double)n);
}

static void test_gaussian_rows_within_bound(void **state)
{
    (void)state;
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t t = 0; t < N_QTYPES; t++) {
        double worst = 0;
        for (uint64_t r = 0; r < 8; r++) {
            uint64_t s = 1234 + r;
            float sigma = (float)(0.02 * (double)(r + 1)); /* weight-like scales */
            for (int i = 0; i < N; i++)
                x[i] = sigma * gauss(&s);
            double e = round_trip(qtypes[t], x, y, N);
            worst = e > worst ? e : worst;
        }
        printf("%s: gaussian relative RMS error %.4f (bound %.4f)\n",
               hr_dtype_get(qtypes[t])->name, worst, gauss_bound(qtypes[t]));
        assert_true(worst < gauss_bound(qtypes[t]));
    }
    free(x);
    free(y);
}

/* Every edge row for every type. Bounds: zeros decode exactly, constants within the half
 * rounding of one scale (< 0.1%); an outlier 50 sigma out costs the rest of its sub-block,
 * not the row (< 2x the Gaussian bound); inputs scaled by 1e4 or 1e-2 behave like unit ones
 * (half-precision scales still hold them); 1e12 saturates and 1e-7 falls below half
 * precision, yet both stay finite and never decode worse than all zeros would (error <= 1). */
static void test_edge_rows(void **state)
{
    (void)state;
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t t = 0; t < N_QTYPES; t++) {
        uint32_t type = qtypes[t];
        const char *name = hr_dtype_get(type)->name;
        float gb = gauss_bound(type);

        memset(x, 0, N * sizeof *x);
        assert_true(round_trip(type, x, y, N) == 0.0);

        for (int sign = -1; sign <= 1; sign += 2) {
            for (int i = 0; i < N; i++)
                x[i] = 0.37f * (float)sign;
            double e = round_trip(type, x, y, N);
            printf("%s: constant %+.2f error %.2e\n", name, (double)x[0], e);
            assert_true(e < 1);
        }

        uint64_t s = 99;
        for (int i = 0; i < N; i++)
            x[i] = gauss(&s);
        x[777] = 50.0f;
        double e = round_trip(type, x, y, N);
        printf("%s: one outlier error %.4f\n", name, e);
        assert_true(e < 2 * gb);
        assert_true(fabsf(y[777] - 50.0f) < 50.0f * gb); /* the outlier itself survives */

        const float scales[] = {1e4f, 1e-2f};
        for (int k = 0; k < 2; k++) {
            s = 7;
            for (int i = 0; i < N; i++)
                x[i] = scales[k] * gauss(&s);
            e = round_trip(type, x, y, N);
            printf("%s: gaussian x %.0e error %.4f\n", name, (double)scales[k], e);
            assert_true(e < 1.1 * gb);
        }

        s = 7;
        for (int i = 0; i < N; i++)
            x[i] = 1e12f * gauss(&s);
        e = round_trip(type, x, y, N); /* asserts finiteness; the error is saturation's */
        printf("%s: gaussian x 1e12 error %.4f (saturated)\n", name, e);
        assert_true(e <= 1.0);

        s = 7;
        for (int i = 0; i < N; i++)
            x[i] = 1e-7f * gauss(&s);
        e = round_trip(type, x, y, N); /* below half precision: never worse than zeros */
        printf("%s: gaussian x 1e-7 error %.4f\n", name, e);
        assert_true(e <= 1.0);

        s = 5;
        for (int i = 0; i < N; i++)
            x[i] = -fabsf(gauss(&s)) - 0.5f;
        e = round_trip(type, x, y, N);
        printf("%s: negative-only error %.4f\n", name, e);
        assert_true(e < gb);
    }
    free(x);
    free(y);
}

/* Decodes random valid blocks, quantizes what came out and decodes again: the values the
 * format can hold exactly must come back within rounding, so any layout slip (a nibble or
 * bit plane in the wrong place) shows as a large error. */
static void test_representable_blocks_come_back(void **state)
{
    (void)state;
    for (size_t t = 0; t < N_QTYPES; t++) {
        uint32_t type = qtypes[t];
        const struct hr_dtype_info *ti = hr_dtype_get(type);
        size_t n = 8 * ti->block_elems;
        uint64_t rb = row_bytes(type, n);
        uint8_t *q = malloc(rb), *q2 = malloc(rb);
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        assert_true(q && q2 && x && y);
        uint64_t s = 31 + t;
        for (uint64_t i = 0; i < rb; i++)
            q[i] = (uint8_t)rng_next(&s);
        /* Set every half scale to a moderate value so the decoded values are ordinary. */
        for (uint64_t b = 0; b < rb; b += ti->block_bytes) {
            uint16_t h1 = hr_f32_to_f16(0.01f), h2 = hr_f32_to_f16(0.004f);
            if (type == HR_TYPE_Q6_K) {
                memcpy(q + b + 208, &h1, 2);
            } else if (type == HR_TYPE_Q5_0) {
                memcpy(q + b, &h1, 2);
            } else {
                memcpy(q + b, &h1, 2);
                memcpy(q + b + 2, &h2, 2);
            }
        }
        hr_dequant_row(type, q, x, n);
        double e = round_trip(type, x, y, n);
        printf("%s: representable block error %.2e\n", ti->name, e);
        /* The search does not look for the original grid, only a good one, so this is not 0;
         * but it is 10x below the Gaussian error, and a layout slip costs O(1). */
        assert_true(e < 1e-2);
        free(q);
        free(q2);
        free(x);
        free(y);
    }
}

static void test_bytes_deterministic(void **state)
{
    (void)state;
    float *x = malloc((N + 1) * sizeof *x);
    assert_non_null(x);
    uint64_t s = 2024;
    for (int i = 0; i < N; i++)
        x[i] = gauss(&s) * 0.05f;
    for (size_t t = 0; t < N_QTYPES; t++) {
        uint64_t rb = row_bytes(qtypes[t], N);
        uint8_t *a = malloc(rb), *b = malloc(rb + 1);
        assert_true(a && b);
        memset(a, 0x00, rb);
        memset(b, 0xFF, rb + 1);
        assert_true(hr_quant_row(qtypes[t], x, a, N));
        /* Another (misaligned) destination and a copy of the input at another address. */
        memmove(x + 1, x, N * sizeof *x);
        assert_true(hr_quant_row(qtypes[t], x + 1, b + 1, N));
        memmove(x, x + 1, N * sizeof *x);
        assert_memory_equal(a, b + 1, rb);
        free(a);
        free(b);
    }
    free(x);
}

static void test_unsupported_type_refused(void **state)
{
    (void)state;
    float x[256] = {0};
    uint8_t buf[256] = {0x5A};
    assert_false(hr_quant_row(HR_TYPE_Q3_K, x, buf, 256));
    assert_false(hr_quant_row(HR_TYPE_BF16, x, buf, 32));
    assert_int_equal(buf[0], 0x5A);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaussian_rows_within_bound),
        cmocka_unit_test(test_edge_rows),
        cmocka_unit_test(test_representable_blocks_come_back),
        cmocka_unit_test(test_bytes_deterministic),
        cmocka_unit_test(test_unsupported_type_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
