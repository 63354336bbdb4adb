/* Plain-C quantization of float blocks into Q5_0, Q5_1 (the fallbacks llama-quantize uses for
 * rows that are not whole 256-blocks) and the K types Q4_K, Q5_K, Q6_K, byte for byte in the
 * layouts quant_blocks.c decodes. Each sub-block's scale (and offset) is chosen by a small
 * search that minimises the squared error: a grid of candidate scales spanning the values'
 * range, each refitted by least squares for the integer codes it produced. The super-block
 * scales are then rounded to what the format stores and every code is chosen again against
 * the stored scales, so the search never trusts a scale the file cannot hold. Results depend
 * on the input alone (no threads, no state). Any thread. */
#include <math.h>
#include <string.h>

#include "kernels_int.h"

/* The largest finite half: scales are clamped to it so huge inputs saturate rather than turn
 * into Inf (which would decode as Inf or NaN). */
#define F16_MAX 65504.0f

static void wr16(uint8_t *p, float v)
{
    uint16_t h = hr_f32_to_f16(fminf(fmaxf(v, -F16_MAX), F16_MAX));
    memcpy(p, &h, 2);
}

static float rd16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return hr_f16_to_f32(h);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Nearest code for x / s (inv_s may be 0: every code then decodes the same, so 0 is as good).
 * The clamp comes first, so the shifted value is non-negative and truncation rounds it; a
 * NaN fails the first test and becomes lo. (Comparisons, not fminf/fmaxf: those stay libm
 * calls for their NaN rules, and this is the innermost loop.) */
static int code(float x, float inv_s, int lo, int hi)
{
    float v = x * inv_s;
    if (!(v >= (float)lo))
        v = (float)lo;
    if (v > (float)hi)
        v = (float)hi;
    return (int)(v - (float)lo + 0.5f) + lo;
}

static float safe_inv(float s)
{
    return s != 0.0f && isfinite(1.0f / s) ? 1.0f / s : 0.0f;
}

/* --- symmetric sub-blocks: x ~ s * q, q in [lo, hi] (Q6_K, Q5_0) --- */

/* Squared error of n values coded with scale s; the codes go to q when q is not NULL. */
static double sym_err(const float *x, int n, float s, int lo, int hi, int8_t *q)
{
    float inv = safe_inv(s);
    double e = 0;
    for (int i = 0; i < n; i++) {
        int c = code(x[i], inv, lo, hi);
        float r = s * (float)c - x[i];
        e += (double)(r * r);
        if (q)
            q[i] = (int8_t)c;
    }
    return e;
}

/* The scale minimising the squared error of x ~ s * q. Candidates map the value of largest
 * magnitude onto each code near either end of the range, with either sign (the range is not
 * symmetric: the negative end is one code longer); for each the least-squares scale of the
 * codes it produced, sum(x q) / sum(q q), is tried as well. */
