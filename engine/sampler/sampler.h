/* Token sampling for one sequence: greedy at temperature 0, else temperature, top-k, top-p
 * over a per-request generator (xoshiro256** seeded through splitmix64), so the same seed
 * gives the same tokens whatever else runs. Caller's storage; one thread at a time. */
#ifndef HR_SAMPLER_H
#define HR_SAMPLER_H

#include <stdint.h>

struct hr_rng {
    uint64_t s[4];
};

void hr_rng_seed(struct hr_rng *r, uint64_t seed);
uint64_t hr_rng_next(struct hr_rng *r);
/* Uniform in [0, 1). */
double hr_rng_uniform(struct hr_rng *r);

struct hr_sampler_params {
    float temperature; /* 0 = greedy; must be >= 0 */
    int32_t top_k;     /* 0 = off */
    float top_p;       /* 1 = off; in (0, 1] */
    uint64_t seed;
};

struct hr_sampler {
    struct hr_sampler_params p;
    struct hr_rng rng;
    int32_t n_vocab;
    /* private scratch, n_vocab each */
    int32_t *ids_;
    float *probs_;
};

/* Validates params (HR_EINVAL for out-of-range values) and allocates the scratch. */
int hr_sampler_init(struct hr_sampler *s, const struct hr_sampler_params *p, int32_t n_vocab);
void hr_sampler_deinit(struct hr_sampler *s);
/* Picks a token from n_vocab logits (not modified). Greedy ties go to the lowest id. */
int32_t hr_sampler_sample(struct hr_sampler *s, const float *logits);
int32_t hr_argmax(const float *x, int32_t n);

#endif
