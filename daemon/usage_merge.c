/* See usage_merge.h. */
#include "usage_merge.h"

#include <stdlib.h>
#include <string.h>

#include "engine/base/err.h"

static double weighted(double a, int64_t na, double b, int64_t nb)
{
    return na + nb ? (a * (double)na + b * (double)nb) / (double)(na + nb) : 0.0;
}

static void add_into(struct hr_usage_group *to, const struct hr_usage_group *from)
{
    to->mean_latency_ms =
        weighted(to->mean_latency_ms, to->requests, from->mean_latency_ms, from->requests);
    to->mean_first_token_ms = weighted(to->mean_first_token_ms, to->requests,
                                       from->mean_first_token_ms, from->requests);
    to->requests += from->requests;
    to->errors += from->errors;
    to->prompt_tokens += from->prompt_tokens;
    to->cached_tokens += from->cached_tokens;
    to->completion_tokens += from->completion_tokens;
    if (from->first_ms < to->first_ms)
        to->first_ms = from->first_ms;
    if (from->last_ms > to->last_ms)
        to->last_ms = from->last_ms;
}

int hr_usage_merge(struct hr_usage_group **acc, size_t *n_acc, const struct hr_usage_group *g,
                   size_t n)
{
    size_t cap = *n_acc + n;
    struct hr_usage_group *out = malloc((cap ? cap : 1) * sizeof *out);
    if (!out)
        return HR_ENOMEM;
    /* both lists are ordered by group: one merge pass keeps the result ordered */
    size_t i = 0, j = 0, k = 0;
    const struct hr_usage_group *a = *acc;
    while (i < *n_acc || j < n) {
        int c = i == *n_acc ? 1 : j == n ? -1 : strcmp(a[i].group, g[j].group);
        if (c < 0) {
            out[k++] = a[i++];
        } else if (c > 0) {
            out[k++] = g[j++];
        } else {
            out[k] = a[i++];
            add_into(&out[k++], &g[j++]);
        }
    }
    free(*acc);
    *acc = out;
    *n_acc = k;
    return 0;
}
