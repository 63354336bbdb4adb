/* make-model: writes a valid GGUF v3 `llama` model with seeded random weights in one of the
 * preset shapes, so tests, benchmarks and the daemon's first start need no downloaded weights.
 * With a vocab GGUF the tokenizer (tokens, scores/merges, types, special ids, pre-tokenizer,
 * chat template) is copied from it; without one, a small built-in SentencePiece-style byte
 * vocabulary with ChatML control tokens is written. The architecture may be llama (default),
 * qwen2, qwen3, phi3, gemma2 or gemma3, optionally marked with an embedding pooling type. Any
 * thread (writes a file). */
#ifndef HR_SYNTH_H
#define HR_SYNTH_H

#include <stdint.h>

#include "../base/diag.h"
#include "quantize.h"

struct hr_synth_preset {
    const char *name;
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    float rope_theta;
};

/* "tiny", "smol", "1b"; NULL when unknown. */
const struct hr_synth_preset *hr_synth_preset_find(const char *name);

struct hr_synth_params {
    const char *preset;     /* preset name */
    uint32_t type;          /* HR_TYPE_F32, F16, Q8_0 or Q4_0 for the matrices */
    const char *out_path;   /* written via a temporary file and rename */
    const char *vocab_path; /* NULL: built-in byte vocabulary */
    uint64_t seed;
    const char *name;       /* general.name; NULL: "hearth-<preset>" */
    const char *arch;       /* llama (NULL), qwen2, qwen3, phi3, gemma2 or gemma3: the preset's
                               shape with that architecture's extra tensors and keys (gemma3:
                               >= 6 layers, tiny with 32-wide heads and a 6-position window) */
    const char *pooling;    /* NULL: no key; mean, cls or last: <arch>.pooling_type (llama.cpp's
                               enum), the pooling of its embeddings */
};

int hr_synth_write(const struct hr_synth_params *p, struct hr_diag *d);
/* The same with the matrices' types picked by mix m's rule (hr_qmix_tensor_type, with the
 * token embedding tied, as make-model writes no output.weight); p->type is ignored. */
int hr_synth_write_mix(const struct hr_synth_params *p, enum hr_qmix m, struct hr_diag *d);

#endif
