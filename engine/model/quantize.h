/* Quantization mixes (which type each tensor of a model gets) and whole-file quantization:
 * a GGUF model in F32, F16 or BF16 in, the same model with its matrices quantized out. The
 * per-tensor rule is shared by `hearth quantize` and make-model. Any thread (one call, one
 * thread: it reads one file and writes another). */
#ifndef HR_QUANTIZE_H
#define HR_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/diag.h"
#include "../base/dtype.h"

/* Named as llama.cpp users know them. f32, f16, q8_0 and q4_0 are "pure": every matrix in
 * that type (F16 when its rows are not whole blocks of it). q4_k_m, q5_k_m and q6_k follow
 * llama-quantize's rule for its Q4_K_M, Q5_K_M and Q6_K file types (hr_qmix_tensor_type). */
enum hr_qmix {
    HR_QMIX_F32,
    HR_QMIX_F16,
    HR_QMIX_Q8_0,
    HR_QMIX_Q4_0,
    HR_QMIX_Q4_K_M,
    HR_QMIX_Q5_K_M,
    HR_QMIX_Q6_K,
    HR_QMIX_COUNT_,
};

/* HR_EINVAL when the name is not one of the above. */
int hr_qmix_from_name(const char *name, enum hr_qmix *out);
/* "q4_k_m", ...; "?" when out of range. */
const char *hr_qmix_name(enum hr_qmix m);
/* The general.file_type llama.cpp writes for the mix (its enum llama_ftype: ALL_F32 0,
 * MOSTLY_F16 1, Q4_0 2, Q8_0 7, Q4_K_M 15, Q5_K_M 17, Q6_K 18). */
uint32_t hr_qmix_file_type(enum hr_qmix m);

/* What the rule needs to know of the whole model. */
struct hr_qmix_model {
    uint32_t n_layer; /* blocks (blk.N.*), for the layers that get more bits */
    bool has_output;  /* a separate output.weight; without one token_embd doubles as the
                         output projection (tied) and is typed as output.weight would be */
};

/* The type tensor `name` (n_dims dimensions, rows of ne0 elements, now of type cur_type) is
 * stored in under mix m. Tensors that are not matrices (n_dims < 2), do not end in "weight"
 * or are norms ("_norm.weight") keep cur_type. For the K mixes, with base type B (Q4_K,
 * Q5_K, Q6_K):
 *   output.weight, and token_embd.weight when tied: Q6_K (Q8_0 if ne0 % 256);
 *   attn_v / attn_qkv and ffn_down: Q6_K in the layers that get more bits (q4_k_m, q5_k_m),
 *     i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2; B elsewhere;
 *   every other matrix: B.
 * Rows that are not whole 256-blocks then fall back as llama-quantize does: Q4_K -> Q5_0,
 * Q5_K -> Q5_1, Q6_K -> Q8_0, and F16 when not even whole 32-blocks. */
uint32_t hr_qmix_tensor_type(enum hr_qmix m, const struct hr_qmix_model *mm, const char *name,
                             uint32_t n_dims, uint64_t ne0, uint32_t cur_type);

/* What a quantization wrote, per output tensor type. */
struct hr_quantize_stats {
    uint32_t n_tensors[HR_TYPE_COUNT_];
    uint64_t n_bytes[HR_TYPE_COUNT_]; /* tensor data bytes, without padding */
    uint64_t in_bytes, out_bytes;     /* tensor data in total, before and after */
};

/* Quantizes the model at in_path into out_path under mix m: every metadata key is copied
 * unchanged except general.file_type (set for the mix; general.quantization_version 2 is
 * added when absent, as llama-quantize writes it); tensors keep their order, names and
 * shapes, and those the rule does not change keep their bytes. The input is mapped, not
 * read; one output tensor is held in memory at a time, its rows split over n_threads
 * threads (the bytes are the same for any count). out_path is written under a
 * temporary name and renamed, so it never holds a partial model. st may be NULL.
 * Errors (diag begins with the file it concerns): HR_EIO, HR_EFORMAT from reading;
 * HR_EUNSUPPORTED when a tensor is not F32, F16 or BF16 (diag names it and its type);
 * HR_EINVAL for an unknown mix; HR_ENOMEM. */
int hr_quantize_file(const char *in_path, const char *out_path, enum hr_qmix m,
                     int n_threads, struct hr_quantize_stats *st, struct hr_diag *d);

#endif
