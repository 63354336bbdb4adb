/* Shared by the scheduler's files; nothing outside engine/scheduler includes this. */
#ifndef HR_SCHED_INT_H
#define HR_SCHED_INT_H

#include "../engine.h"

/* Starts a sequence under grammar g: builds the model's token trie on first use (*vocab,
 * kept by the engine), a grammar state (*out, freed by the caller with
 * hr_grammar_state_free) and installs its mask in the sampler. On error msg says why, for
 * the client. Engine thread. */
int hr_sched__grammar_begin(struct hr_grammar_vocab **vocab, const struct hr_tok *tok,
                            struct hr_grammar *g, struct hr_sampler *sampler,
                            struct hr_grammar_state **out, char *msg, size_t msg_cap);
/* Advances the state by a sampled token; on error msg says why. Engine thread. */
int hr_sched__grammar_accept(struct hr_grammar_state *st, int32_t tok, char *msg,
                             size_t msg_cap);
/* The client's message for a mask failure. */
void hr_sched__grammar_mask_error(int err, char *msg, size_t msg_cap);

#endif
