/* Token sampling for one sequence: logit bias and repetition penalties, then greedy at
 * temperature 0, else top-k, temperature, top-p, min-p and typical-p over a per-request
 * generator (xoshiro256** seeded through splitmix64), so the same seed
 * gives the same tokens whatever else runs. Caller's storage; one thread at a time. */
#ifndef HR_SAMPLER_H
#define HR_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/limits.h"

struct hr_rng {
    uint64_t s[4];
};

void hr_rng_seed(struct hr_rng *r, uint64_t seed);
uint64_t hr_rng_next(struct hr_rng *r);
/* Uniform in [0, 1). */
double hr_rng_uniform(struct hr_rng *r);

/* An additive bias on one token's logit (OpenAI's logit_bias: -100 bans, +100 forces). */
struct hr_logit_bias {
    int32_t token;
    float bias;
};

/* Zero-initialised fields beyond seed mean "off", so {temperature, top_k, top_p, seed} alone
 * is a complete set. */
struct hr_sampler_params {
    float temperature; /* 0 = greedy; must be >= 0 */
    int32_t top_k;     /* 0 = off */
    float top_p;       /* 1 = off; in (0, 1] */
    uint64_t seed;
    float min_p;       /* 0 = off; in [0, 1]: drop tokens below min_p x the top probability */
    float typical_p;   /* 0 or 1 = off; in [0, 1]: locally typical sampling */
    /* llama.cpp's repeat penalty over the last repeat_last_n tokens of prompt and output:
     * positive logits divided by it, negative ones multiplied. 0 or 1 = off; in [0, 10]. */
    float repeat_penalty;
    uint32_t repeat_last_n;
    /* OpenAI's penalties, over the tokens generated so far (not the prompt): a token's logit
     * loses count x frequency_penalty + (count > 0) x presence_penalty. In [-2, 2]. */
    float frequency_penalty;
    float presence_penalty;
    const struct hr_logit_bias *logit_bias; /* n_logit_bias entries, copied by init */
    uint32_t n_logit_bias;
};

/* Penalty and bias state (sampler_penalty.c); private. */
struct hr_penalty;

/* A mask over the logits (a grammar's): sets the logits of forbidden tokens to -INFINITY.
 * Returns 0 or a negative HR_E* code. */
typedef int (*hr_sampler_mask_fn)(void *ud, float *logits);

struct hr_sampler {
    struct hr_sampler_params p; /* p.logit_bias points at the sampler's own copy */
    struct hr_rng rng;
    int32_t n_vocab;
    /* private scratch, n_vocab each */
    int32_t *ids_;
    float *probs_;
    float *work_;   /* the logits after bias and penalties */
    float *score_;  /* typical sampling's distance from the entropy */
    int32_t *order_; /* typical sampling's candidate order */
    struct hr_penalty *pen_;
    hr_sampler_mask_fn mask_; /* NULL: none */
    void *mask_ud_;
    int mask_err; /* the mask's error when hr_sampler_sample returned -1 */
};

/* Whether every field is in its documented range (logit_bias tokens inside n_vocab). */
bool hr_sampler_params_valid(const struct hr_sampler_params *p, int32_t n_vocab);
/* Validates params (HR_EINVAL for out-of-range values, a bias on a token outside the
 * vocabulary included) and allocates the scratch: every allocation happens here, none while
 * sampling. */
int hr_sampler_init(struct hr_sampler *s, const struct hr_sampler_params *p, int32_t n_vocab);
void hr_sampler_deinit(struct hr_sampler *s);
/* Installs a mask applied after bias and penalties and before every sampler (greedy
 * included), so only tokens it allows can be picked. HR_ENOMEM when the scratch it needs
 * cannot be allocated. */
int hr_sampler_set_mask(struct hr_sampler *s, hr_sampler_mask_fn fn, void *ud);
/* Feeds one token of the sequence to the penalties: every prompt token (generated false) and
 * every sampled one (generated true), in order. Cheap when no penalty is set. */
void hr_sampler_accept(struct hr_sampler *s, int32_t token, bool generated);
/* Picks a token from n_vocab logits (not modified): bias, penalties, the mask, then greedy at
 * temperature 0, else top-k, temperature, top-p, min-p, typical-p and a draw. Greedy ties go
 * to the lowest id. -1 only when the mask failed (s->mask_err says why). */
int32_t hr_sampler_sample(struct hr_sampler *s, const float *logits);
int32_t hr_argmax(const float *x, int32_t n);

/* Stop strings (OpenAI `stop`): generated text passes through hr_stop_push, which returns
 * what may be shown now and holds back any tail that could still become a stop string, so
 * no byte of a stop string is ever emitted. Caller's storage; one thread at a time. */
struct hr_stop {
    char *strs[HR_MAX_STOP]; /* private copies */
    size_t lens[HR_MAX_STOP];
    size_t n;
    size_t max_len;
    char *held; /* held-back text, < max_len bytes */
    size_t n_held;
    bool hit;
};

/* Up to HR_MAX_STOP non-empty strings of at most HR_MAX_STOP_BYTES each (HR_EINVAL beyond). */
int hr_stop_init(struct hr_stop *st, const char *const *strs, size_t n);
void hr_stop_deinit(struct hr_stop *st);
/* Appends text; writes the part that can be shown to out (cap >= n + HR_MAX_STOP_BYTES) and
 * returns its length. After a stop string is found, st->hit is true, the text before it has
 * been returned, and everything after is dropped. */
size_t hr_stop_push(struct hr_stop *st, const char *text, size_t n, char *out, size_t cap);
/* At the end of generation: the held-back tail (it never became a stop string). */
size_t hr_stop_flush(struct hr_stop *st, char *out, size_t cap);

#endif
