/* Q4_K and Q6_K weights in 16-row panels for the avx512vnni set, and their tiles (the driver
 * and the activations are matmul_packed.c's). A panel holds each 256-element superblock of
 * its 16 rows together, with the 6-bit scales and mins already unpacked to bytes, so a tile
 * turns them into per-row float vectors with two instructions and never parses the file's
 * 12-byte packing in the loop:
 *   Q4_K (148 bytes a row, the file's 144 plus 4): 16 half d | 16 half dmin | 8 x 16 scales |
 *     8 x 16 mins | 8 sub-blocks of 32 in Q4_0's nibble layout (4 x 64 bytes each)
 *   Q6_K (210 bytes a row, as the file): 16 half d | 16 x 16 int8 scales | per 32 elements,
 *     their low 4 bits in Q4_0's nibble layout, then 2 x 64 bytes of their top 2 bits: bits
 *     2k..2k+1 of byte e of lane i in the h-th 64 bytes belong to element 4(4h + k) + e of
 *     row i
 * Q4_K's value is d*sc*q - dmin*m with q in 0..15: the integer sums are q . x, scaled by d*sc,
 * and dmin*m times the block's d*sum(x) is taken off. Q6_K's is d*sc*(q - 32) with q in 0..63
 * and one scale per 16 elements: each half's sum starts at -32 * sum(x).
 * Engine thread and pool workers. */
#include <string.h>

#include "packed_int.h"

static uint16_t half_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

/* Element e (0..31) of a 32-element group at nibble layout base p, row i: its byte and
 * whether it is the high nibble. */
static uint8_t *nibble_byte(uint8_t *p, size_t i, int e, int *high)
{
    *high = e >= 16;
    return p + 64 * ((e % 16) / 4) + 4 * i + e % 4;
}

static void put_nibble(uint8_t *p, size_t i, int e, unsigned q)
{
    int high;
    uint8_t *b = nibble_byte(p, i, e, &high);
    *b = (uint8_t)(high ? (*b & 0x0F) | (q << 4) : (*b & 0xF0) | q);
}

static size_t panel_rows(size_t n_rows, size_t p)
{
    return n_rows - p * PK_PANEL < PK_PANEL ? n_rows - p * PK_PANEL : PK_PANEL;
}

/* One file superblock (src) of row i into its panel superblock o. */
typedef void (*super_fn)(const uint8_t *src, uint8_t *o, size_t i);

static void super_q4_k(const uint8_t *src, uint8_t *o, size_t i)
{
    memcpy(o + 2 * i, src, 2);
    memcpy(o + 32 + 2 * i, src + 2, 2);
    for (int j = 0; j < 8; j++) {
        int sc, mn;
        hr_kernels__scale_min_k4(j, src + 4, &sc, &mn);
        o[64 + 16 * j + i] = (uint8_t)sc;
        o[192 + 16 * j + i] = (uint8_t)mn;
    }
    /* the file: 64 elements per 32 bytes, low nibbles first */
    for (int e = 0; e < 256; e++) {
        uint8_t byte = src[16 + 32 * (e / 64) + e % 32];
        unsigned q = (e % 64) < 32 ? byte & 0x0F : byte >> 4;
        put_nibble(o + 320 + 256 * (e / 32), i, e % 32, q);
    }
}

static void super_q6_k(const uint8_t *src, uint8_t *o, size_t i)
{
    uint16_t d = half_at(src + 208);
    memcpy(o + 2 * i, &d, 2);
    for (int g = 0; g < 16; g++)
        o[32 + 16 * g + i] = src[192 + g];
    /* the file: per 128 elements, 64 bytes of low nibbles and 32 of 2-bit pairs */
    for (int e = 0; e < 256; e++) {
        int half = e / 128, l = e % 32, quarter = (e % 128) / 32;
        uint8_t lo = src[64 * half + l + (quarter & 1) * 32];
        unsigned q = (quarter & 2) ? lo >> 4 : lo & 0x0F;
        unsigned hi = (src[128 + 32 * half + l] >> (2 * quarter)) & 3;
        uint8_t *grp = o + 288 + 384 * (e / 32);
        int r = (e % 32) / 4;
        put_nibble(grp, i, e % 32, q);
        grp[256 + 64 * (r / 4) + 4 * i + e % 4] |= (uint8_t)(hi << (2 * (r % 4)));
    }
}

static void pack_supers(const uint8_t *w, size_t row_bytes, size_t n_rows, size_t n_cols,
                        uint8_t *out, size_t p0, size_t p1, size_t file_bytes,
                        size_t super_bytes, super_fn fn)
{
    size_t nsb = n_cols / 256;
    for (size_t p = p0; p < p1; p++) {
        uint8_t *panel = out + p * nsb * super_bytes;
        size_t rows = panel_rows(n_rows, p);
        memset(panel, 0, nsb * super_bytes);
        for (size_t i = 0; i < rows; i++) {
            const uint8_t *src = w + (p * PK_PANEL + i) * row_bytes;
            for (size_t sb = 0; sb < nsb; sb++)
                fn(src + sb * file_bytes, panel + sb * super_bytes, i);
        }
    }
}

