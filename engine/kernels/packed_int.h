/* Shared by matmul_packed.c (the driver, Q8_0 and Q4_0) and matmul_packed_k.c (Q4_K and Q6_K):
 * the panel shape, and on x86-64 the quantized activations and the helpers the VNNI tiles use.
 * Nothing else includes this. */
#ifndef HR_PACKED_INT_H
#define HR_PACKED_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels_int.h"

/* Rows per panel: one per 32-bit lane of a ZMM register. */
#define PK_PANEL 16
/* Tokens per tile: an accumulator each plus 8 weight registers and the scales fit in 32. */
#define PK_TOKENS 8

/* The file's rows [p0 * 16, p1 * 16) of a K type rewritten as panels (zero past n_rows). */
void hr_kernels__pack_q4_k(const uint8_t *w, size_t row_bytes, size_t n_rows, size_t n_cols,
                           uint8_t *out, size_t p0, size_t p1);
void hr_kernels__pack_q6_k(const uint8_t *w, size_t row_bytes, size_t n_rows, size_t n_cols,
                           uint8_t *out, size_t p0, size_t p1);
/* Bytes of one panel's 256-element superblock. */
#define PK_Q4_K_SUPER (PK_PANEL * 148)
#define PK_Q6_K_SUPER (PK_PANEL * 210)

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define PK_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))
#define PK_INLINE static inline __attribute__((always_inline))

/* A call's activations quantized per 32-element block to int8 with one float scale d, and
 * what the type's tile needs besides, per token and block: start, the integer sum's start
 * -offset * sum(q) (Q8_0, Q4_0, Q5_0); start16, -32 * sum(q) per 16-element half (Q6_K); dsum,
 * d * sum(q) (Q4_K). */
struct pk_acts {
    const int8_t *q; /* n_tok x n_cols */
    const float *d;
    const int32_t *start, *start16;
    const float *dsum;
    size_t n_cols, nb;
};

/* Writable views of a call's scratch, laid out as struct pk_acts reads it. */
struct pk_acts_out {
    int8_t *q;
    float *d;
    int32_t *start, *start16;
    float *dsum;
};

/* Quantizes n_tok tokens of n_cols floats for `type`'s tiles (matmul_packed_avx2.c; AVX2,
 * which every packing set has). */
void hr_kernels__pk_quantize(uint32_t type, const float *x, size_t n_tok, size_t n_cols,
                             const struct pk_acts_out *o);

/* Panels [p0, p1) of packed (panel_bytes each) times tokens [t0, t1); y is n_tok x n_rows. */
#define PK_PANELS_PARAMS                                                                        \
    const uint8_t *packed, size_t panel_bytes, size_t n_rows, const struct pk_acts *a,          \
        size_t t0, size_t t1, float *y, size_t p0, size_t p1
typedef void (*pk_panels_fn)(PK_PANELS_PARAMS);
/* avx512vnni's Q4_K and Q6_K (matmul_packed_k.c) */
void hr_kernels__panels_q4_k(PK_PANELS_PARAMS);
void hr_kernels__panels_q6_k(PK_PANELS_PARAMS);
/* every type with AVX2 (matmul_packed_avx2.c), for the avx2 and avx512 sets */
void hr_kernels__panels_avx2_q8_0(PK_PANELS_PARAMS);
void hr_kernels__panels_avx2_q4_0(PK_PANELS_PARAMS);
void hr_kernels__panels_avx2_q5_0(PK_PANELS_PARAMS);
void hr_kernels__panels_avx2_q4_k(PK_PANELS_PARAMS);
void hr_kernels__panels_avx2_q6_k(PK_PANELS_PARAMS);

/* 4 bytes of token activations, for broadcasting. */
PK_INLINE int32_t pk_load_i32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 32 elements of 16 rows stored as 4 x 64 bytes of nibbles (Q4_0's panel layout): register k
 * gets elements 4k..4k+3 of row i in lane i, from load k's low nibbles (k < 4) or load
 * k - 4's high ones. */
PK_VNNI PK_INLINE void pk_load_nibbles(const uint8_t *p, __m512i w[8])
{
    const __m512i m = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512i v = _mm512_loadu_si512(p + 64 * j);
        w[j] = _mm512_and_si512(v, m);
        w[j + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
    }
}

/* Sum over the 4k elements in registers w[k0..k0+n) of the weights times token bytes xq
 * (broadcast 4 at a time), added to s. */
PK_VNNI PK_INLINE __m512i pk_dot(__m512i s, const __m512i *w, const int8_t *xq, int n)
{
#pragma GCC unroll 8
    for (int k = 0; k < n; k++)
        s = _mm512_dpbusd_epi32(s, w[k], _mm512_set1_epi32(pk_load_i32(xq + 4 * k)));
    return s;
}

/* The panel loop for a tile function tile(panel, acts, t0, y, ldy, mask, nt) that is inlined
 * with a constant token count nt <= PK_TOKENS. */
#define PK_DEFINE_PANELS(name, tile)                                                            \
    PK_VNNI void name(PK_PANELS_PARAMS)                                                         \
    {                                                                                           \
        for (size_t p = p0; p < p1; p++) {                                                      \
            const uint8_t *panel = packed + p * panel_bytes;                                    \
            size_t left = n_rows - p * PK_PANEL;                                                \
            __mmask16 mask =                                                                    \
                left >= PK_PANEL ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);           \
            float *yp = y + p * PK_PANEL;                                                       \
            size_t t = t0;                                                                      \
            for (; t + PK_TOKENS <= t1; t += PK_TOKENS)                                         \
                tile(panel, a, t, yp, n_rows, mask, PK_TOKENS);                                 \
            switch (t1 - t) {                                                                   \
            case 7: tile(panel, a, t, yp, n_rows, mask, 7); break;                              \
            case 6: tile(panel, a, t, yp, n_rows, mask, 6); break;                              \
            case 5: tile(panel, a, t, yp, n_rows, mask, 5); break;                              \
            case 4: tile(panel, a, t, yp, n_rows, mask, 4); break;                              \
            case 3: tile(panel, a, t, yp, n_rows, mask, 3); break;                              \
            case 2: tile(panel, a, t, yp, n_rows, mask, 2); break;                              \
            case 1: tile(panel, a, t, yp, n_rows, mask, 1); break;                              \
            default: break;                                                                     \
            }                                                                                   \
        }                                                                                       \
    }

#endif

#endif
