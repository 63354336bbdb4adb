/* Kernels: every half-precision value round-trips, rounding is to nearest even; Q8_0 and Q4_0
 * blocks built byte by byte decode to the values their layout defines; quantization error is
 * bounded; on every kernel set the CPU has (ref, avx2, avx512, avx512vnni; the others are
 * skipped, saying so) and for every tensor type, matmul matches the plain-C kernel and a
 * double-precision reference and gives a token the same bits for any thread count, batch size
 * and position in the batch. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static void test_f16_round_trip_all(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = hr_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            assert_true(isnan(hr_f16_to_f32(hr_f32_to_f16(f))));
            continue;
        }
        assert_int_equal(hr_f32_to_f16(f), h);
    }
    assert_true(hr_f16_to_f32(0x3C00) == 1.0f);
    assert_true(hr_f16_to_f32(0xC000) == -2.0f);
    assert_true(hr_f16_to_f32(0x0001) == ldexpf(1, -24)); /* smallest subnormal */
    assert_true(isinf(hr_f16_to_f32(0x7C00)));
    assert_int_equal(hr_f32_to_f16(65520.0f), 0x7C00); /* rounds up to infinity */
    /* ties to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 */
    assert_int_equal(hr_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3C00);
    assert_int_equal(hr_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3C02);
    assert_true(hr_bf16_to_f32(0x3F80) == 1.0f);
}

/* The KV cache's F16 stores (hr_quant_row F16) round exactly as hr_f32_to_f16 on every set:
 * ties, subnormals, overflow, and every 17th float bit pattern in between. */
static void test_f16_stores_match_scalar(void **state)
{
    (void)state;
    static const char *const sets[] = {"ref", "avx2", "avx512", "avx512vnni"};
    enum { N = 1 << 16 };
    float *x = malloc(N * sizeof *x);
    uint16_t *h = malloc(N * sizeof *h);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t bits = i * 65537u * 17u;
        memcpy(&x[i], &bits, 4);
        if (isnan(x[i]))
            x[i] = 1.0f + ldexpf((float)(i % 8), -11); /* ties and near-ties of 1.0 */
    }
    x[0] = 65520.0f, x[1] = ldexpf(1, -25), x[2] = ldexpf(3, -26), x[3] = -0.0f;
    for (size_t si = 0; si < 4; si++) {
        if (hr_kernels_use(sets[si]) != 0)
            continue;
        assert_true(hr_quant_row(HR_TYPE_F16, x, h, N - 3)); /* an odd tail too */
        for (uint32_t i = 0; i < N - 3; i++)
            if (h[i] != hr_f32_to_f16(x[i]))
                fail_msg("%s: %a stored as %04x, want %04x", sets[si], (double)x[i], h[i],
                         hr_f32_to_f16(x[i]));
    }
    hr_kernels_use("ref");
    free(x);
    free(h);
}

static void test_q8_0_layout(void **state)
{
    (void)state;
    uint8_t block[34];
    uint16_t d = hr_f32_to_f16(0.5f);
    memcpy(block, &d, 2);
    for (int j = 0; j < 32; j++)
        block[2 + j] = (uint8_t)(int8_t)(j - 16);
    float out[32];
    hr_dequant_row(HR_TYPE_Q8_0, block, out, 32);
    for (int j = 0; j < 32; j++)
        assert_true(out[j] == 0.5f * (float)(j - 16));
}

static void test_q4_0_layout(void **state)
{
    (void)state;
    uint8_t block[18];
    uint16_t d = hr_f32_to_f16(0.25f);
    memcpy(block, &d, 2);
    for (int j = 0; j < 16; j++)
        block[2 + j] = (uint8_t)((j & 0x0F) | ((15 - j) << 4));
    float out[32];
    hr_dequant_row(HR_TYPE_Q4_0, block, out, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(out[j] == 0.25f * (float)(j - 8));            /* low nibbles first */
        assert_true(out[j + 16] == 0.25f * (float)(15 - j - 8)); /* then high nibbles */
    }
}