void hr_kernels__pack_q4_k(const uint8_t *w, size_t row_bytes, size_t n_rows, size_t n_cols,
                           uint8_t *out, size_t p0, size_t p1)
{
    pack_supers(w, row_bytes, n_rows, n_cols, out, p0, p1, 144, PK_Q4_K_SUPER, super_q4_k);
}

void hr_kernels__pack_q6_k(const uint8_t *w, size_t row_bytes, size_t n_rows, size_t n_cols,
                           uint8_t *out, size_t p0, size_t p1)
{
    pack_supers(w, row_bytes, n_rows, n_cols, out, p0, p1, 210, PK_Q6_K_SUPER, super_q6_k);
}

#if defined(__x86_64__)

/* 16 row scales: bytes at p (unsigned or signed) times the rows' float factors f. */
PK_VNNI PK_INLINE __m512 row_scales_u8(const uint8_t *p, __m512 f)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm512_mul_ps(f, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)));
}

PK_VNNI PK_INLINE __m512 row_scales_i8(const uint8_t *p, __m512 f)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm512_mul_ps(f, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)));
}

PK_VNNI PK_INLINE __m512 halves(const uint8_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

PK_VNNI PK_INLINE void tile_q4_k(const uint8_t *panel, const struct pk_acts *a, size_t t0,
                                 float *y, size_t ldy, __mmask16 mask, int nt)
{
    __m512 acc[PK_TOKENS];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (size_t sb = 0; sb < a->nb / 8; sb++) {
        const uint8_t *s = panel + sb * PK_Q4_K_SUPER;
        __m512 d = halves(s), dmin = halves(s + 32);
        for (int j = 0; j < 8; j++) {
            __m512 rs = row_scales_u8(s + 64 + 16 * j, d);
            __m512 rm = row_scales_u8(s + 192 + 16 * j, dmin);
            __m512i w[8];
            pk_load_nibbles(s + 320 + 256 * j, w);
            size_t b = sb * 8 + (size_t)j;
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) {
                size_t tb = (t0 + (size_t)t) * a->nb + b;
                const int8_t *xq = a->q + (t0 + (size_t)t) * a->n_cols + 32 * b;
                __m512i sum = pk_dot(_mm512_setzero_si512(), w, xq, 8);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum),
                                         _mm512_mul_ps(rs, _mm512_set1_ps(a->d[tb])), acc[t]);
                acc[t] = _mm512_fnmadd_ps(rm, _mm512_set1_ps(a->dsum[tb]), acc[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(y + (t0 + (size_t)t) * ldy, mask, acc[t]);
}

/* Merges the top 2 bits of registers w[0..7] (the 2 x 64 bytes at p) in above their nibbles. */
PK_VNNI PK_INLINE void add_high_bits(const uint8_t *p, __m512i w[8])
{
    const __m512i m = _mm512_set1_epi8(0x30);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m512i v = _mm512_loadu_si512(p + 64 * h);
        /* bits 2k..2k+1 of each byte to bits 4..5: no bits cross a byte under the mask */
        w[4 * h + 0] = _mm512_ternarylogic_epi32(w[4 * h + 0], _mm512_slli_epi16(v, 4), m, 0xF8);
        w[4 * h + 1] = _mm512_ternarylogic_epi32(w[4 * h + 1], _mm512_slli_epi16(v, 2), m, 0xF8);
        w[4 * h + 2] = _mm512_ternarylogic_epi32(w[4 * h + 2], v, m, 0xF8);
        w[4 * h + 3] = _mm512_ternarylogic_epi32(w[4 * h + 3], _mm512_srli_epi16(v, 2), m, 0xF8);
    }
}

PK_VNNI PK_INLINE void tile_q6_k(const uint8_t *panel, const struct pk_acts *a, size_t t0,
                                 float *y, size_t ldy, __mmask16 mask, int nt)
{
    __m512 acc[PK_TOKENS];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (size_t sb = 0; sb < a->nb / 8; sb++) {
        const uint8_t *s = panel + sb * PK_Q6_K_SUPER;
        __m512 d = halves(s);
        for (int j = 0; j < 8; j++) {
            __m512 rs0 = row_scales_i8(s + 32 + 32 * j, d);
            __m512 rs1 = row_scales_i8(s + 48 + 32 * j, d);
            __m512i w[8];
            pk_load_nibbles(s + 288 + 384 * j, w);
            add_high_bits(s + 288 + 384 * j + 256, w);
            size_t b = sb * 8 + (size_t)j;
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) {
                size_t tb = (t0 + (size_t)t) * a->nb + b;
                const int8_t *xq = a->q + (t0 + (size_t)t) * a->n_cols + 32 * b;
                __m512i s0 = pk_dot(_mm512_set1_epi32(a->start16[2 * tb]), w, xq, 4);
                __m512i s1 = pk_dot(_mm512_set1_epi32(a->start16[2 * tb + 1]), w + 4, xq + 16, 4);
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(s0), rs0);
                f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), rs1, f);
                acc[t] = _mm512_fmadd_ps(f, _mm512_set1_ps(a->d[tb]), acc[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(y + (t0 + (size_t)t) * ldy, mask, acc[t]);
}

PK_DEFINE_PANELS(hr_kernels__panels_q4_k, tile_q4_k)
PK_DEFINE_PANELS(hr_kernels__panels_q6_k, tile_q6_k)

#endif
