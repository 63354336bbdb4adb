/* Shared by make-model's files (synth.c writes the model, synth_vocab.c the built-in
 * vocabulary); nothing else includes this. */
#ifndef HR_SYNTH_INT_H
#define HR_SYNTH_INT_H

#include <stdint.h>

#include "../gguf/gguf.h"
#include "synth.h"

/* Adds the built-in vocabulary's tokenizer.* keys to w; *n_vocab gets its size. */
int hr_synth__builtin_vocab(struct hr_gguf_writer *w, uint32_t *n_vocab);

#endif