static void test_quantize_error_bounded(void **state)
{
    (void)state;
    float x[256], y[256];
    uint8_t buf[256 * 4];
    for (int i = 0; i < 256; i++)
        x[i] = sinf((float)i * 0.37f) * (1.0f + (float)(i % 7));
    const uint32_t types[] = {HR_TYPE_F16, HR_TYPE_Q8_0, HR_TYPE_Q4_0};
    const float rel[] = {1e-3f, 1.0f / 127, 1.0f / 8};
    for (int t = 0; t < 3; t++) {
        hr_quant_row(types[t], x, buf, 256);
        hr_dequant_row(types[t], buf, y, 256);
        for (int b = 0; b < 256; b += 32) {
            float amax = 0;
            for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[b + j]));
            for (int j = 0; j < 32; j++)
                assert_true(fabsf(y[b + j] - x[b + j]) <= rel[t] * amax * 1.01f);
        }
    }
}

static void matmul_checks(void);

static const char *const kernel_sets[] = {"ref", "avx2", "avx512", "avx512vnni"};
#define N_SETS (sizeof kernel_sets / sizeof kernel_sets[0])
static const uint32_t all_types[] = {HR_TYPE_F32,  HR_TYPE_F16,  HR_TYPE_BF16, HR_TYPE_Q8_0,
                                     HR_TYPE_Q4_0, HR_TYPE_Q4_1, HR_TYPE_Q5_0, HR_TYPE_Q5_1,
                                     HR_TYPE_Q2_K, HR_TYPE_Q3_K, HR_TYPE_Q4_K, HR_TYPE_Q5_K,
                                     HR_TYPE_Q6_K};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

/* Small finite f16 scales in a random block so decoded values stay moderate. */
static void fix_scales(uint32_t type, uint8_t *b)
{
    uint16_t h = hr_f32_to_f16(0.01f);
    switch (type) {
    case HR_TYPE_BF16:
        for (int i = 0; i < 2; i += 2)
            b[i + 1] = (uint8_t)(0x3C + (b[i + 1] & 1)); /* exponent near 1.0 */
        break;
    case HR_TYPE_Q4_1:
    case HR_TYPE_Q5_1:
        memcpy(b, &h, 2);
        memcpy(b + 2, &h, 2);
        break;
    case HR_TYPE_Q5_0:
        memcpy(b, &h, 2);
        break;
    case HR_TYPE_Q2_K:
        memcpy(b + 80, &h, 2);
        memcpy(b + 82, &h, 2);
        break;
    case HR_TYPE_Q3_K:
        memcpy(b + 108, &h, 2);
        break;
    case HR_TYPE_Q4_K:
    case HR_TYPE_Q5_K:
        memcpy(b, &h, 2);
        memcpy(b + 2, &h, 2);
        break;
    case HR_TYPE_Q6_K:
        memcpy(b + 208, &h, 2);
        break;
    default:
        break;
    }
}

/* Every kernel set the CPU has: each matches the double-precision reference and is
 * batch/thread invariant on its own. */
static void test_matmul_reference_and_invariance(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SETS; i++) {
        if (hr_kernels_use(kernel_sets[i]) != 0) {
            printf("kernels %s: not available on this CPU, skipped\n", kernel_sets[i]);
            continue;
        }
        matmul_checks();
        printf("kernels %s: matmul within tolerance and invariant\n", kernel_sets[i]);
    }
    hr_kernels_use("ref");
}

/* Weights of `type` for rows x cols floats w: quantized where make-model can (F32, F16, Q8_0,
 * Q4_0), else random (valid) block bytes with small scales, which is all a kernel test needs.
 * Caller frees. */
static uint8_t *make_weights(uint32_t type, const float *w, size_t rows, size_t cols,
                             uint64_t rb)
{
    uint8_t *q = malloc(rows * rb);
    assert_non_null(q);
    bool can_quant = type == HR_TYPE_F32 || type == HR_TYPE_F16 || type == HR_TYPE_Q8_0 ||
                     type == HR_TYPE_Q4_0;
    for (size_t r = 0; r < rows && can_quant; r++)
        hr_quant_row(type, w + r * cols, q + r * rb, cols);
    if (!can_quant) {
        for (size_t b = 0; b < rows * rb; b++)
            q[b] = (uint8_t)((b * 2654435761u) >> 13);
        const struct hr_dtype_info *info = hr_dtype_get(type);
        for (size_t b = 0; b + info->block_bytes <= rows * rb; b += info->block_bytes)
            fix_scales(type, q + b);
    }
    return q;
}

