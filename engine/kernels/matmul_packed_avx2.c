/* The packed panels (matmul_packed.c, matmul_packed_k.c) for the avx2 and avx512 sets: the
 * same layout read as two halves of 8 rows, rows 0..7 in the low 32 bytes of every 64, 8..15
 * in the high ones, and the same integer sums made with vpmaddubsw (unsigned weight times
 * signed activation bytes, pairs added into 16 bits) and vpmaddwd. No sum saturates: Q4_0
 * and Q4_K nibbles (at most 15 * 127 * 2 per pair) add up over all 32 elements in 16 bits,
 * Q6_K's 6-bit values (63) over 8, and Q8_0 is multiplied as |w| times x with w's sign (at
 * most 128 * 127 * 2), so the 128 its packed form adds is taken off first. Every (row, token)
 * result is the blocks' exact integer sums scaled in block order, as on avx512vnni.
 * Also the activations' quantization, which every packed set shares.
 * Engine thread and pool workers. */
#include "packed_int.h"

#if defined(__x86_64__)

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define TOKENS 4
#define RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

AVX2 PK_INLINE int32_t hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

AVX2 PK_INLINE float hmax_ps(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 void hr_kernels__pk_quantize(uint32_t type, const float *x, size_t n_tok, size_t n_cols,
                                  const struct pk_acts_out *o)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t nb = n_cols / 32;
    int32_t offset = type == HR_TYPE_Q8_0 ? 128 : type == HR_TYPE_Q5_0 ? 16 : 8;
    for (size_t t = 0; t < n_tok; t++)
        for (size_t b = 0; b < nb; b++) {
            size_t tb = t * nb + b;
            const float *xp = x + t * n_cols + 32 * b;
            __m256 v[4];
            __m256 m = _mm256_setzero_ps();
            for (int k = 0; k < 4; k++) {
                v[k] = _mm256_loadu_ps(xp + 8 * k);
                m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
            }
            float amax = hmax_ps(m);
            __m256 id = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] = _mm256_cvttps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], id), RND));
            /* packs interleave 128-bit lanes: the permute puts the 32 bytes back in order */
            __m256i q8 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                            _mm256_packs_epi32(q[2], q[3]));
            q8 = _mm256_permutevar8x32_epi32(q8, order);
            _mm256_storeu_si256((__m256i *)(void *)(o->q + t * n_cols + 32 * b), q8);
            float d = amax / 127.0f;
            o->d[tb] = d;
            int32_t s0 = hsum_i32(_mm256_add_epi32(q[0], q[1]));
            int32_t s1 = hsum_i32(_mm256_add_epi32(q[2], q[3]));
            if (type == HR_TYPE_Q4_K) {
                o->dsum[tb] = d * (float)(s0 + s1);
            } else if (type == HR_TYPE_Q6_K) {
                o->start16[2 * tb] = -32 * s0;
                o->start16[2 * tb + 1] = -32 * s1;
            } else {
                o->start[tb] = -offset * (s0 + s1);
            }
        }
}

AVX2 PK_INLINE __m256i bcast4(const int8_t *p)
{
    return _mm256_set1_epi32(pk_load_i32(p));
}

AVX2 PK_INLINE __m256i load32(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* 8 halves (at p + 16 * half of 16) as floats. */
AVX2 PK_INLINE __m256 halves8(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

AVX2 PK_INLINE __m256 bytes8_u(const uint8_t *p, __m256 f)
{
    __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm256_mul_ps(f, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b)));
}

AVX2 PK_INLINE __m256 bytes8_s(const uint8_t *p, __m256 f)
{
    __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm256_mul_ps(f, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)));
}

/* How far ahead of a tile's reads the first half prefetches, and how many bytes per step:
 * decode streams the panels once, and the hardware's prefetcher alone leaves the loads
 * waiting on memory. */
#define AHEAD 4096

AVX2 PK_INLINE void prefetch(const uint8_t *p, size_t bytes, int h)
{
    if (h == 0)
        for (size_t o = 0; o < bytes; o += 64)
            _mm_prefetch((const char *)p + AHEAD + o, _MM_HINT_T0);
}

