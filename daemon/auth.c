/* API keys on the loop: the keys the store last handed over (keyring.h), who a request is
 * (Authorization: Bearer, or x-api-key), what it may use (its model list, admin), and its
 * limits (key_limits.h) with OpenAI's 429s and x-ratelimit-* headers. Auth is required as soon as
 * the database holds any key; with none, the server runs open (cmd_serve.c allows that only
 * on loopback unless told otherwise). Never touches the disk. Loop thread. */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon/api_key.h"
#include "daemon/keyring.h"

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct hr_limit_cfg cfg_of(const struct hr_key *k)
{
    struct hr_limit_cfg c = {k->rpm, k->tpm, k->daily_tokens, k->monthly_tokens};
    return c;
}

static struct hr_key_state *find_id(struct hr_auth *a, int64_t id)
{
    for (struct hr_key_state *st = a->states; st; st = st->next)
        if (st->key.id == id)
            return st;
    return NULL;
}

/* Frees the states no snapshot names any more once no request holds them. */
static void sweep(struct hr_auth *a)
{
    for (struct hr_key_state **p = &a->states; *p;) {
        struct hr_key_state *st = *p;
        if (!st->active && !st->n_refs && !st->listed) {
            *p = st->next;
            free(st);
        } else {
            p = &st->next;
        }
    }
}

/* Takes a snapshot: new keys get fresh buckets and the store's day/month totals; known ones
 * keep their counters (the loop's are ahead of the disk by the rows not yet committed). */
static void apply(struct hr_server *s, struct hr_key *keys, size_t n)
{
    struct hr_auth *a = &s->auth;
    double now = hr_now_ms();
    int64_t wall = wall_ms();
    for (struct hr_key_state *st = a->states; st; st = st->next)
        st->active = st->listed = false;
    size_t n_active = 0;
    for (size_t i = 0; i < n; i++) {
        struct hr_key_state *st = find_id(a, keys[i].id);
        if (!st) {
            st = calloc(1, sizeof *st);
            if (!st) {
                hr_log(HR_LOG_ERROR, "auth", "out of memory taking key %lld",
                       (long long)keys[i].id);
                continue;
            }
            st->key = keys[i];
            struct hr_limit_cfg c = cfg_of(&st->key);
            hr_limit_init(&st->lim, &c, now, wall, keys[i].day_tokens, keys[i].month_tokens);
            st->next = a->states;
            a->states = st;
        } else {
            struct hr_limit_cfg old = cfg_of(&st->key), c = cfg_of(&keys[i]);
            hr_limit_reconfigure(&st->lim, &old, &c, now);
            st->key = keys[i];
        }
        st->listed = true;
        st->active = keys[i].revoked_ms == 0;
        n_active += st->active;
    }
    if (n && !a->required)
        hr_log(HR_LOG_INFO, "auth", "API keys exist: every API request needs one");
    a->required = a->required || n > 0;
    a->n_active = n_active;
    sweep(a);
    hr_log(HR_LOG_DEBUG, "auth", "%zu keys, %zu active", n, n_active);
}

void hr_auth_refresh(struct hr_server *s)
{
    struct hr_key *keys = NULL;
    size_t n = 0;
    if (s->p.keyring && hr_keyring_take(s->p.keyring, &keys, &n))
        apply(s, keys, n);
    free(keys);
}

void hr_auth_free(struct hr_server *s)
{
    while (s->auth.states) {
        struct hr_key_state *st = s->auth.states;
        s->auth.states = st->next;
        free(st);
    }
}

bool hr_auth_required(const struct hr_server *s)
{
    return s->auth.required;
}

/* The token the client sent, or NULL; *bad when an Authorization header is not Bearer. */
static const char *presented(struct MHD_Connection *conn, size_t *len, bool *bad)
{
    *bad = false;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *t = NULL;
    if (h) {
        while (*h == ' ')
            h++;
        if (strncasecmp(h, "Bearer ", 7) != 0) {
            *bad = true;
            return NULL;
        }
        t = h + 7;
    } else {
        t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
    }
    if (!t)
        return NULL;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    *len = n;
    return n ? t : NULL;
}