/* The error avx512vnni may add on Q8_0/Q4_0 by quantizing a token's activations per block of
 * 32 to int8 (amax / 127 steps, so at most amax / 254 per element): the sum over blocks of
 * that bound times the block's sum of |w|. Zero for every other set and type. */
static double act_quant_bound(uint32_t type, const float *dq, const float *x, size_t cols)
{
    if (strcmp(hr_kernels_name(), "avx512vnni") != 0 ||
        (type != HR_TYPE_Q8_0 && type != HR_TYPE_Q4_0))
        return 0;
    double bound = 0;
    for (size_t b = 0; b < cols; b += 32) {
        double amax = 0, wsum = 0;
        for (size_t i = b; i < b + 32; i++) {
            amax = fmax(amax, fabs((double)x[i]));
            wsum += fabs((double)dq[i]);
        }
        bound += amax / 254 * wsum;
    }
    return bound * 1.01;
}

/* y (ntok x rows) against a double-precision dot of the dequantized rows, within rel times
 * the sum of the products' magnitudes. */
static void check_against_double(uint32_t type, const uint8_t *q, uint64_t rb, size_t rows,
                                 size_t cols, const float *x, size_t ntok, const float *y,
                                 double rel)
{
    float *dq = malloc(cols * sizeof *dq);
    assert_non_null(dq);
    for (size_t r = 0; r < rows; r++) {
        hr_dequant_row(type, q + r * rb, dq, cols);
        for (size_t t = 0; t < ntok; t++) {
            double ref = 0, mag = 0;
            for (size_t c = 0; c < cols; c++) {
                ref += (double)dq[c] * x[t * cols + c];
                mag += fabs((double)dq[c] * x[t * cols + c]);
            }
            double tol = rel * mag + 1e-6 + act_quant_bound(type, dq, x + t * cols, cols);
            if (fabs(y[t * rows + r] - ref) > tol)
                fail_msg("%s %s cols %zu token %zu row %zu: %g, double %g", hr_kernels_name(),
                         hr_dtype_get(type)->name, cols, t, r, y[t * rows + r], ref);
        }
    }
    free(dq);
}

static void matmul_checks(void)
{
    /* rows, cols (172, 59 and 17 end in a partial chunk: float types), tokens */
    const size_t shapes[][3] = {{7, 64, 1},  {33, 172, 5}, {64, 96, 17}, {5, 32, 40},
                                {9, 512, 3}, {6, 59, 9},   {3, 17, 2},   {11, 768, 21}};
    struct hr_pool *p2 = NULL, *p3 = NULL;
    assert_int_equal(hr_pool_new(&p2, 2), 0);
    assert_int_equal(hr_pool_new(&p3, 3), 0);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t rows = shapes[si][0], cols = shapes[si][1], ntok = shapes[si][2];
        float *w = malloc(rows * cols * sizeof *w), *x = malloc(ntok * cols * sizeof *x);
        for (size_t i = 0; i < rows * cols; i++)
            w[i] = cosf((float)i * 0.11f);
        for (size_t i = 0; i < ntok * cols; i++)
            x[i] = sinf((float)i * 0.07f);
        for (size_t ti = 0; ti < N_TYPES; ti++) {
            uint32_t type = all_types[ti];
            uint64_t rb;
            if (!hr_dtype_row_bytes(type, cols, &rb))
                continue; /* quantized types need whole blocks */
            uint8_t *q = make_weights(type, w, rows, cols, rb);
            float *y1 = malloc(ntok * rows * sizeof *y1), *y2 = malloc(ntok * rows * sizeof *y2);
            float *y3 = malloc(ntok * rows * sizeof *y3), *yt = malloc(rows * sizeof *yt);
            hr_matmul(type, q, rb, rows, cols, x, ntok, y1, NULL);
            hr_matmul(type, q, rb, rows, cols, x, ntok, y2, p2);
            hr_matmul(type, q, rb, rows, cols, x, ntok, y3, p3);
            assert_memory_equal(y1, y2, ntok * rows * sizeof *y1);
            assert_memory_equal(y1, y3, ntok * rows * sizeof *y1);
            for (size_t t = 0; t < ntok; t++) {
                /* one token alone gives the same bits as inside the batch */
                hr_matvec(type, q, rb, rows, cols, x + t * cols, yt, p2);
                assert_memory_equal(yt, y1 + t * rows, rows * sizeof *yt);
            }
            check_against_double(type, q, rb, rows, cols, x, ntok, y1, 1e-5);
            free(q);
            free(y1);
            free(y2);
            free(y3);
            free(yt);
        }
        free(w);
        free(x);
    }
    hr_pool_free(p2);
    hr_pool_free(p3);
}

