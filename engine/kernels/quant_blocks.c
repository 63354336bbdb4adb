/* Plain-C reference dequantization of the remaining ggml block types, one block at a time,
 * following ggml's layouts (sizes in bytes):
 *   Q4_1 (32, 20):  f16 d | f16 m | 16 x (lo nibble: elem j, hi nibble: elem j+16)  x = d*q + m
 *   Q5_0 (32, 22):  f16 d | u32 qh (bit j: 5th bit of elem j) | 16 nibble bytes    x = d*(q-16)
 *   Q5_1 (32, 24):  f16 d | f16 m | u32 qh | 16 nibble bytes                         x = d*q + m
 *   Q2_K (256, 84): 16 scale bytes (lo: scale, hi: min) | 64 x 2-bit | f16 d | f16 dmin
 *   Q3_K (256,110): 32 hmask | 64 x 2-bit | 12 bytes of 16 6-bit scales | f16 d
 *   Q4_K (256,144): f16 d | f16 dmin | 12 bytes of 8 6-bit scales+mins | 128 nibble bytes
 *   Q5_K (256,176): f16 d | f16 dmin | 12 scale bytes | 32 qh | 128 nibble bytes
 *   Q6_K (256,210): 128 lo nibbles | 64 x 2 high bits | 16 int8 scales | f16 d
 * Any thread. */
#include <string.h>

#include "kernels_int.h"

static float f16(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return hr_f16_to_f32(h);
}

void hr_kernels__dequant_q4_1(const uint8_t *b, float *y)
{
    float d = f16(b), m = f16(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 0x0F) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

static void q5(const uint8_t *qh_p, const uint8_t *qs, float d, float m, int offset, float *y)
{
    uint32_t qh;
    memcpy(&qh, qh_p, 4);
    for (int j = 0; j < 16; j++) {
        int h0 = (int)((qh >> j) << 4) & 0x10;
        int h1 = (int)(qh >> (j + 12)) & 0x10;
        y[j] = d * (float)(((qs[j] & 0x0F) | h0) - offset) + m;
        y[j + 16] = d * (float)(((qs[j] >> 4) | h1) - offset) + m;
    }
}

void hr_kernels__dequant_q5_0(const uint8_t *b, float *y)
{
    q5(b + 2, b + 6, f16(b), 0.0f, 16, y);
}

void hr_kernels__dequant_q5_1(const uint8_t *b, float *y)
{
    q5(b + 4, b + 8, f16(b), f16(b + 2), 0, y);
}

void hr_kernels__dequant_q2_k(const uint8_t *b, float *y)
{
    const uint8_t *scales = b, *q = b + 16;
    float d = f16(b + 80), dmin = f16(b + 82);
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; j++) {
            for (int half = 0; half < 2; half++) {
                uint8_t sc = scales[is++];
                float dl = d * (float)(sc & 0x0F), ml = dmin * (float)(sc >> 4);
                for (int l = 0; l < 16; l++)
                    *y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
            }
            shift += 2;
        }
        q += 32;
    }
}

void hr_kernels__dequant_q3_k(const uint8_t *b, float *y)
{
    const uint8_t *hm = b, *q = b + 32;
    float d = f16(b + 108);
    /* 16 six-bit scales: low 4 bits in bytes 0..7, high 2 bits packed in bytes 8..11 */
    int8_t sc[16];
    const uint8_t *s = b + 96;
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? s[i] & 0x0F : s[i - 8] >> 4;
        int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        sc[i] = (int8_t)((lo | (hi << 4)) - 32);
    }
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < 256; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; j++) {
            for (int half = 0; half < 2; half++) {
                float dl = d * (float)sc[is++];
                for (int l = 0; l < 16; l++) {
                    int k = l + 16 * half;
                    int v = ((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
            shift += 2;
            m <<= 1;
        }
        q += 32;
    }
}

/* Scale and min j (0..7) of the 12-byte packed 6-bit pairs used by Q4_K and Q5_K. */
/* Scale and min of sub-blocks is and is + 1 (the two 32-element halves one 64-element pass of
 * Q4_K/Q5_K covers), already multiplied by the block's d and dmin. */
static void scale_min_pair(int is, const uint8_t *scales, float d, float dmin, float ds[2],
                           float ms[2])
{
    for (int k = 0; k < 2; k++) {
        int sc, mn;
        hr_kernels__scale_min_k4(is + k, scales, &sc, &mn);
        ds[k] = d * (float)sc;
        ms[k] = dmin * (float)mn;
    }
}

void hr_kernels__dequant_q4_k(const uint8_t *b, float *y)
{
    float d = f16(b), dmin = f16(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
        float ds[2], ms[2];
        scale_min_pair(is, scales, d, dmin, ds, ms);
        for (int l = 0; l < 32; l++)
            *y++ = ds[0] * (float)(q[l] & 0x0F) - ms[0];
        for (int l = 0; l < 32; l++)
            *y++ = ds[1] * (float)(q[l] >> 4) - ms[1];
    }
}

void hr_kernels__dequant_q5_k(const uint8_t *b, float *y)
{
    float d = f16(b), dmin = f16(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        float ds[2], ms[2];
        scale_min_pair(is, scales, d, dmin, ds, ms);
        for (int l = 0; l < 32; l++)
            *y++ = ds[0] * (float)((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - ms[0];
        for (int l = 0; l < 32; l++)
            *y++ = ds[1] * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - ms[1];
    }
}

void hr_kernels__dequant_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = f16(b + 208);
    for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}
