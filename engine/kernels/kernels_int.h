/* Shared by the kernels' files; nothing outside engine/kernels includes this. */
#ifndef HR_KERNELS_INT_H
#define HR_KERNELS_INT_H

#include <math.h>
#include <string.h>

#include "kernels.h"

/* Every half-precision value as a float (256 KiB): a load beats decoding bits in the inner
 * loops. Filled by hr_kernels__init, which hr_matmul runs once. */
extern float hr_f16_table[65536];
void hr_kernels__init(void);

/* One block of each type into floats (32 or 256 of them); quant_blocks.c. */
void hr_kernels__dequant_q4_1(const uint8_t *b, float *y);
void hr_kernels__dequant_q5_0(const uint8_t *b, float *y);
void hr_kernels__dequant_q5_1(const uint8_t *b, float *y);
void hr_kernels__dequant_q2_k(const uint8_t *b, float *y);
void hr_kernels__dequant_q3_k(const uint8_t *b, float *y);
void hr_kernels__dequant_q4_k(const uint8_t *b, float *y);
void hr_kernels__dequant_q5_k(const uint8_t *b, float *y);
void hr_kernels__dequant_q6_k(const uint8_t *b, float *y);
/* Scale and min j (0..7) of the 12 packed 6-bit pairs of Q4_K and Q5_K. */
static inline void hr_kernels__scale_min_k4(int j, const uint8_t *q, int *sc, int *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
typedef void (*hr_block_fn)(const uint8_t *b, float *y);
/* One block of floats (32 or 256) into each type; quant_k.c. */
void hr_kernels__quant_q5_0(const float *x, uint8_t *b);
void hr_kernels__quant_q5_1(const float *x, uint8_t *b);
void hr_kernels__quant_q4_k(const float *x, uint8_t *b);
void hr_kernels__quant_q5_k(const float *x, uint8_t *b);
void hr_kernels__quant_q6_k(const float *x, uint8_t *b);
/* The block decoder of a type without a special path, or NULL. */
hr_block_fn hr_kernels__block_fn(uint32_t type);

/* matmul_avx2.c: rows [r0, r1) of y = W x with AVX2/FMA/F16C; the CPU check. */
void hr_kernels__mm_rows_avx2(uint32_t type, const uint8_t *w, size_t row_bytes,
                              size_t n_rows, size_t n_cols, const float *x, size_t n_tok,
                              float *y, size_t r0, size_t r1);
bool hr_kernels__have_avx2(void);
/* n halves at p (any alignment) to floats with F16C; exact. */
void hr_kernels__f16_row_avx2(const uint8_t *p, float *out, size_t n);
/* n floats to halves with F16C, rounded as hr_f32_to_f16 (NaN payloads aside). */
void hr_kernels__f16_from_f32_avx2(const float *in, uint8_t *p, size_t n);
/* matmul.c: the same two through the chosen kernel set (plain C for ref). */
void hr_kernels__f16_row(const uint8_t *p, float *out, size_t n);
void hr_kernels__f16_from_f32(const float *in, uint8_t *p, size_t n);
/* F16C + FMA: q . k over n halves at k, and out += a * v (v: n halves). */
float hr_kernels__dot_f16_avx2(const uint8_t *k, const float *q, size_t n);
void hr_kernels__axpy_f16_avx2(float a, const uint8_t *v, float *out, size_t n);
/* cpuid.c: FMA, F16C and OSXSAVE, plus these XCR0 state bits and leaf-7 EBX/ECX features. */
bool hr_kernels__cpu_has(unsigned xcr0_bits, unsigned leaf7_ebx_bits, unsigned leaf7_ecx_bits);
/* matmul_avx512.c: the same with AVX-512 F/BW/VL/DQ; the CPU and OS check. */
void hr_kernels__mm_rows_avx512(uint32_t type, const uint8_t *w, size_t row_bytes,
                                size_t n_rows, size_t n_cols, const float *x, size_t n_tok,
                                float *y, size_t r0, size_t r1);
bool hr_kernels__have_avx512(void);
/* matmul_vnni.c: Q8_0/Q4_0 by int8 dot products (AVX512_VNNI), other types as above. */
void hr_kernels__mm_rows_vnni(uint32_t type, const uint8_t *w, size_t row_bytes, size_t n_rows,
                              size_t n_cols, const float *x, size_t n_tok, float *y, size_t r0,
                              size_t r1);
bool hr_kernels__have_vnni(void);
/* matmul_packed.c: Q8_0/Q4_0/Q4_K/Q6_K rows repacked into 16-row panels (bytes needed, 0
 * when the type or shape has no packed form; the packing, panels split across the pool), and
 * the product on them with VNNI (vnni) or AVX2 (false when its scratch cannot be allocated:
 * nothing was written). */
size_t hr_kernels__packed_bytes(uint32_t type, size_t n_rows, size_t n_cols);
void hr_kernels__pack(uint32_t type, const void *w, size_t row_bytes, size_t n_rows,
                      size_t n_cols, void *out, struct hr_pool *pool);
bool hr_kernels__mm_packed(uint32_t type, bool vnni, const void *packed, size_t n_rows,
                           size_t n_cols, const float *x, size_t n_tok, float *y,
                           struct hr_pool *pool);
/* The block attention kernels' start: each query's running max (-inf), sum (0) and output
 * (zeros), and the positions any query reads, [lo, hi) (lo > hi when none). */
static inline void hr_kernels__attn_begin(const struct hr_attn_query *qs, uint32_t nq,
                                          uint32_t hd, float *m, float *l, uint32_t *lo,
                                          uint32_t *hi)
{
    *lo = UINT32_MAX, *hi = 0;
    for (uint32_t j = 0; j < nq; j++) {
        m[j] = -INFINITY;
        l[j] = 0;
        memset(qs[j].out, 0, hd * sizeof(float));
        if (qs[j].first < qs[j].end) {
            *lo = qs[j].first < *lo ? qs[j].first : *lo;
            *hi = qs[j].end > *hi ? qs[j].end : *hi;
        }
    }
}

/* Their end: each output divided by its softmax sum. */
static inline void hr_kernels__attn_finish(const struct hr_attn_query *qs, uint32_t nq,
                                           uint32_t hd, const float *l)
{
    for (uint32_t j = 0; j < nq; j++) {
        if (l[j] <= 0)
            continue;
        float inv = 1.0f / l[j];
        for (uint32_t d = 0; d < hd; d++)
            qs[j].out[d] *= inv;
    }
}

/* attention_avx2.c: hr_attn_f16 for the avx2 set (head sizes a multiple of 8, else false). */
bool hr_kernels__attn_f16_avx2(const struct hr_attn_kv *kv, const struct hr_attn_query *qs,
                               uint32_t nq);
/* attention_avx512.c: hr_attn_f16 for the AVX-512 sets. */
bool hr_kernels__attn_f16_avx512(const struct hr_attn_kv *kv, const struct hr_attn_query *qs,
                                 uint32_t nq);

#endif