/* Every SIMD set the CPU has, every type, 1..40 tokens (across the kernels' token groups):
 * within a tolerance of the plain-C kernel; a batch's first n tokens give the bits of the
 * first n of a longer batch; a token alone gives the bits it gets at another position of a
 * batch of 40, on 1 and on 2 threads. */
static void test_simd_sets_against_ref_and_batch_invariant(void **state)
{
    (void)state;
    enum { ROWS = 24, NTOK = 40, POS = 37 };
    const size_t cols_float[] = {59, 300}, cols_block[] = {512};
    struct hr_pool *p2 = NULL;
    assert_int_equal(hr_pool_new(&p2, 2), 0);
    float *x = malloc(NTOK * 512 * sizeof *x), *xb = malloc(NTOK * 512 * sizeof *xb);
    float *w = malloc(ROWS * 512 * sizeof *w);
    float *yref = malloc(NTOK * ROWS * sizeof *yref), *yall = malloc(NTOK * ROWS * sizeof *yall);
    float *yn = malloc(NTOK * ROWS * sizeof *yn), *yb = malloc(NTOK * ROWS * sizeof *yb);
    float *y1 = malloc(ROWS * sizeof *y1);
    for (size_t i = 0; i < ROWS * 512; i++)
        w[i] = cosf((float)i * 0.013f) * (1.0f + (float)(i % 5));
    for (size_t i = 0; i < NTOK * 512; i++)
        x[i] = sinf((float)i * 0.031f);
    for (size_t si = 1; si < N_SETS; si++) {
        if (hr_kernels_use(kernel_sets[si]) != 0) {
            printf("kernels %s: not available on this CPU, skipped\n", kernel_sets[si]);
            continue;
        }
        for (size_t ti = 0; ti < N_TYPES; ti++) {
            uint32_t type = all_types[ti];
            bool is_float = hr_dtype_get(type)->block_elems == 1;
            const size_t *cols_list = is_float ? cols_float : cols_block;
            size_t n_cols_list = is_float ? 2 : 1;
            for (size_t ci = 0; ci < n_cols_list; ci++) {
                size_t cols = cols_list[ci];
                uint64_t rb;
                assert_true(hr_dtype_row_bytes(type, cols, &rb));
                uint8_t *q = make_weights(type, w, ROWS, cols, rb);
                assert_int_equal(hr_kernels_use("ref"), 0);
                hr_matmul(type, q, rb, ROWS, cols, x, NTOK, yref, NULL);
                assert_int_equal(hr_kernels_use(kernel_sets[si]), 0);
                hr_matmul(type, q, rb, ROWS, cols, x, NTOK, yall, NULL);
                check_against_double(type, q, rb, ROWS, cols, x, NTOK, yall, 1e-5);
                float *dq = malloc(cols * sizeof *dq);
                for (size_t r = 0; r < ROWS; r++) {
                    hr_dequant_row(type, q + r * rb, dq, cols);
                    for (size_t t = 0; t < NTOK; t++) {
                        double mag = 0;
                        for (size_t c = 0; c < cols; c++)
                            mag += fabs((double)dq[c] * x[t * cols + c]);
                        float a = yall[t * ROWS + r], b = yref[t * ROWS + r];
                        double tol = 2e-5 * mag + 1e-6 +
                                     act_quant_bound(type, dq, x + t * cols, cols);
                        if (fabs((double)a - b) > tol)
                            fail_msg("%s %s cols %zu: token %zu row %zu %g, ref kernel %g",
                                     kernel_sets[si], hr_dtype_get(type)->name, cols, t, r, a,
                                     b);
                    }
                }
                free(dq);
                for (size_t n = 1; n <= NTOK; n++) {
                    hr_matmul(type, q, rb, ROWS, cols, x, n, yn, n % 2 ? NULL : p2);
                    assert_memory_equal(yn, yall, n * ROWS * sizeof *yn);
                }
                /* token 0 alone, then at position POS of a batch of the other tokens */
                for (size_t t = 0; t < NTOK; t++)
                    memcpy(xb + t * cols, x + ((t + 1) % NTOK) * cols, cols * sizeof *xb);
                memcpy(xb + POS * cols, x, cols * sizeof *xb);
                for (int threads = 1; threads <= 2; threads++) {
                    struct hr_pool *p = threads == 2 ? p2 : NULL;
                    hr_matvec(type, q, rb, ROWS, cols, x, y1, p);
                    hr_matmul(type, q, rb, ROWS, cols, xb, NTOK, yb, p);
                    assert_memory_equal(y1, yall, ROWS * sizeof *y1);
                    assert_memory_equal(yb + POS * ROWS, y1, ROWS * sizeof *y1);
                }
                free(q);
            }
        }
        printf("kernels %s: every type within tolerance of ref, batch invariant for 1..%d "
               "tokens, 1 and 2 threads\n",
               kernel_sets[si], NTOK);
    }
    hr_kernels_use("ref");
    hr_pool_free(p2);
    free(x);
    free(xb);
    free(w);
    free(yref);
    free(yall);
    free(yn);
    free(yb);
    free(y1);
}