/* "hk_AbCd...wxyz": enough to tell keys apart in a message, never the secret. */
static void mask(const char *t, size_t n, char *out, size_t cap)
{
    if (n < 16) {
        snprintf(out, cap, "***");
        return;
    }
    char head[8], tail[5];
    size_t i;
    for (i = 0; i < 7; i++)
        head[i] = t[i] >= 0x21 && t[i] < 0x7f ? t[i] : '?';
    head[7] = '\0';
    for (i = 0; i < 4; i++)
        tail[i] = t[n - 4 + i] >= 0x21 && t[n - 4 + i] < 0x7f ? t[n - 4 + i] : '?';
    tail[4] = '\0';
    snprintf(out, cap, "%s...%s", head, tail);
}

static enum MHD_Result unauthorized(struct hr_http_req *r, const char *code, const char *fmt,
                                    const char *arg)
{
    struct hr_api_error e;
    hr_api_error_set(&e, 401, "authentication_error", code, NULL, fmt, arg);
    return hr_respond_error_hdr(r, &e, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
}

/* The active key whose hash matches: every key is compared, in constant time, so the time
 * taken says nothing about which bytes matched. */
static struct hr_key_state *lookup(struct hr_auth *a, const char *t, size_t n)
{
    uint8_t h[32];
    hr_api_key_hash(t, n, h);
    struct hr_key_state *found = NULL;
    for (struct hr_key_state *st = a->states; st; st = st->next) {
        bool eq = hr_api_key_equal(h, st->key.hash);
        if (eq && st->active)
            found = st;
    }
    return found;
}

static const char *limit_name(enum hr_limit_kind k)
{
    switch (k) {
    case HR_LIMIT_REQUESTS: return "requests per min (RPM)";
    case HR_LIMIT_TOKENS:
    case HR_LIMIT_TOO_LARGE: return "tokens per min (TPM)";
    case HR_LIMIT_DAILY: return "tokens per day (UTC)";
    case HR_LIMIT_MONTHLY: return "tokens per month (UTC)";
    default: return "";
    }
}

static enum MHD_Result too_many(struct hr_http_req *r, const struct hr_limit_verdict *v)
{
    struct hr_api_error e;
    const char *name = r->key->key.name;
    bool quota = v->kind == HR_LIMIT_DAILY || v->kind == HR_LIMIT_MONTHLY;
    if (v->kind == HR_LIMIT_TOO_LARGE)
        hr_api_error_set(&e, 429, "tokens", "rate_limit_exceeded", NULL,
                         "Request too large for key '%.64s' on %s: Limit %lld, Requested %lld. "
                         "Lower max_tokens or shorten the prompt.", name, limit_name(v->kind),
                         (long long)v->limit, (long long)v->requested);
    else if (quota)
        hr_api_error_set(&e, 429, "insufficient_quota", "insufficient_quota", NULL,
                         "Key '%.64s' exceeded its quota of %s: Limit %lld, Used %lld, "
                         "Requested %lld. It renews in %u s.", name, limit_name(v->kind),
                         (long long)v->limit, (long long)v->used, (long long)v->requested,
                         v->retry_after_s);
    else
        hr_api_error_set(&e, 429, v->kind == HR_LIMIT_REQUESTS ? "requests" : "tokens",
                         "rate_limit_exceeded", NULL,
                         "Rate limit reached for key '%.64s' on %s: Limit %lld, Used %lld, "
                         "Requested %lld. Please try again in %us.", name, limit_name(v->kind),
                         (long long)v->limit, (long long)v->used, (long long)v->requested,
                         v->retry_after_s);
    char secs[16];
    snprintf(secs, sizeof secs, "%u", v->retry_after_s);
    r->no_retry = quota; /* hours away: tell the SDKs not to retry (x-should-retry) */
    return hr_respond_error_hdr(r, &e, MHD_HTTP_HEADER_RETRY_AFTER, secs);
}

bool hr_auth_request(struct hr_http_req *r, bool limited, bool admin, enum MHD_Result *ret)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    if (r->key || !s->auth.required)
        return true;
    size_t n = 0;
    bool bad_scheme;
    const char *t = presented(r->conn, &n, &bad_scheme);
    if (bad_scheme) {
        *ret = unauthorized(r, "invalid_api_key", "%s",
                            "The Authorization header must be 'Bearer YOUR_KEY'.");
        return false;
    }
    if (!t) {
        *ret = unauthorized(r, "missing_api_key", "%s",
                            "You didn't provide an API key. Send it as 'Authorization: Bearer "
                            "YOUR_KEY' (or 'x-api-key: YOUR_KEY').");
        return false;
    }
    struct hr_key_state *st = n <= 512 ? lookup(&s->auth, t, n) : NULL;
    if (!st) {
        char shown[32];
        mask(t, n, shown, sizeof shown);
        *ret = unauthorized(r, "invalid_api_key", "Incorrect API key provided: %s.", shown);
        return false;
    }
    int64_t wall = wall_ms();
    if (st->key.expires_ms && wall >= st->key.expires_ms) {
        *ret = unauthorized(r, "api_key_expired", "The API key '%.64s' has expired.",
                            st->key.name);
        return false;
    }
    r->key = st;
    st->n_refs++;
    if (admin && !st->key.admin) {
        *ret = hr_respond_error(r, hr_api_error_set(&e, 403, "permission_error",
                                                    "admin_key_required", NULL,
                                                    "This needs an admin key; key '%.64s' is "
                                                    "not one.", st->key.name));
        return false;
    }
    if (limited) {
        struct hr_limit_cfg c = cfg_of(&st->key);
        struct hr_limit_verdict v;
        r->limited = true;
        if (!hr_limit_admit(&st->lim, &c, hr_now_ms(), wall, &v)) {
            *ret = too_many(r, &v);
            return false;
        }
    }
    return true;
}

