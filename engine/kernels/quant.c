/* Plain-C reference kernels per tensor type: dequantize a run of blocks, and quantize rows
 * (make-model, quantize; the K types and Q5_0/Q5_1 in quant_k.c). Block layouts follow ggml:
 *   Q8_0: f16 d | 32 x int8 q            x = d * q
 *   Q4_0: f16 d | 16 bytes, element j (0..15) in the low nibble of byte j, element j+16 in
 *         the high nibble                 x = d * (q - 8)
 * Any thread. */
#include <math.h>
#include <string.h>

#include "kernels_int.h"

hr_block_fn hr_kernels__block_fn(uint32_t type)
{
    switch (type) {
    case HR_TYPE_Q4_1:
        return hr_kernels__dequant_q4_1;
    case HR_TYPE_Q5_0:
        return hr_kernels__dequant_q5_0;
    case HR_TYPE_Q5_1:
        return hr_kernels__dequant_q5_1;
    case HR_TYPE_Q2_K:
        return hr_kernels__dequant_q2_k;
    case HR_TYPE_Q3_K:
        return hr_kernels__dequant_q3_k;
    case HR_TYPE_Q4_K:
        return hr_kernels__dequant_q4_k;
    case HR_TYPE_Q5_K:
        return hr_kernels__dequant_q5_k;
    case HR_TYPE_Q6_K:
        return hr_kernels__dequant_q6_k;
    default:
        return NULL;
    }
}

bool hr_kernel_supported(uint32_t type)
{
    return type == HR_TYPE_F32 || type == HR_TYPE_F16 || type == HR_TYPE_BF16 ||
           type == HR_TYPE_Q8_0 || type == HR_TYPE_Q4_0 || hr_kernels__block_fn(type) != NULL;
}

static uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

void hr_dequant_row(uint32_t type, const void *row, float *out, size_t n)
{
    const uint8_t *p = row;
    switch (type) {
    case HR_TYPE_F32:
        memcpy(out, row, n * sizeof(float));
        break;
    case HR_TYPE_F16:
        hr_kernels__f16_row(p, out, n);
        break;
    case HR_TYPE_BF16:
        for (size_t i = 0; i < n; i++)
            out[i] = hr_bf16_to_f32(rd16(p + 2 * i));
        break;
    case HR_TYPE_Q8_0:
        for (size_t b = 0; b < n / 32; b++, p += 34) {
            float d = hr_f16_to_f32(rd16(p));
            for (int j = 0; j < 32; j++)
                out[b * 32 + j] = d * (float)(int8_t)p[2 + j];
        }
        break;
    case HR_TYPE_Q4_0:
        for (size_t b = 0; b < n / 32; b++, p += 18) {
            float d = hr_f16_to_f32(rd16(p));
            for (int j = 0; j < 16; j++) {
                out[b * 32 + j] = d * (float)((p[2 + j] & 0x0F) - 8);
                out[b * 32 + j + 16] = d * (float)((p[2 + j] >> 4) - 8);
            }
        }
        break;
    default: {
        hr_block_fn fn = hr_kernels__block_fn(type);
        const struct hr_dtype_info *ti = hr_dtype_get(type);
        if (!fn || !ti) {
            memset(out, 0, n * sizeof(float)); /* unreachable: loaders check support */
            break;
        }
        for (size_t b = 0; b < n / ti->block_elems; b++)
            fn(p + b * ti->block_bytes, out + b * ti->block_elems);
        break;
    }
    }
}

/* The block encoder of a type without a special path in hr_quant_row, or NULL. */
static void (*quant_block_fn(uint32_t type))(const float *, uint8_t *)
{
    switch (type) {
    case HR_TYPE_Q5_0:
        return hr_kernels__quant_q5_0;
    case HR_TYPE_Q5_1:
        return hr_kernels__quant_q5_1;
    case HR_TYPE_Q4_K:
        return hr_kernels__quant_q4_k;
    case HR_TYPE_Q5_K:
        return hr_kernels__quant_q5_k;
    case HR_TYPE_Q6_K:
        return hr_kernels__quant_q6_k;
    default:
        return NULL;
    }
}

bool hr_quant_row(uint32_t type, const float *in, void *row, size_t n)
{
    uint8_t *p = row;
    switch (type) {
    case HR_TYPE_F32:
        memcpy(row, in, n * sizeof(float));
        break;
    case HR_TYPE_F16:
        hr_kernels__f16_from_f32(in, p, n); /* the KV cache's stores: F16C where the set has it */
        break;
    case HR_TYPE_Q8_0:
        for (size_t b = 0; b < n / 32; b++, p += 34) {
            const float *x = in + b * 32;
            float amax = 0;
            for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[j]));
            float d = amax / 127.0f;
            float id = d ? 1.0f / d : 0.0f;
            uint16_t h = hr_f32_to_f16(d);
            memcpy(p, &h, 2);
            for (int j = 0; j < 32; j++)
                p[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
        }
        break;
    case HR_TYPE_Q4_0:
        for (size_t b = 0; b < n / 32; b++, p += 18) {
            const float *x = in + b * 32;
            /* ggml's choice: the element of largest magnitude maps to -8 exactly. */
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
                if (fabsf(x[j]) > amax) {
                    amax = fabsf(x[j]);
                    max = x[j];
                }
            float d = max / -8.0f;
            float id = d ? 1.0f / d : 0.0f;
            uint16_t h = hr_f32_to_f16(d);
            memcpy(p, &h, 2);
            for (int j = 0; j < 16; j++) {
                int q0 = (int)(x[j] * id + 8.5f);
                int q1 = (int)(x[j + 16] * id + 8.5f);
                q0 = q0 > 15 ? 15 : (q0 < 0 ? 0 : q0);
                q1 = q1 > 15 ? 15 : (q1 < 0 ? 0 : q1);
                p[2 + j] = (uint8_t)(q0 | (q1 << 4));
            }
        }
        break;
    default: {
        void (*fn)(const float *, uint8_t *) = quant_block_fn(type);
        const struct hr_dtype_info *ti = hr_dtype_get(type);
        if (!fn || !ti)
            return false;
        for (size_t b = 0; b < n / ti->block_elems; b++)
            fn(in + b * ti->block_elems, p + b * ti->block_bytes);
        break;
    }
    }
    return true;
}