/* An unknown name is refused; a known set is usable or refused as unsupported, never
 * half-chosen. */
static void test_kernel_set_names(void **state)
{
    (void)state;
    assert_int_equal(hr_kernels_use("avx1024"), HR_EINVAL);
    for (size_t i = 0; i < N_SETS; i++) {
        const char *before = hr_kernels_name();
        int rc = hr_kernels_use(kernel_sets[i]);
        if (rc == 0)
            assert_string_equal(hr_kernels_name(), kernel_sets[i]);
        else
            assert_true(rc == HR_EUNSUPPORTED && strcmp(hr_kernels_name(), before) == 0);
    }
    assert_int_equal(hr_kernels_use("ref"), 0);
}

/* Every block type against tests/oracle/dequant_ref.py: numpy decoding random block bytes
 * from the layouts, written independently of the C kernels. */
static void test_dequant_matches_numpy_oracle(void **state)
{
    (void)state;
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        skip();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/oracle/dequant_ref.py %s", tu_tmpdir());
    assert_int_equal(system(cmd), 0);
    const struct {
        const char *name;
        uint32_t type;
    } types[] = {{"Q4_0", HR_TYPE_Q4_0}, {"Q4_1", HR_TYPE_Q4_1}, {"Q5_0", HR_TYPE_Q5_0},
                 {"Q5_1", HR_TYPE_Q5_1}, {"Q8_0", HR_TYPE_Q8_0}, {"Q2_K", HR_TYPE_Q2_K},
                 {"Q3_K", HR_TYPE_Q3_K}, {"Q4_K", HR_TYPE_Q4_K}, {"Q5_K", HR_TYPE_Q5_K},
                 {"Q6_K", HR_TYPE_Q6_K}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char path[512], name[32];
        size_t nb, nf;
        snprintf(name, sizeof name, "%s.bin", types[i].name);
        char *raw = tu_read_file(tu_tmpfile(name, path, sizeof path), &nb);
        snprintf(name, sizeof name, "%s.f32", types[i].name);
        char *want = tu_read_file(tu_tmpfile(name, path, sizeof path), &nf);
        assert_non_null(raw);
        assert_non_null(want);
        size_t n = nf / sizeof(float);
        uint64_t bytes = 0;
        assert_true(hr_dtype_row_bytes(types[i].type, n, &bytes) && bytes == nb);
        float *got = malloc(n * sizeof *got);
        hr_dequant_row(types[i].type, raw, got, n);
        for (size_t k = 0; k < n; k++) {
            float w;
            memcpy(&w, want + k * 4, 4);
            if (fabsf(got[k] - w) > 1e-6f * (1 + fabsf(w)))
                fail_msg("%s element %zu: got %g, numpy %g", types[i].name, k, got[k], w);
        }
        printf("dequant %s: %zu values equal to numpy\n", types[i].name, n);
        free(got);
        free(raw);
        free(want);
    }
}

