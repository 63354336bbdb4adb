/* Block layouts of the GGUF tensor types (ggml's numbering). Any thread. */
#include "dtype.h"

static const struct hr_dtype_info infos[HR_TYPE_COUNT_] = {
    [HR_TYPE_F32] = {"F32", 1, 4},       [HR_TYPE_F16] = {"F16", 1, 2},
    [HR_TYPE_Q4_0] = {"Q4_0", 32, 18},   [HR_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [HR_TYPE_Q5_0] = {"Q5_0", 32, 22},   [HR_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [HR_TYPE_Q8_0] = {"Q8_0", 32, 34},   [HR_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [HR_TYPE_Q2_K] = {"Q2_K", 256, 84},  [HR_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [HR_TYPE_Q4_K] = {"Q4_K", 256, 144}, [HR_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [HR_TYPE_Q6_K] = {"Q6_K", 256, 210}, [HR_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [HR_TYPE_I8] = {"I8", 1, 1},         [HR_TYPE_I16] = {"I16", 1, 2},
    [HR_TYPE_I32] = {"I32", 1, 4},       [HR_TYPE_I64] = {"I64", 1, 8},
    [HR_TYPE_F64] = {"F64", 1, 8},       [HR_TYPE_BF16] = {"BF16", 1, 2},
};

const struct hr_dtype_info *hr_dtype_get(uint32_t type)
{
    if (type >= HR_TYPE_COUNT_ || !infos[type].name)
        return NULL;
    return &infos[type];
}

bool hr_dtype_row_bytes(uint32_t type, uint64_t n, uint64_t *out_bytes)
{
    const struct hr_dtype_info *ti = hr_dtype_get(type);
    if (!ti || n % ti->block_elems)
        return false;
    uint64_t blocks = n / ti->block_elems;
    if (blocks > UINT64_MAX / ti->block_bytes)
        return false;
    *out_bytes = blocks * ti->block_bytes;
    return true;
}