/* The row tile: y for nt tokens from t0 and rows h * 8 .. h * 8 + 7 of the panel (mask's
 * lanes), one type's body computing acc[t] block by block. */
#define TILE_BEGIN                                                                             \
    __m256 acc[TOKENS];                                                                        \
    _Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)                                                               \
        acc[t] = _mm256_setzero_ps();
#define TILE_END                                                                               \
    _Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)                                                               \
        _mm256_maskstore_ps(y + (t0 + (size_t)t) * ldy, mask, acc[t]);

#define XQ(t, b) (a->q + (t0 + (size_t)(t)) * a->n_cols + 32 * (b))
#define TB(t, b) ((t0 + (size_t)(t)) * a->nb + (b))

/* 32 nibble-layout elements at p (this half's bytes) times each token's block b, in int32. */
AVX2 PK_INLINE void dot_nibbles(const uint8_t *p, const struct pk_acts *a, size_t t0, size_t b,
                                __m256i sum[TOKENS], int nt)
{
    const __m256i m = _mm256_set1_epi8(0x0F);
    __m256i s16[TOKENS];
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m256i v = load32(p + 64 * j);
        __m256i lo = _mm256_and_si256(v, m), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lo, bcast4(XQ(t, b) + 4 * j)));
            s16[t] = _mm256_add_epi16(s16[t],
                                      _mm256_maddubs_epi16(hi, bcast4(XQ(t, b) + 16 + 4 * j)));
        }
    }
    const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        sum[t] = _mm256_madd_epi16(s16[t], ones);
}

/* Bit k of each byte of v moved to bit 4 (a 16-bit shift keeps it in its byte). */
AVX2 PK_INLINE __m256i bit_to_4(__m256i v, int k)
{
    __m256i s = k <= 4 ? _mm256_slli_epi16(v, 4 - k) : _mm256_srli_epi16(v, k - 4);
    return _mm256_and_si256(s, _mm256_set1_epi8(0x10));
}

/* Q5_0's 32 elements (nibbles at p, fifth bits at hb: this half's bytes) times each token's
 * block b, added to sum; 4 registers' pairs at most in 16 bits (31 * 127 * 8). */
AVX2 PK_INLINE void dot_q5_0(const uint8_t *p, const uint8_t *hb, const struct pk_acts *a,
                             size_t t0, size_t b, __m256i sum[TOKENS], int nt)
{
    const __m256i m = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256i v5 = load32(hb);
#pragma GCC unroll 2
    for (int jp = 0; jp < 4; jp += 2) {
        __m256i s16[TOKENS];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int j = jp; j < jp + 2; j++) {
            __m256i v = load32(p + 64 * j);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(v, m), bit_to_4(v5, j));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m),
                                         bit_to_4(v5, j + 4));
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                s16[t] = _mm256_add_epi16(s16[t],
                                          _mm256_maddubs_epi16(lo, bcast4(XQ(t, b) + 4 * j)));
                s16[t] = _mm256_add_epi16(
                    s16[t], _mm256_maddubs_epi16(hi, bcast4(XQ(t, b) + 16 + 4 * j)));
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(s16[t], ones));
    }
}