static float sym_fit(const float *x, int n, int lo, int hi)
{
    float amax = 0;
    for (int i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    if (amax == 0.0f)
        return 0.0f;
    float best_s = amax / (float)hi;
    double best = sym_err(x, n, best_s, lo, hi, NULL);
    int8_t q[32];
    for (int sign = -1; sign <= 1; sign += 2) {
        for (int k = 0; k < 6; k++) {
            /* denominators from |lo| + 0.5 down to |lo| - 4.5 (clipping the largest) */
            float den = ((float)(sign < 0 ? -lo : hi) + 0.5f) - (float)k;
            float s = (float)sign * amax / den;
            double e = sym_err(x, n, s, lo, hi, q);
            if (e < best) {
                best = e;
                best_s = s;
            }
            double sxq = 0, sqq = 0;
            for (int i = 0; i < n; i++) {
                sxq += (double)x[i] * q[i];
                sqq += (double)q[i] * q[i];
            }
            if (sqq > 0) {
                float s2 = (float)(sxq / sqq);
                double e2 = sym_err(x, n, s2, lo, hi, NULL);
                if (e2 < best) {
                    best = e2;
                    best_s = s2;
                }
            }
        }
    }
    return best_s;
}

/* --- affine sub-blocks: x ~ s * q + b, q in [0, hi] (Q4_K, Q5_K with b <= 0; Q5_1) --- */

static double aff_err(const float *x, int n, float s, float b, int hi, uint8_t *q)
{
    float inv = safe_inv(s);
    double e = 0;
    for (int i = 0; i < n; i++) {
        int c = code(x[i] - b, inv, 0, hi);
        float r = s * (float)c + b - x[i];
        e += (double)(r * r);
        if (q)
            q[i] = (uint8_t)c;
    }
    return e;
}

/* The (s, b) minimising the squared error of x ~ s * q + b; with b_nonpos, b is kept <= 0 as
 * the K types store it (a non-negative min subtracted). Candidates: s spanning [b, max] over
 * hi - 1 ... hi + 1 steps (quarter steps), each followed by the least-squares (s, b) for its codes (with
 * b = 0 and s = sum(x q) / sum(q q) when the free fit wants b > 0). */
static void aff_fit(const float *x, int n, int hi, bool b_nonpos, float *out_s, float *out_b)
{
    float lo_v = x[0], hi_v = x[0];
    for (int i = 1; i < n; i++) {
        lo_v = fminf(lo_v, x[i]);
        hi_v = fmaxf(hi_v, x[i]);
    }
    if (b_nonpos)
        lo_v = fminf(lo_v, 0.0f);
    *out_s = 0.0f;
    *out_b = lo_v;
    if (!(hi_v > lo_v)) /* constant block (<= 0 when b_nonpos): the offset alone is exact */
        return;
    double best = aff_err(x, n, 0.0f, lo_v, hi, NULL);
    uint8_t q[32];
    for (int k = 0; k <= 8; k++) {
        float den = (float)hi - 1.0f + 0.25f * (float)k;
        float s = (hi_v - lo_v) / den;
        double e = aff_err(x, n, s, lo_v, hi, q);
        if (e < best) {
            best = e;
            *out_s = s;
            *out_b = lo_v;
        }
        double sq = 0, sqq = 0, sx = 0, sqx = 0;
        for (int i = 0; i < n; i++) {
            sq += q[i];
            sqq += (double)q[i] * q[i];
            sx += x[i];
            sqx += (double)q[i] * x[i];
        }
        double det = n * sqq - sq * sq;
        if (det <= 0)
            continue;
        double s2 = (n * sqx - sq * sx) / det;
        double b2 = (sqq * sx - sq * sqx) / det;
        if (b_nonpos && b2 > 0) {
            b2 = 0;
            s2 = sqq > 0 ? sqx / sqq : 0;
        }
        if (!(s2 > 0))
            continue;
        double e2 = aff_err(x, n, (float)s2, (float)b2, hi, NULL);
        if (e2 < best) {
            best = e2;
            *out_s = (float)s2;
            *out_b = (float)b2;
        }
    }
}

/* --- 32-element blocks --- */

void hr_kernels__quant_q5_0(const float *x, uint8_t *b)
{
    float s = sym_fit(x, 32, -16, 15);
    wr16(b, s);
    float d = rd16(b);
    double zeros = 0;
    for (int j = 0; j < 32; j++)
        zeros += (double)x[j] * x[j];
    if (sym_err(x, 32, d, -16, 15, NULL) > zeros) { /* half rounding ruined a tiny scale */
        wr16(b, 0.0f);
        d = 0.0f;
    }
    int8_t q[32];
    sym_err(x, 32, d, -16, 15, q);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = q[j] + 16, q1 = q[j + 16] + 16;
        b[6 + j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
        qh |= (uint32_t)(q0 >> 4) << j;
        qh |= (uint32_t)(q1 >> 4) << (j + 16);
    }
    memcpy(b + 2, &qh, 4);
}

void hr_kernels__quant_q5_1(const float *x, uint8_t *b)
{
    float s, m;
    aff_fit(x, 32, 31, false, &s, &m);
    wr16(b, s);
    wr16(b + 2, m);
    /* Half rounding can move a tiny scale far from the fit (even to 0); then the offset that
     * best goes with the stored scale, the mean residual of its codes, may do better. */
    uint8_t q[32];
    float d = rd16(b);
    double e = aff_err(x, 32, d, rd16(b + 2), 31, q);
    double r = 0;
    for (int j = 0; j < 32; j++)
        r += x[j] - (double)d * q[j];
    uint8_t alt[2];
    wr16(alt, (float)(r / 32));
    if (aff_err(x, 32, d, rd16(alt), 31, NULL) < e)
        memcpy(b + 2, alt, 2);
    aff_err(x, 32, d, rd16(b + 2), 31, q);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        b[8 + j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        qh |= (uint32_t)(q[j] >> 4) << j;
        qh |= (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    memcpy(b + 4, &qh, 4);
}

/* --- Q4_K / Q5_K: 8 sub-blocks of 32, x = d*sc*q - dmin*mn, sc and mn 6-bit --- */

/* The 12-byte packing hr_kernels__scale_min_k4 reads: sub-blocks 0..3 keep their scale
 * and min in the low 6 bits of bytes 0..3 and 4..7; 4..7 keep their low 4 bits in bytes
 * 8..11 (scale low nibble, min high nibble) and their top 2 bits in the spare top bits of
 * bytes 0..3 (scale) and 4..7 (min). */
static void pack_scales_k4(const uint8_t sc[8], const uint8_t mn[8], uint8_t *out)
{
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        out[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        out[j + 8] = (uint8_t)((sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4));
    }
}

/* Fits the 256 values of one super-block: d and dmin (as stored, after half rounding), the
 * 6-bit sc/mn per sub-block and the codes q (0..hi). */
static void fit_k4(const float *x, int hi, float *d_out, float *dmin_out, uint8_t sc[8],
                   uint8_t mn[8], uint8_t q[256])
{
    float s[8], m[8], smax = 0, mmax = 0;
    for (int j = 0; j < 8; j++) {
        float b;
        aff_fit(x + 32 * j, 32, hi, true, &s[j], &b);
        m[j] = -b;
        smax = fmaxf(smax, s[j]);
        mmax = fmaxf(mmax, m[j]);
    }
    uint8_t tmp[4];
    wr16(tmp, smax / 63.0f);
    wr16(tmp + 2, mmax / 63.0f);
    float d = rd16(tmp), dmin = rd16(tmp + 2);
    float id = safe_inv(d), idmin = safe_inv(dmin);
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        /* The rounded 6-bit pair, its neighbours and 0 (so a sub-block never decodes worse
         * than zeros would), judged by the error with the codes chosen again for each. */
        int sc0 = clampi((int)lrintf(s[j] * id), 0, 63);
        int mn0 = clampi((int)lrintf(m[j] * idmin), 0, 63);
        double best = INFINITY;
        for (int ka = -2; ka <= 1; ka++) {
            int a = ka < -1 ? 0 : sc0 + ka;
            for (int kc = -2; kc <= 1; kc++) {
                int c = kc < -1 ? 0 : mn0 + kc;
                if (a < 0 || a > 63 || c < 0 || c > 63)
                    continue;
                double e = aff_err(xj, 32, d * (float)a, -dmin * (float)c, hi, NULL);
                if (e < best) {
                    best = e;
                    sc[j] = (uint8_t)a;
                    mn[j] = (uint8_t)c;
                }
            }
        }
        aff_err(xj, 32, d * (float)sc[j], -dmin * (float)mn[j], hi, q + 32 * j);
    }
    *d_out = d;
    *dmin_out = dmin;
}

void hr_kernels__quant_q4_k(const float *x, uint8_t *b)
{
    float d, dmin;
    uint8_t sc[8], mn[8], q[256];
    fit_k4(x, 15, &d, &dmin, sc, mn, q);
    wr16(b, d);
    wr16(b + 2, dmin);
    pack_scales_k4(sc, mn, b + 4);
    uint8_t *qs = b + 16;
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
}

void hr_kernels__quant_q5_k(const float *x, uint8_t *b)
{
    float d, dmin;
    uint8_t sc[8], mn[8], q[256];
    fit_k4(x, 31, &d, &dmin, sc, mn, q);
    wr16(b, d);
    wr16(b + 2, dmin);
    pack_scales_k4(sc, mn, b + 4);
    uint8_t *qh = b + 16, *ql = b + 48;
    memset(qh, 0, 32);
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            int lo = q[64 * c + l], up = q[64 * c + 32 + l];
            ql[32 * c + l] = (uint8_t)((lo & 0x0F) | ((up & 0x0F) << 4));
            qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((up >> 4) << (2 * c + 1)));
        }
    }
}

