/* Per-request sampling: bias and penalties (sampler_penalty.c) on a copy of the logits, then
 * greedy at temperature 0; otherwise top-k, temperature, top-p, min-p and typical-p (the
 * order Hugging Face and vLLM apply them) over a generator seeded per request (xoshiro256**
 * through splitmix64), so the same seed gives the same tokens whatever else the engine runs.
 * Candidates are ordered by probability with ties broken by id, so results never depend on
 * sort stability. No allocation while sampling. One thread per sampler. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "sampler_int.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void hr_rng_seed(struct hr_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hr_rng_next(struct hr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hr_rng_uniform(struct hr_rng *r)
{
    return (double)(hr_rng_next(r) >> 11) * 0x1.0p-53;
}

int32_t hr_argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best] || (isnan(x[best]) && !isnan(x[i])))
            best = i;
    return best;
}

static bool in_range(float x, float lo, float hi)
{
    return isfinite(x) && x >= lo && x <= hi;
}

bool hr_sampler_params_valid(const struct hr_sampler_params *p, int32_t n_vocab)
{
    if (n_vocab < 1 || !in_range(p->temperature, 0, INFINITY) || p->top_k < 0 ||
        !(p->top_p > 0 && p->top_p <= 1) || !in_range(p->min_p, 0, 1) ||
        !in_range(p->typical_p, 0, 1) || !in_range(p->repeat_penalty, 0, 10) ||
        !in_range(p->frequency_penalty, -2, 2) || !in_range(p->presence_penalty, -2, 2) ||
        p->repeat_last_n > HR_MODEL_MAX_CTX || p->n_logit_bias > HR_MAX_LOGIT_BIAS ||
        (p->n_logit_bias && !p->logit_bias))
        return false;
    for (uint32_t i = 0; i < p->n_logit_bias; i++)
        if (p->logit_bias[i].token < 0 || p->logit_bias[i].token >= n_vocab ||
            !in_range(p->logit_bias[i].bias, -100, 100))
            return false;
    return true;
}

static bool typical_on(const struct hr_sampler_params *p)
{
    return p->typical_p > 0 && p->typical_p < 1;
}

int hr_sampler_init(struct hr_sampler *s, const struct hr_sampler_params *p, int32_t n_vocab)
{
    memset(s, 0, sizeof *s);
    if (!hr_sampler_params_valid(p, n_vocab))
        return HR_EINVAL;
    s->p = *p;
    s->n_vocab = n_vocab;
    hr_rng_seed(&s->rng, p->seed);
    size_t nv = (size_t)n_vocab;
    int rc = hr_sampler__penalty_new(&s->pen_, p, n_vocab);
    s->p.logit_bias = hr_sampler__penalty_bias(s->pen_);
    bool ok = rc == 0;
    if (ok && s->pen_)
        ok = (s->work_ = malloc(nv * sizeof *s->work_)) != NULL;
    if (ok && p->temperature > 0) {
        s->ids_ = malloc(nv * sizeof *s->ids_);
        s->probs_ = malloc(nv * sizeof *s->probs_);
        ok = s->ids_ && s->probs_;
        if (ok && typical_on(p)) {
            s->score_ = malloc(nv * sizeof *s->score_);
            s->order_ = malloc(nv * sizeof *s->order_);
            ok = s->score_ && s->order_;
        }
    }
    if (!ok) {
        hr_sampler_deinit(s);
        return HR_ENOMEM;
    }
    return 0;
}

void hr_sampler_deinit(struct hr_sampler *s)
{
    free(s->ids_);
    free(s->probs_);
    free(s->work_);
    free(s->score_);
    free(s->order_);
    hr_sampler__penalty_free(s->pen_);
    s->ids_ = s->order_ = NULL;
    s->probs_ = s->work_ = s->score_ = NULL;
    s->pen_ = NULL;
}

int hr_sampler_set_mask(struct hr_sampler *s, hr_sampler_mask_fn fn, void *ud)
{
    if (fn && !s->work_ && !(s->work_ = malloc((size_t)s->n_vocab * sizeof *s->work_)))
        return HR_ENOMEM;
    s->mask_ = fn;
    s->mask_ud_ = ud;
    return 0;
}

void hr_sampler_accept(struct hr_sampler *s, int32_t token, bool generated)
{
    if (token >= 0 && token < s->n_vocab)
        hr_sampler__penalty_accept(s->pen_, token, generated);
}

/* Candidate order: higher logit first, then lower id. */
static bool before(const float *v, int32_t a, int32_t b)
{
    return v[a] > v[b] || (v[a] == v[b] && a < b);
}

static void sift_down(int32_t *h, int32_t n, int32_t i, const float *v)
{
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= n)
            return;
        /* min-heap by candidate order: the root is the worst kept candidate */
        if (c + 1 < n && before(v, h[c], h[c + 1]))
            c++;
        if (!before(v, h[i], h[c]))
            return;
        int32_t tmp = h[i];
        h[i] = h[c];
        h[c] = tmp;
        i = c;
    }
}