static void sum_range(void *ud, size_t b, size_t e)
{
    long *counts = ud;
    for (size_t i = b; i < e; i++)
        counts[i]++;
}

static void test_pool_covers_every_index_once(void **state)
{
    (void)state;
    struct hr_pool *p = NULL;
    assert_int_equal(hr_pool_new(&p, 3), 0);
    assert_int_equal(hr_pool_threads(p), 3);
    long counts[1000] = {0};
    for (int rep = 0; rep < 50; rep++)
        hr_pool_run(p, 1000, sum_range, counts);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(counts[i], 50);
    hr_pool_free(p);
    assert_int_equal(hr_pool_new(&p, 0), HR_EINVAL);
}

/* The attention primitives on F16 rows, every set: q . k and out += a * v against a double
 * reference on the widened halves, for every length up to a head of 256 (SIMD bodies and
 * tails), with rows at odd byte offsets (the KV cache packs heads back to back). F16 row
 * widening is exact in every set. */
static void test_f16_attention_primitives(void **state)
{
    (void)state;
    enum { MAXN = 256 };
    uint8_t kbuf[2 * MAXN + 1], vbuf[2 * MAXN + 1];
    float q[MAXN], out[MAXN], want[MAXN], wide[MAXN];
    uint32_t seed = 7;
    for (int i = 0; i < MAXN; i++) {
        seed = seed * 1664525u + 1013904223u;
        uint16_t hk = hr_f32_to_f16(((float)(seed >> 8) / 16777216.0f - 0.5f) * 4.0f);
        uint16_t hv = hr_f32_to_f16(((float)(seed >> 4 & 0xFFFF) / 65536.0f - 0.5f) * 2.0f);
        memcpy(kbuf + 1 + 2 * i, &hk, 2);
        memcpy(vbuf + 1 + 2 * i, &hv, 2);
        q[i] = ((float)(seed & 0xFFF) / 4096.0f - 0.5f);
    }
    for (size_t si = 0; si < N_SETS; si++) {
        if (hr_kernels_use(kernel_sets[si]) != 0)
            continue;
        for (size_t n = 1; n <= MAXN; n++) {
            double ref = 0, mag = 0;
            hr_dequant_row(HR_TYPE_F16, kbuf + 1, wide, n);
            for (size_t i = 0; i < n; i++) {
                uint16_t h;
                memcpy(&h, kbuf + 1 + 2 * i, 2);
                assert_true(wide[i] == hr_f16_to_f32(h)); /* exact */
                ref += (double)wide[i] * q[i];
                mag += fabs((double)wide[i] * q[i]);
            }
            float got = hr_dot_f16(kbuf + 1, q, n);
            if (fabs(got - ref) > 1e-6 * mag + 1e-7)
                fail_msg("kernels %s: dot_f16 n=%zu: %.9g, want %.9g", kernel_sets[si], n, got,
                         ref);
            for (size_t i = 0; i < n; i++)
                out[i] = want[i] = q[i];
            hr_axpy_f16(0.37f, vbuf + 1, out, n);
            for (size_t i = 0; i < n; i++) {
                uint16_t h;
                memcpy(&h, vbuf + 1 + 2 * i, 2);
                double w = want[i] + 0.37 * (double)hr_f16_to_f32(h);
                if (fabs(out[i] - w) > 1e-6 * (fabs(w) + 1))
                    fail_msg("kernels %s: axpy_f16 n=%zu i=%zu: %.9g, want %.9g",
                             kernel_sets[si], n, i, out[i], w);
            }
        }
        printf("kernels %s: F16 attention primitives within tolerance\n", kernel_sets[si]);
    }
    hr_kernels_use("ref");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_round_trip_all),
        cmocka_unit_test(test_f16_stores_match_scalar),
        cmocka_unit_test(test_q8_0_layout),
        cmocka_unit_test(test_q4_0_layout),
        cmocka_unit_test(test_quantize_error_bounded),
        cmocka_unit_test(test_matmul_reference_and_invariance),
        cmocka_unit_test(test_simd_sets_against_ref_and_batch_invariant),
        cmocka_unit_test(test_kernel_set_names),
        cmocka_unit_test(test_f16_attention_primitives),
        cmocka_unit_test(test_pool_covers_every_index_once),
        cmocka_unit_test(test_dequant_matches_numpy_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