bool hr_auth_model_allowed(const struct hr_http_req *r, const char *model)
{
    if (!r->key || !r->key->key.models[0])
        return true;
    size_t n = strlen(model);
    for (const char *p = r->key->key.models; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, model, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

bool hr_auth_reserve(struct hr_http_req *r, int64_t n, enum MHD_Result *ret)
{
    if (!r->key || !r->limited)
        return true;
    struct hr_limit_cfg c = cfg_of(&r->key->key);
    struct hr_limit_verdict v;
    if (!hr_limit_reserve(&r->key->lim, &c, n, hr_now_ms(), wall_ms(), &r->hold, &v)) {
        *ret = too_many(r, &v);
        return false;
    }
    return true;
}

void hr_auth_settle(struct hr_http_req *r)
{
    if (!r->key || !r->limited || r->settled)
        return;
    r->settled = true;
    struct hr_limit_cfg c = cfg_of(&r->key->key);
    hr_limit_settle(&r->key->lim, &c, &r->hold, (int64_t)r->n_prompt + r->n_completion,
                    hr_now_ms(), wall_ms());
}

void hr_auth_release(struct hr_http_req *r)
{
    if (!r->key)
        return;
    hr_auth_settle(r);
    r->key->n_refs--;
    r->key = NULL;
    sweep(&r->srv->auth);
}

/* One bucket's trio: x-ratelimit-limit-WHAT, -remaining-WHAT, -reset-WHAT. */
static void bucket_headers(struct MHD_Response *resp, struct hr_key_state *st,
                           const struct hr_limit_cfg *c, bool tokens, double now)
{
    const char *what = tokens ? "tokens" : "requests";
    char name[48], v[32];
    snprintf(name, sizeof name, "x-ratelimit-limit-%s", what);
    snprintf(v, sizeof v, "%lld", (long long)(tokens ? c->tpm : c->rpm));
    MHD_add_response_header(resp, name, v);
    snprintf(name, sizeof name, "x-ratelimit-remaining-%s", what);
    snprintf(v, sizeof v, "%lld",
             (long long)(tokens ? hr_limit_remaining_tokens(&st->lim, c, now)
                                : hr_limit_remaining_requests(&st->lim, c, now)));
    MHD_add_response_header(resp, name, v);
    snprintf(name, sizeof name, "x-ratelimit-reset-%s", what);
    hr_limit_reset_text(&st->lim, c, tokens, now, v, sizeof v);
    MHD_add_response_header(resp, name, v);
}

void hr_auth_add_headers(struct hr_http_req *r, struct MHD_Response *resp)
{
    if (r->no_retry)
        MHD_add_response_header(resp, "x-should-retry", "false");
    if (!r->key || !r->limited)
        return;
    struct hr_limit_cfg c = cfg_of(&r->key->key);
    double now = hr_now_ms();
    if (c.rpm)
        bucket_headers(resp, r->key, &c, false, now);
    if (c.tpm)
        bucket_headers(resp, r->key, &c, true, now);
}