/* --- Q6_K: 16 sub-blocks of 16, x = d * sc * q, sc int8, q in [-32, 31] --- */

void hr_kernels__quant_q6_k(const float *x, uint8_t *b)
{
    float s[16], amax = 0;
    for (int j = 0; j < 16; j++) {
        s[j] = sym_fit(x + 16 * j, 16, -32, 31);
        amax = fmaxf(amax, fabsf(s[j]));
    }
    uint8_t *dp = b + 208;
    wr16(dp, amax / 127.0f);
    float d = rd16(dp), id = safe_inv(d);
    int8_t *scales = (int8_t *)(b + 192);
    int8_t q[256];
    for (int j = 0; j < 16; j++) {
        const float *xj = x + 16 * j;
        int s0 = clampi((int)lrintf(s[j] * id), -128, 127);
        double best = INFINITY;
        for (int ka = -2; ka <= 1; ka++) {
            int a = ka < -1 ? 0 : s0 + ka; /* 0: never worse than zeros */
            if (a < -128 || a > 127)
                continue;
            double e = sym_err(xj, 16, d * (float)a, -32, 31, NULL);
            if (e < best) {
                best = e;
                scales[j] = (int8_t)a;
            }
        }
        sym_err(xj, 16, d * (float)scales[j], -32, 31, q + 16 * j);
    }
    /* Each 128-element half: ql holds the low nibbles of elements l and l + 64 (byte l) and
     * of l + 32 and l + 96 (byte l + 32); qh byte l the top two bits of l, l+32, l+64, l+96. */
    uint8_t *ql = b, *qh = b + 128;
    for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
        const int8_t *qq = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            int q1 = qq[l] + 32, q2 = qq[l + 32] + 32, q3 = qq[l + 64] + 32;
            int q4 = qq[l + 96] + 32;
            ql[l] = (uint8_t)((q1 & 0x0F) | ((q3 & 0x0F) << 4));
            ql[l + 32] = (uint8_t)((q2 & 0x0F) | ((q4 & 0x0F) << 4));
            qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                              ((q4 >> 4) << 6));
        }
    }
}
