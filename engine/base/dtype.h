/* Tensor element types as numbered by GGUF/ggml, with their block layout. A row of n
 * elements of a block type occupies n / block_elems * block_bytes bytes (n must be a
 * multiple of block_elems). Any thread. */
#ifndef HR_DTYPE_H
#define HR_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hr_dtype {
    HR_TYPE_F32 = 0,
    HR_TYPE_F16 = 1,
    HR_TYPE_Q4_0 = 2,
    HR_TYPE_Q4_1 = 3,
    HR_TYPE_Q5_0 = 6,
    HR_TYPE_Q5_1 = 7,
    HR_TYPE_Q8_0 = 8,
    HR_TYPE_Q8_1 = 9,
    HR_TYPE_Q2_K = 10,
    HR_TYPE_Q3_K = 11,
    HR_TYPE_Q4_K = 12,
    HR_TYPE_Q5_K = 13,
    HR_TYPE_Q6_K = 14,
    HR_TYPE_Q8_K = 15,
    HR_TYPE_I8 = 24,
    HR_TYPE_I16 = 25,
    HR_TYPE_I32 = 26,
    HR_TYPE_I64 = 27,
    HR_TYPE_F64 = 28,
    HR_TYPE_BF16 = 30,
    HR_TYPE_COUNT_ = 40, /* one past the largest number we may ever know */
};

struct hr_dtype_info {
    const char *name;     /* "F32", "Q4_K", ... as llama.cpp prints them; NULL if unknown */
    uint32_t block_elems; /* elements per block (1 for scalar types) */
    uint32_t block_bytes; /* bytes per block */
};

/* Layout of a type, or NULL when the number is not a type we know. */
const struct hr_dtype_info *hr_dtype_get(uint32_t type);
/* Bytes of a row of n elements; false when n is not a whole number of blocks or the type is
 * unknown. */
bool hr_dtype_row_bytes(uint32_t type, uint64_t n, uint64_t *out_bytes);

#endif