/* Keeps the k best ids of logits in ids[0..k), sorted best first (heap select + heap sort). */
static void top_k_sorted(const float *logits, int32_t n, int32_t k, int32_t *ids)
{
    for (int32_t i = 0; i < k; i++)
        ids[i] = i;
    for (int32_t i = k / 2 - 1; i >= 0; i--)
        sift_down(ids, k, i, logits);
    for (int32_t i = k; i < n; i++) {
        if (before(logits, i, ids[0])) {
            ids[0] = i;
            sift_down(ids, k, 0, logits);
        }
    }
    for (int32_t end = k - 1; end > 0; end--) {
        int32_t tmp = ids[0];
        ids[0] = ids[end];
        ids[end] = tmp;
        sift_down(ids, end, 0, logits);
    }
}

/* Ascending distance, then candidate position: a total order. */
static int cmp_score(const void *a, const void *b, void *ud)
{
    const float *score = ud;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (score[x] != score[y])
        return score[x] < score[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* Locally typical sampling (Meister et al. 2022) over candidates [0, keep): orders them by
 * how far their information content is from the entropy, and keeps the closest whose mass
 * reaches typical_p. Writes candidate positions to s->order_; returns how many are kept. */
static int32_t typical_cut(struct hr_sampler *s, int32_t keep, double mass)
{
    double h = 0;
    for (int32_t i = 0; i < keep; i++) {
        double q = s->probs_[i] / mass;
        if (q > 0)
            h -= q * log(q);
    }
    for (int32_t i = 0; i < keep; i++) {
        double q = s->probs_[i] / mass;
        s->score_[i] = q > 0 ? (float)fabs(-log(q) - h) : INFINITY;
        s->order_[i] = i;
    }
    qsort_r(s->order_, (size_t)keep, sizeof *s->order_, cmp_score, s->score_);
    double cum = 0;
    for (int32_t i = 0; i < keep; i++) {
        cum += s->probs_[s->order_[i]] / mass;
        if (cum >= s->p.typical_p)
            return i + 1;
    }
    return keep;
}

int32_t hr_sampler_sample(struct hr_sampler *s, const float *logits)
{
    int32_t n = s->n_vocab;
    if (s->pen_ || s->mask_) {
        memcpy(s->work_, logits, (size_t)n * sizeof *s->work_);
        if (s->pen_)
            hr_sampler__penalty_apply(s->pen_, s->work_);
        if (s->mask_) {
            s->mask_err = s->mask_(s->mask_ud_, s->work_);
            if (s->mask_err)
                return -1;
        }
        logits = s->work_;
    }
    if (s->p.temperature == 0 || !s->ids_)
        return hr_argmax(logits, n);
    int32_t k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
    bool typical = typical_on(&s->p);
    if (k == n && s->p.top_p >= 1.0f && s->p.min_p == 0 && !typical) {
        /* Nothing to cut: the full distribution in id order, no sort needed. */
        for (int32_t i = 0; i < n; i++)
            s->ids_[i] = i;
        int32_t best = hr_argmax(logits, n);
        s->ids_[0] = best;
        s->ids_[best] = 0;
    } else {
        top_k_sorted(logits, n, k, s->ids_);
    }
    float inv_t = 1.0f / s->p.temperature;
    float max = logits[s->ids_[0]];
    if (!isfinite(max))
        return s->ids_[0];
    double sum = 0;
    for (int32_t i = 0; i < k; i++) {
        float x = (logits[s->ids_[i]] - max) * inv_t;
        float pr = isnan(x) ? 0.0f : expf(x);
        s->probs_[i] = pr;
        sum += pr;
    }
    /* top-p: the smallest prefix whose mass reaches top_p (at least one candidate). */
    int32_t keep = k;
    if (s->p.top_p < 1.0f) {
        double cum = 0;
        for (int32_t i = 0; i < k; i++) {
            cum += s->probs_[i] / sum;
            if (cum >= s->p.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    /* min-p: candidates at least min_p times as likely as the best (probs_[0] is 1). */
    if (s->p.min_p > 0) {
        int32_t i = 1;
        while (i < keep && s->probs_[i] >= s->p.min_p * s->probs_[0])
            i++;
        keep = i;
    }
    double mass = 0;
    for (int32_t i = 0; i < keep; i++)
        mass += s->probs_[i];
    const int32_t *order = NULL;
    if (typical) {
        keep = typical_cut(s, keep, mass);
        order = s->order_;
        mass = 0;
        for (int32_t i = 0; i < keep; i++)
            mass += s->probs_[order[i]];
    }
    double r = hr_rng_uniform(&s->rng) * mass;
    double acc = 0;
    for (int32_t i = 0; i < keep; i++) {
        int32_t c = order ? order[i] : i;
        acc += s->probs_[c];
        if (r < acc)
            return s->ids_[c];
    }
    return s->ids_[order ? order[keep - 1] : keep - 1];
}
