/* Stop strings over streamed text. The held-back tail is the longest suffix of the text seen
 * so far that is a prefix of some stop string: it may still grow into one, so it is shown
 * only once it cannot. Text arrives as whole UTF-8 characters and a stop string starts on a
 * character, so what is shown always ends on a character boundary. One thread at a time. */
#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "sampler.h"

int hr_stop_init(struct hr_stop *st, const char *const *strs, size_t n)
{
    memset(st, 0, sizeof *st);
    if (n > HR_MAX_STOP)
        return HR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        size_t len = strs[i] ? strlen(strs[i]) : 0;
        if (len == 0 || len > HR_MAX_STOP_BYTES) {
            hr_stop_deinit(st);
            return HR_EINVAL;
        }
        st->strs[i] = malloc(len + 1);
        if (!st->strs[i]) {
            hr_stop_deinit(st);
            return HR_ENOMEM;
        }
        memcpy(st->strs[i], strs[i], len + 1);
        st->lens[i] = len;
        st->n = i + 1;
        if (len > st->max_len)
            st->max_len = len;
    }
    /* the buffer holds a held tail (< max_len) plus one push's worth is searched in place */
    if (n && !(st->held = malloc(HR_MAX_STOP_BYTES))) {
        hr_stop_deinit(st);
        return HR_ENOMEM;
    }
    return 0;
}

void hr_stop_deinit(struct hr_stop *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->strs[i]);
    free(st->held);
    memset(st, 0, sizeof *st);
}

/* The earliest stop string in s[0..n): its offset, or n when there is none. */
static size_t first_hit(const struct hr_stop *st, const char *s, size_t n)
{
    size_t best = n;
    for (size_t i = 0; i < st->n; i++) {
        const char *p = memmem(s, n, st->strs[i], st->lens[i]);
        if (p && (size_t)(p - s) < best)
            best = (size_t)(p - s);
    }
    return best;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string. */
static size_t partial_tail(const struct hr_stop *st, const char *s, size_t n)
{
    size_t longest = 0;
    for (size_t i = 0; i < st->n; i++) {
        size_t max = st->lens[i] - 1 < n ? st->lens[i] - 1 : n;
        for (size_t k = max; k > longest; k--) {
            if (memcmp(s + n - k, st->strs[i], k) == 0) {
                longest = k;
                break;
            }
        }
    }
    return longest;
}

size_t hr_stop_push(struct hr_stop *st, const char *text, size_t n, char *out, size_t cap)
{
    if (st->hit || n == 0)
        return 0;
    if (st->n == 0) {
        size_t k = n < cap ? n : cap;
        memcpy(out, text, k);
        return k;
    }
    /* Work on held + text, assembled in out (cap >= n + HR_MAX_STOP_BYTES). */
    size_t total = st->n_held + n;
    if (total > cap)
        return 0; /* caller broke the contract; show nothing rather than overrun */
    memcpy(out, st->held, st->n_held);
    memcpy(out + st->n_held, text, n);
    size_t at = first_hit(st, out, total);
    if (at < total) {
        st->hit = true;
        st->n_held = 0;
        return at;
    }
    size_t tail = partial_tail(st, out, total);
    memcpy(st->held, out + total - tail, tail);
    st->n_held = tail;
    return total - tail;
}

size_t hr_stop_flush(struct hr_stop *st, char *out, size_t cap)
{
    if (st->hit || st->n_held == 0 || st->n_held > cap)
        return 0;
    size_t n = st->n_held;
    if (n) /* held is NULL without stop strings; memcpy(NULL, 0) is undefined */
        memcpy(out, st->held, n);
    st->n_held = 0;
    return n;
}
