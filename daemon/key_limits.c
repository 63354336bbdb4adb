/* Token buckets and UTC-period quotas (see key_limits.h). A per-minute limit L refills at L per
 * 60 s up to L, so a client that waits a minute gets a full burst again, as OpenAI's do. */
#include "key_limits.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

#define MS_PER_DAY 86400000LL

int64_t hr_limit_day(int64_t wall_ms)
{
    return wall_ms >= 0 ? wall_ms / MS_PER_DAY : -((-wall_ms + MS_PER_DAY - 1) / MS_PER_DAY);
}

int64_t hr_limit_month(int64_t wall_ms)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* Seconds from wall_ms to the start of the next UTC month. */
static int64_t to_next_month_s(int64_t wall_ms)
{
    int64_t m = hr_limit_month(wall_ms) + 1;
    struct tm tm = {0};
    tm.tm_year = (int)(m / 12) - 1900;
    tm.tm_mon = (int)(m % 12);
    tm.tm_mday = 1;
    return (int64_t)timegm(&tm) - wall_ms / 1000;
}

static void refill(struct hr_bucket *b, int64_t per_min, double now_ms)
{
    if (now_ms > b->t_ms) {
        b->level += (now_ms - b->t_ms) * (double)per_min / 60000.0;
        if (b->level > (double)per_min)
            b->level = (double)per_min;
    }
    b->t_ms = now_ms;
}

/* Whole seconds until the bucket holds `want`, at least 1. */
static uint32_t wait_s(const struct hr_bucket *b, int64_t per_min, double want)
{
    double s = (want - b->level) * 60.0 / (double)per_min;
    return s < 1 ? 1 : s > 86400 ? 86400 : (uint32_t)ceil(s - 1e-9); /* 1.0000001 is 1 s */
}

/* Starts a new day or month's totals when the clock has moved into one. */
static void roll(struct hr_limit *l, int64_t wall_ms)
{
    int64_t day = hr_limit_day(wall_ms), month = hr_limit_month(wall_ms);
    if (day != l->day) {
        l->day = day;
        l->day_used = 0;
    }
    if (month != l->month) {
        l->month = month;
        l->month_used = 0;
    }
}

void hr_limit_init(struct hr_limit *l, const struct hr_limit_cfg *c, double now_ms,
                   int64_t wall_ms, int64_t day_used, int64_t month_used)
{
    l->req.level = (double)c->rpm;
    l->tok.level = (double)c->tpm;
    l->req.t_ms = l->tok.t_ms = now_ms;
    l->day = hr_limit_day(wall_ms);
    l->month = hr_limit_month(wall_ms);
    l->day_used = day_used;
    l->month_used = month_used;
}

static void resize(struct hr_bucket *b, int64_t old, int64_t now_cap, double now_ms)
{
    if (!old) {
        b->level = (double)now_cap;
        b->t_ms = now_ms;
    } else if (b->level > (double)now_cap) {
        b->level = (double)now_cap;
    }
}

void hr_limit_reconfigure(struct hr_limit *l, const struct hr_limit_cfg *old,
                          const struct hr_limit_cfg *c, double now_ms)
{
    resize(&l->req, old->rpm, c->rpm, now_ms);
    resize(&l->tok, old->tpm, c->tpm, now_ms);
}

static void refuse(struct hr_limit_verdict *v, enum hr_limit_kind kind, int64_t limit,
                   int64_t used, int64_t requested, int64_t retry_s)
{
    v->kind = kind;
    v->limit = limit;
    v->used = used;
    v->requested = requested;
    v->retry_after_s = retry_s < 1 ? 1 : retry_s > 31 * 86400 ? 31 * 86400 : (uint32_t)retry_s;
}

/* The quotas refuse n more tokens (n 0: refuse only when already used up). */
static bool quota_refuses(struct hr_limit *l, const struct hr_limit_cfg *c, int64_t n,
                          int64_t wall_ms, struct hr_limit_verdict *v)
{
    if (c->daily && (l->day_used + n > c->daily || l->day_used >= c->daily)) {
        refuse(v, HR_LIMIT_DAILY, c->daily, l->day_used, n,
               (l->day + 1) * (MS_PER_DAY / 1000) - wall_ms / 1000);
        return true;
    }
    if (c->monthly && (l->month_used + n > c->monthly || l->month_used >= c->monthly)) {
        refuse(v, HR_LIMIT_MONTHLY, c->monthly, l->month_used, n, to_next_month_s(wall_ms));
        return true;
    }
    return false;
}

