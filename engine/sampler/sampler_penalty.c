/* Logit bias and repetition penalties. The repeat penalty (llama.cpp's) looks at a window of
 * the last repeat_last_n tokens, prompt included; OpenAI's frequency and presence penalties
 * count only generated tokens, as OpenAI defines them. Counts are kept incrementally, so a
 * step costs O(window + distinct generated tokens), never O(vocabulary) beyond the bias. All
 * memory is taken at creation. One thread at a time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "sampler_int.h"

struct hr_penalty {
    float repeat, freq, presence;
    /* repeat window: ring of the last `last_n` tokens */
    uint32_t last_n;
    int32_t *ring;
    uint32_t ring_n, ring_head;
    uint32_t *stamp; /* per id: the step that last penalised it (each id once a step) */
    uint32_t step;
    /* generated tokens: count per id and the distinct ids in order of first use */
    uint32_t *gen_count;
    int32_t *gen_ids;
    uint32_t n_gen_ids;
    struct hr_logit_bias *bias;
    uint32_t n_bias;
};

void hr_sampler__penalty_free(struct hr_penalty *pen)
{
    if (!pen)
        return;
    free(pen->ring);
    free(pen->stamp);
    free(pen->gen_count);
    free(pen->gen_ids);
    free(pen->bias);
    free(pen);
}

int hr_sampler__penalty_new(struct hr_penalty **out, const struct hr_sampler_params *p,
                            int32_t n_vocab)
{
    *out = NULL;
    bool repeat = p->repeat_penalty != 0 && p->repeat_penalty != 1 && p->repeat_last_n > 0;
    bool counts = p->frequency_penalty != 0 || p->presence_penalty != 0;
    if (!repeat && !counts && p->n_logit_bias == 0)
        return 0;
    struct hr_penalty *pen = calloc(1, sizeof *pen);
    if (!pen)
        return HR_ENOMEM;
    size_t nv = (size_t)n_vocab;
    bool ok = true;
    if (repeat) {
        pen->repeat = p->repeat_penalty;
        pen->last_n = p->repeat_last_n;
        pen->ring = malloc(pen->last_n * sizeof *pen->ring);
        pen->stamp = calloc(nv, sizeof *pen->stamp);
        ok = pen->ring && pen->stamp;
    }
    if (ok && counts) {
        pen->freq = p->frequency_penalty;
        pen->presence = p->presence_penalty;
        pen->gen_count = calloc(nv, sizeof *pen->gen_count);
        pen->gen_ids = malloc(nv * sizeof *pen->gen_ids);
        ok = pen->gen_count && pen->gen_ids;
    }
    if (ok && p->n_logit_bias) {
        pen->bias = malloc(p->n_logit_bias * sizeof *pen->bias);
        ok = pen->bias != NULL;
        if (ok) {
            memcpy(pen->bias, p->logit_bias, p->n_logit_bias * sizeof *pen->bias);
            pen->n_bias = p->n_logit_bias;
        }
    }
    if (!ok) {
        hr_sampler__penalty_free(pen);
        return HR_ENOMEM;
    }
    *out = pen;
    return 0;
}

const struct hr_logit_bias *hr_sampler__penalty_bias(const struct hr_penalty *pen)
{
    return pen ? pen->bias : NULL;
}

void hr_sampler__penalty_accept(struct hr_penalty *pen, int32_t token, bool generated)
{
    if (!pen)
        return;
    if (pen->ring) {
        if (pen->ring_n < pen->last_n) {
            pen->ring[(pen->ring_head + pen->ring_n) % pen->last_n] = token;
            pen->ring_n++;
        } else { /* full: the newest replaces the oldest */
            pen->ring[pen->ring_head] = token;
            pen->ring_head = (pen->ring_head + 1) % pen->last_n;
        }
    }
    if (generated && pen->gen_count && pen->gen_count[token]++ == 0)
        pen->gen_ids[pen->n_gen_ids++] = token;
}

void hr_sampler__penalty_apply(struct hr_penalty *pen, float *logits)
{
    for (uint32_t i = 0; i < pen->n_bias; i++)
        logits[pen->bias[i].token] += pen->bias[i].bias;
    if (pen->ring && pen->ring_n) {
        if (++pen->step == 0) { /* wrapped: old stamps could collide */
            for (uint32_t i = 0; i < pen->ring_n; i++)
                pen->stamp[pen->ring[i]] = 0;
            pen->step = 1;
        }
        for (uint32_t i = 0; i < pen->ring_n; i++) {
            int32_t t = pen->ring[(pen->ring_head + i) % pen->last_n];
            if (pen->stamp[t] == pen->step)
                continue;
            pen->stamp[t] = pen->step;
            logits[t] = logits[t] > 0 ? logits[t] / pen->repeat : logits[t] * pen->repeat;
        }
    }
    for (uint32_t i = 0; i < pen->n_gen_ids; i++) {
        int32_t t = pen->gen_ids[i];
        logits[t] -= (float)pen->gen_count[t] * pen->freq + pen->presence;
    }
}
