/* Shared by the sampler's files; nothing outside engine/sampler includes this. */
#ifndef HR_SAMPLER_INT_H
#define HR_SAMPLER_INT_H

#include "sampler.h"

/* NULL in *out (and 0) when p sets no bias and no penalty: sampling then reads the logits as
 * they are. */
int hr_sampler__penalty_new(struct hr_penalty **out, const struct hr_sampler_params *p,
                            int32_t n_vocab);
void hr_sampler__penalty_free(struct hr_penalty *pen);
void hr_sampler__penalty_accept(struct hr_penalty *pen, int32_t token, bool generated);
/* Applies bias then penalties to logits in place. */
void hr_sampler__penalty_apply(struct hr_penalty *pen, float *logits);
/* The sampler's own copy of the bias list (for s->p.logit_bias). */
const struct hr_logit_bias *hr_sampler__penalty_bias(const struct hr_penalty *pen);

#endif
