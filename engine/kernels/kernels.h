/* Numeric kernels: fp16 conversion, per-type row dequantization and dot products, quantization
 * for make-model, and a small thread pool that splits work inside one engine step. Plain-C
 * reference kernels for every supported type, with AVX2 and AVX-512 matmul sets behind the
 * same calls (see hr_kernels_name). Any thread unless noted. */
#ifndef HR_KERNELS_H
#define HR_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/dtype.h"
#include "../base/limits.h"

struct hr_pool;
struct hr_diag;

float hr_f16_to_f32(uint16_t h);
uint16_t hr_f32_to_f16(float f); /* round to nearest even */
float hr_bf16_to_f32(uint16_t h);

/* True when the dequantize/dot kernels below support the type. */
bool hr_kernel_supported(uint32_t type);
/* Dequantizes n elements (n a multiple of the block size) of a row of `type` into out. */
void hr_dequant_row(uint32_t type, const void *row, float *out, size_t n);
/* Quantizes n floats (a multiple of the block size) into a row of `type`: F32, F16, Q8_0,
 * Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K (false for any other type, row untouched). Finite
 * inputs give finite decoded values (scales saturate at the largest half); the bytes depend
 * on the input alone. */
bool hr_quant_row(uint32_t type, const float *in, void *row, size_t n);
float hr_dot_f32(const float *a, const float *b, size_t n);
/* Attention on F16 rows (n halves, n <= HR_MODEL_MAX_HEAD_DIM): q . k, and out += a * v, by the
 * chosen kernel set (ref: widened, then hr_dot_f32's order). Call after hr_kernels_start or a
 * matmul has chosen the set. */
float hr_dot_f16(const void *k, const float *q, size_t n);
void hr_axpy_f16(float a, const void *v, float *out, size_t n);

/* Attention of up to HR_ATTN_MAX_QUERIES queries of one sequence and one KV head over an F16
 * cache in blocks of 16 positions: position p's K row is at k + table[p / 16] * block_bytes +
 * (p % 16) * row_bytes (v likewise). Query j reads positions [first, end) and writes
 * softmax(scale * q.k, soft-capped when softcap > 0) . v to out (head_dim floats). Only when
 * hr_attn_f16_supported (the chosen set has the kernel for that head size; otherwise use
 * hr_dot_f16 and hr_axpy_f16), else it returns false. A query's results are the same whatever
 * the others. */
#define HR_ATTN_MAX_QUERIES 32
struct hr_attn_kv {
    const uint8_t *k, *v;
    const uint32_t *table;
    size_t block_bytes, row_bytes;
    uint32_t head_dim;
    float scale, softcap;
};
struct hr_attn_query {
    const float *q;
    float *out;
    uint32_t first, end;
};
bool hr_attn_f16_supported(uint32_t head_dim);
bool hr_attn_f16(const struct hr_attn_kv *kv, const struct hr_attn_query *qs, uint32_t nq);

/* y[r] = dot(row r of W, x) for r in [0, n_rows), W of `type` with row_bytes per row and
 * n_cols elements per row; one token. */
void hr_matvec(uint32_t type, const void *w, size_t row_bytes, size_t n_rows, size_t n_cols,
               const float *x, float *y, struct hr_pool *pool);

/* Y[t][r] = dot(row r of W, X[t]) for n_tok tokens (X is n_tok x n_cols, Y n_tok x n_rows);
 * the prefill path. May use OpenBLAS for large float matrices. */
void hr_matmul(uint32_t type, const void *w, size_t row_bytes, size_t n_rows, size_t n_cols,
               const float *x, size_t n_tok, float *y, struct hr_pool *pool);

/* Weights in 16-row panels, made once: hr_pack_bytes is the size of W's packed copy, 0 when
 * the set reads this type in the file's layout (ref, and every type but Q8_0, Q4_0, Q5_0,
 * Q4_K and Q6_K); hr_pack writes it. hr_matmul_packed is hr_matmul on W given both ways: it reads the
 * packed copy (NULL: none) when the chosen set packs, else W. On the copy, activations are
 * quantized per 32 elements to int8 and the products summed exactly in integers (vpdpbusd on
 * avx512vnni, vpmaddubsw on avx2 and avx512), so the results are the same bits for any batch,
 * tile, thread count or packing set, but not those of hr_matmul on W alone: one weight must
 * always be used the same way. */
size_t hr_pack_bytes(uint32_t type, size_t n_rows, size_t n_cols);
void hr_pack(uint32_t type, const void *w, size_t row_bytes, size_t n_rows, size_t n_cols,
             void *packed, struct hr_pool *pool);
void hr_matmul_packed(uint32_t type, const void *packed, const void *w, size_t row_bytes,
                      size_t n_rows, size_t n_cols, const float *x, size_t n_tok, float *y,
                      struct hr_pool *pool);

/* The matmul kernel set, picked once at the first call: "avx512vnni" (avx512 plus AVX512_VNNI
 * int8 dot products for Q8_0/Q4_0, activations quantized per 32-block to int8 as llama.cpp
 * does), else "avx512" (AVX-512 F/BW/VL/DQ + FMA + F16C, when the CPU has it and the OS saves
 * ZMM state), else "avx2" (AVX2+FMA+F16C), else "ref" (plain C, any x86-64); all found by
 * cpuid at run time, so one binary runs anywhere.
 * HEARTH_KERNELS=ref|avx2|avx512|avx512vnni in the environment forces one. Each set is batch
 * invariant on its own; the float sets differ from each other by rounding only.
 * hr_kernels_use: HR_EUNSUPPORTED when the CPU lacks the set, HR_EINVAL for an unknown name.
 * hr_kernels_start: makes the pick and reports a HEARTH_KERNELS it could not honour (the same
 * codes, d says which); model loading calls it. Call both before any work starts. */
const char *hr_kernels_name(void);
int hr_kernels_use(const char *name);
int hr_kernels_start(struct hr_diag *d);

/* Thread pool: n_threads - 1 workers plus the caller. hr_pool_run calls fn(ud, i, n) for
 * every i in [0, n) split across threads and returns when all are done. Engine thread only. */
typedef void (*hr_pool_fn)(void *ud, size_t begin, size_t end);

int hr_pool_new(struct hr_pool **out, int n_threads);
void hr_pool_free(struct hr_pool *p);
int hr_pool_threads(const struct hr_pool *p);
/* Splits [0, n) into contiguous ranges, one per thread; pool may be NULL (runs inline). */
void hr_pool_run(struct hr_pool *p, size_t n, hr_pool_fn fn, void *ud);

#endif