AVX2 PK_INLINE void tile_blocks(uint32_t type, const uint8_t *panel, int h,
                                const struct pk_acts *a, size_t t0, float *y, size_t ldy,
                                __m256i mask, int nt)
{
    TILE_BEGIN
    size_t bb = PK_PANEL * (type == HR_TYPE_Q8_0 ? 34 : type == HR_TYPE_Q5_0 ? 22 : 18);
    const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char)0x80);
    for (size_t b = 0; b < a->nb; b++) {
        const uint8_t *blk = panel + b * bb;
        prefetch(blk, bb, h);
        __m256 dw = halves8(blk + 16 * h);
        __m256i sum[TOKENS];
        if (type == HR_TYPE_Q4_0) {
            dot_nibbles(blk + 32 + 32 * h, a, t0, b, sum, nt);
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                sum[t] = _mm256_add_epi32(sum[t], _mm256_set1_epi32(a->start[TB(t, b)]));
        } else if (type == HR_TYPE_Q5_0) {
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                sum[t] = _mm256_set1_epi32(a->start[TB(t, b)]);
            dot_q5_0(blk + 32 + 32 * h, blk + 288 + 32 * h, a, t0, b, sum, nt);
        } else {
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                sum[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                __m256i w = _mm256_xor_si256(load32(blk + 32 + 64 * k + 32 * h), flip);
                __m256i aw = _mm256_abs_epi8(w);
#pragma GCC unroll 4
                for (int t = 0; t < nt; t++) {
                    __m256i xs = _mm256_sign_epi8(bcast4(XQ(t, b) + 4 * k), w);
                    sum[t] = _mm256_add_epi32(
                        sum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xs), ones));
                }
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]),
                                     _mm256_mul_ps(dw, _mm256_set1_ps(a->d[TB(t, b)])), acc[t]);
    }
    TILE_END
}

AVX2 PK_INLINE void tile_q4_k(const uint8_t *panel, int h, const struct pk_acts *a, size_t t0,
                              float *y, size_t ldy, __m256i mask, int nt)
{
    TILE_BEGIN
    for (size_t sb = 0; sb < a->nb / 8; sb++) {
        const uint8_t *s = panel + sb * PK_Q4_K_SUPER;
        prefetch(s, PK_Q4_K_SUPER, h);
        __m256 d = halves8(s + 16 * h), dmin = halves8(s + 32 + 16 * h);
        for (int j = 0; j < 8; j++) {
            __m256 rs = bytes8_u(s + 64 + 16 * j + 8 * h, d);
            __m256 rm = bytes8_u(s + 192 + 16 * j + 8 * h, dmin);
            size_t b = sb * 8 + (size_t)j;
            __m256i sum[TOKENS];
            dot_nibbles(s + 320 + 256 * j + 32 * h, a, t0, b, sum, nt);
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]),
                                         _mm256_mul_ps(rs, _mm256_set1_ps(a->d[TB(t, b)])),
                                         acc[t]);
                acc[t] = _mm256_fnmadd_ps(rm, _mm256_set1_ps(a->dsum[TB(t, b)]), acc[t]);
            }
        }
    }
    TILE_END
}

/* Q6_K register r (elements 4r..4r+3 of a 32-block): nibbles from load r % 4 (low or high
 * by r / 4) and bits 4..5 from the 2-bit pairs (2 * (r % 4) in the r / 4-th 64 bytes). */
AVX2 PK_INLINE __m256i q6_register(const uint8_t *p, int r)
{
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    __m256i v = load32(p + 64 * (r % 4));
    __m256i lo = r < 4 ? _mm256_and_si256(v, m4) : _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    __m256i hb = load32(p + 256 + 64 * (r / 4));
    int shift = 2 * (r % 4);
    hb = shift < 4 ? _mm256_slli_epi16(hb, 4 - shift) : _mm256_srli_epi16(hb, shift - 4);
    return _mm256_or_si256(lo, _mm256_and_si256(hb, m2));
}