bool hr_limit_admit(struct hr_limit *l, const struct hr_limit_cfg *c, double now_ms,
                    int64_t wall_ms, struct hr_limit_verdict *v)
{
    v->kind = HR_LIMIT_OK;
    roll(l, wall_ms);
    if (c->rpm) {
        refill(&l->req, c->rpm, now_ms);
        if (l->req.level < 1) {
            refuse(v, HR_LIMIT_REQUESTS, c->rpm, c->rpm - (int64_t)floor(l->req.level), 1,
                   wait_s(&l->req, c->rpm, 1));
            return false;
        }
    }
    if (c->tpm) {
        refill(&l->tok, c->tpm, now_ms);
        if (l->tok.level <= 0) {
            refuse(v, HR_LIMIT_TOKENS, c->tpm, c->tpm - (int64_t)floor(l->tok.level), 0,
                   wait_s(&l->tok, c->tpm, 1));
            return false;
        }
    }
    if (quota_refuses(l, c, 0, wall_ms, v))
        return false;
    if (c->rpm)
        l->req.level -= 1;
    return true;
}

bool hr_limit_reserve(struct hr_limit *l, const struct hr_limit_cfg *c, int64_t n, double now_ms,
                      int64_t wall_ms, struct hr_limit_hold *hold, struct hr_limit_verdict *v)
{
    v->kind = HR_LIMIT_OK;
    roll(l, wall_ms);
    if (c->tpm) {
        refill(&l->tok, c->tpm, now_ms);
        if (n > c->tpm) {
            refuse(v, HR_LIMIT_TOO_LARGE, c->tpm, 0, n, 60);
            return false;
        }
        if (l->tok.level < (double)n) {
            refuse(v, HR_LIMIT_TOKENS, c->tpm, c->tpm - (int64_t)floor(l->tok.level), n,
                   wait_s(&l->tok, c->tpm, (double)n));
            return false;
        }
    }
    if (quota_refuses(l, c, n, wall_ms, v))
        return false;
    l->tok.level -= (double)n;
    l->day_used += n;
    l->month_used += n;
    hold->tokens = n;
    hold->day = l->day;
    hold->month = l->month;
    return true;
}

void hr_limit_settle(struct hr_limit *l, const struct hr_limit_cfg *c,
                     const struct hr_limit_hold *hold, int64_t used, double now_ms,
                     int64_t wall_ms)
{
    roll(l, wall_ms);
    if (c->tpm)
        refill(&l->tok, c->tpm, now_ms);
    l->tok.level += (double)(hold->tokens - used);
    if (c->tpm && l->tok.level > (double)c->tpm)
        l->tok.level = (double)c->tpm;
    /* The ledger counts a request on the day it ends; a hold made yesterday was forgotten
     * when today began, so only the real count lands here. */
    l->day_used += used - (hold->day == l->day ? hold->tokens : 0);
    l->month_used += used - (hold->month == l->month ? hold->tokens : 0);
}

int64_t hr_limit_remaining_requests(struct hr_limit *l, const struct hr_limit_cfg *c,
                                    double now_ms)
{
    refill(&l->req, c->rpm, now_ms);
    return l->req.level > 0 ? (int64_t)floor(l->req.level) : 0;
}

int64_t hr_limit_remaining_tokens(struct hr_limit *l, const struct hr_limit_cfg *c,
                                  double now_ms)
{
    refill(&l->tok, c->tpm, now_ms);
    return l->tok.level > 0 ? (int64_t)floor(l->tok.level) : 0;
}

void hr_limit_reset_text(struct hr_limit *l, const struct hr_limit_cfg *c, bool tokens,
                         double now_ms, char *out, size_t cap)
{
    struct hr_bucket *b = tokens ? &l->tok : &l->req;
    int64_t per_min = tokens ? c->tpm : c->rpm;
    refill(b, per_min, now_ms);
    double ms = per_min ? ((double)per_min - b->level) * 60000.0 / (double)per_min : 0;
    if (ms < 1000) {
        snprintf(out, cap, "%dms", (int)ceil(ms));
        return;
    }
    long long s = (long long)ceil(ms / 1000.0);
    if (s < 60)
        snprintf(out, cap, "%llds", s);
    else if (s < 3600)
        snprintf(out, cap, "%lldm%llds", s / 60, s % 60);
    else
        snprintf(out, cap, "%lldh%lldm%llds", s / 3600, s % 3600 / 60, s % 60);
}
