/* Per-key rate limits and quotas, as plain arithmetic on caller-given clocks (so tests can
 * step time): requests and tokens per minute are token buckets that refill continuously and
 * start full; daily and monthly token quotas count per UTC day and month. Token requests
 * reserve their worst case (prompt + max_tokens) at admission and settle to the real count at
 * completion, so a bucket may go into debt when a reservation was short. 0 means unlimited.
 * No locks: the loop thread owns every struct hr_limit. */
#ifndef HR_KEY_LIMITS_H
#define HR_KEY_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hr_limit_cfg {
    int64_t rpm, tpm, daily, monthly;
};

struct hr_bucket {
    double level; /* available now (tokens may be negative: debt) */
    double t_ms;  /* monotonic time of level */
};

struct hr_limit {
    struct hr_bucket req, tok;
    int64_t day, month;           /* the UTC day and month (hr_limit_day/month) of the totals */
    int64_t day_used, month_used; /* tokens used or reserved in them */
};

enum hr_limit_kind {
    HR_LIMIT_OK,
    HR_LIMIT_REQUESTS,  /* requests per minute */
    HR_LIMIT_TOKENS,    /* tokens per minute */
    HR_LIMIT_TOO_LARGE, /* one request needs more than the tokens-per-minute limit */
    HR_LIMIT_DAILY,
    HR_LIMIT_MONTHLY,
};

struct hr_limit_verdict {
    enum hr_limit_kind kind;
    int64_t limit, used, requested; /* for the message */
    uint32_t retry_after_s;         /* at least 1 when refused */
};

/* A reservation, handed back to hr_limit_settle. */
struct hr_limit_hold {
    int64_t tokens;
    int64_t day, month;
};

/* UTC day number (days since 1970-01-01) and month number (year * 12 + month - 1). */
int64_t hr_limit_day(int64_t wall_ms);
int64_t hr_limit_month(int64_t wall_ms);

/* Full buckets; day/month totals as the store last counted them for wall_ms's periods. */
void hr_limit_init(struct hr_limit *l, const struct hr_limit_cfg *c, double now_ms,
                   int64_t wall_ms, int64_t day_used, int64_t month_used);
/* The key's limits changed (keys update): a bucket newly limited starts full, a lowered one
 * keeps at most its new size. */
void hr_limit_reconfigure(struct hr_limit *l, const struct hr_limit_cfg *old,
                          const struct hr_limit_cfg *c, double now_ms);
/* A request arrives: takes one from the request bucket, unless a limit refuses it (nothing
 * is taken then). The token bucket refuses only when in debt. */
bool hr_limit_admit(struct hr_limit *l, const struct hr_limit_cfg *c, double now_ms,
                    int64_t wall_ms, struct hr_limit_verdict *v);
/* Reserves n tokens against the token bucket and the quotas into *hold, or refuses (nothing
 * taken, *hold untouched). */
bool hr_limit_reserve(struct hr_limit *l, const struct hr_limit_cfg *c, int64_t n, double now_ms,
                      int64_t wall_ms, struct hr_limit_hold *hold, struct hr_limit_verdict *v);
/* The request used `used` tokens: gives back what the hold over-reserved (or takes the rest).
 * A hold from an earlier day or month only adds its real count to the current one. */
void hr_limit_settle(struct hr_limit *l, const struct hr_limit_cfg *c,
                     const struct hr_limit_hold *hold, int64_t used, double now_ms,
                     int64_t wall_ms);

/* Values for OpenAI's x-ratelimit-* headers: what is left now and the time until the bucket
 * is full again, as "6m0s", "1s" or "20ms". */
int64_t hr_limit_remaining_requests(struct hr_limit *l, const struct hr_limit_cfg *c,
                                    double now_ms);
int64_t hr_limit_remaining_tokens(struct hr_limit *l, const struct hr_limit_cfg *c,
                                  double now_ms);
void hr_limit_reset_text(struct hr_limit *l, const struct hr_limit_cfg *c, bool tokens,
                         double now_ms, char *out, size_t cap);

#endif