AVX2 PK_INLINE void tile_q6_k(const uint8_t *panel, int h, const struct pk_acts *a, size_t t0,
                              float *y, size_t ldy, __m256i mask, int nt)
{
    TILE_BEGIN
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t sb = 0; sb < a->nb / 8; sb++) {
        const uint8_t *s = panel + sb * PK_Q6_K_SUPER;
        prefetch(s, PK_Q6_K_SUPER, h);
        __m256 d = halves8(s + 16 * h);
        for (int j = 0; j < 8; j++) {
            size_t b = sb * 8 + (size_t)j;
            const uint8_t *q = s + 288 + 384 * j + 32 * h;
            __m256 f[TOKENS];
#pragma GCC unroll 2
            for (int half = 0; half < 2; half++) {
                __m256 rs = bytes8_s(s + 32 + 32 * j + 16 * half + 8 * h, d);
                __m256i sum[TOKENS];
#pragma GCC unroll 4
                for (int t = 0; t < nt; t++)
                    sum[t] = _mm256_set1_epi32(a->start16[2 * TB(t, b) + (size_t)half]);
                /* two registers' pairs fit in 16 bits (63 * 127 * 4) */
#pragma GCC unroll 2
                for (int r = 4 * half; r < 4 * half + 4; r += 2) {
                    __m256i w0 = q6_register(q, r), w1 = q6_register(q, r + 1);
#pragma GCC unroll 4
                    for (int t = 0; t < nt; t++) {
                        __m256i s16 =
                            _mm256_add_epi16(_mm256_maddubs_epi16(w0, bcast4(XQ(t, b) + 4 * r)),
                                             _mm256_maddubs_epi16(w1, bcast4(XQ(t, b) + 4 * r + 4)));
                        sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(s16, ones));
                    }
                }
#pragma GCC unroll 4
                for (int t = 0; t < nt; t++)
                    f[t] = half ? _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), rs, f[t])
                                : _mm256_mul_ps(_mm256_cvtepi32_ps(sum[t]), rs);
            }
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                acc[t] = _mm256_fmadd_ps(f[t], _mm256_set1_ps(a->d[TB(t, b)]), acc[t]);
        }
    }
    TILE_END
}

/* One type's tile over nt tokens, with a constant nt where inlined. */
AVX2 PK_INLINE void tile(uint32_t type, const uint8_t *panel, int h, const struct pk_acts *a,
                         size_t t0, float *y, size_t ldy, __m256i mask, int nt)
{
    if (type == HR_TYPE_Q4_K)
        tile_q4_k(panel, h, a, t0, y, ldy, mask, nt);
    else if (type == HR_TYPE_Q6_K)
        tile_q6_k(panel, h, a, t0, y, ldy, mask, nt);
    else
        tile_blocks(type, panel, h, a, t0, y, ldy, mask, nt);
}

AVX2 PK_INLINE void panels(uint32_t type, const uint8_t *packed, size_t panel_bytes,
                           size_t n_rows, const struct pk_acts *a, size_t t0, size_t t1,
                           float *y, size_t p0, size_t p1)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (size_t p = p0; p < p1; p++)
        for (int h = 0; h < 2; h++) {
            size_t row = p * PK_PANEL + 8 * (size_t)h;
            if (row >= n_rows)
                break;
            size_t left = n_rows - row < 8 ? n_rows - row : 8;
            __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left), lane);
            const uint8_t *panel = packed + p * panel_bytes;
            size_t t = t0;
            for (; t + TOKENS <= t1; t += TOKENS)
                tile(type, panel, h, a, t, y + row, n_rows, mask, TOKENS);
            switch (t1 - t) {
            case 3: tile(type, panel, h, a, t, y + row, n_rows, mask, 3); break;
            case 2: tile(type, panel, h, a, t, y + row, n_rows, mask, 2); break;
            case 1: tile(type, panel, h, a, t, y + row, n_rows, mask, 1); break;
            default: break;
            }
        }
}

#define DEFINE_PANELS(name, type)                                                              \
    AVX2 void name(PK_PANELS_PARAMS)                                                           \
    {                                                                                          \
        panels(type, packed, panel_bytes, n_rows, a, t0, t1, y, p0, p1);                       \
    }

DEFINE_PANELS(hr_kernels__panels_avx2_q8_0, HR_TYPE_Q8_0)
DEFINE_PANELS(hr_kernels__panels_avx2_q4_0, HR_TYPE_Q4_0)
DEFINE_PANELS(hr_kernels__panels_avx2_q5_0, HR_TYPE_Q5_0)
DEFINE_PANELS(hr_kernels__panels_avx2_q4_k, HR_TYPE_Q4_K)
DEFINE_PANELS(hr_kernels__panels_avx2_q6_k, HR_TYPE_Q6_K)

#endif
