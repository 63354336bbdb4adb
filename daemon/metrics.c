/* The /metrics registry: request counters by endpoint and status, token counters, latency
 * histograms (duration, first token, queue wait, inter-token), generated tokens and their rate
 * (sampled once a second), and each loaded engine's gauges (queue, sequences, KV blocks) read
 * from its stats snapshot, rendered in Prometheus' text exposition format (0.0.4). Requests
 * are counted where they finish (routes.c's hr_record_usage), so each counts once. Loop
 * thread only, so nothing here needs a lock.
 *
 * Output, one family after another:
 *   # HELP name text
 *   # TYPE name counter|gauge|histogram
 *   name{label="value",...} number
 * Histograms: name_bucket{le="bound"} cumulative counts ending with le="+Inf", then name_sum
 * and name_count. Label values escape backslash, double quote and newline. */
#include "server_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds. Requests run from milliseconds (/health) to minutes (long answers). */
static const double duration_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                     2.5,   5,    10,    30,   60,  120,  300};
static const double first_token_le[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                        2.5,  5,     10,   20,  30,   60};
/* Seconds between tokens of one stream: from well under a millisecond (a small model, batched)
 * to seconds (a large one under load, or a preemption's recompute). */
static const double inter_token_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10};
static const double queue_le[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                  0.5,   1,     2.5,  5,     10,   30,  60};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void hist_init(struct hr_metrics_hist *h, const double *le, size_t n_le)
{
    memset(h, 0, sizeof *h);
    h->le = le;
    h->n_le = n_le < HR_METRICS_MAX_BUCKETS ? n_le : HR_METRICS_MAX_BUCKETS;
}

static void hist_observe(struct hr_metrics_hist *h, double v_s)
{
    size_t i = 0;
    while (i < h->n_le && v_s > h->le[i])
        i++;
    h->n[i]++; /* i == n_le: only +Inf holds it */
    h->count++;
    h->sum_s += v_s;
}

void hr_metrics_init(struct hr_metrics *m)
{
    memset(m, 0, sizeof *m);
    hist_init(&m->duration, duration_le, N_OF(duration_le));
    hist_init(&m->first_token, first_token_le, N_OF(first_token_le));
    hist_init(&m->queue_wait, queue_le, N_OF(queue_le));
    hist_init(&m->inter_token, inter_token_le, N_OF(inter_token_le));
}

void hr_metrics_inter_token(struct hr_metrics *m, double s)
{
    hist_observe(&m->inter_token, s);
}

/* Adds what each loaded engine generated since the last look; an engine that is new (loaded
 * again) counts from zero. */
static void collect_generated(struct hr_server *s)
{
    for (size_t i = 0; i < s->n_models; i++) {
        struct hr_served *m = &s->models[i];
        if (!m->engine)
            continue;
        struct hr_engine_stats st;
        hr_engine_get_stats(m->engine, &st);
        /* a new engine may reuse a freed one's address: a count that went back is new too */
        if (m->counted_engine != m->engine || st.n_tokens_generated < m->counted_generated) {
            m->counted_engine = m->engine;
            m->counted_generated = 0;
        }
        s->metrics.generated += st.n_tokens_generated - m->counted_generated;
        m->counted_generated = st.n_tokens_generated;
    }
}

static void on_rate(uv_timer_t *t)
{
    struct hr_server *s = t->data;
    struct hr_metrics *m = &s->metrics;
    collect_generated(s);
    m->rate[m->rate_next].t_ms = hr_now_ms();
    m->rate[m->rate_next].generated = m->generated;
    m->rate_next = (m->rate_next + 1) % HR_METRICS_RATE_SAMPLES;
    if (m->n_rate < HR_METRICS_RATE_SAMPLES)
        m->n_rate++;
}

void hr_metrics_rate_start(struct hr_server *s)
{
    uv_timer_init(s->loop, &s->rate_timer);
    s->rate_timer.data = s;
    uv_timer_start(&s->rate_timer, on_rate, 0, 1000);
}

void hr_metrics_rate_close(struct hr_server *s)
{
    uv_timer_stop(&s->rate_timer);
    uv_close((uv_handle_t *)&s->rate_timer, NULL);
}

/* Generated tokens per second over the samples kept (0 until two exist). */
static double tokens_per_s(const struct hr_metrics *m)
{
    if (m->n_rate < 2)
        return 0;
    size_t newest = (m->rate_next + HR_METRICS_RATE_SAMPLES - 1) % HR_METRICS_RATE_SAMPLES;
    size_t oldest = m->n_rate < HR_METRICS_RATE_SAMPLES ? 0 : m->rate_next;
    double dt = (m->rate[newest].t_ms - m->rate[oldest].t_ms) / 1e3;
    return dt > 0 ? (double)(m->rate[newest].generated - m->rate[oldest].generated) / dt : 0;
}

void hr_metrics_count(struct hr_metrics *m, const char *endpoint, int status)
{
    for (size_t i = 0; i < m->n_req; i++) {
        if (m->req[i].status == status && strcmp(m->req[i].endpoint, endpoint) == 0) {
            m->req[i].n++;
            return;
        }
    }
    if (m->n_req == HR_METRICS_MAX_SERIES) {
        m->n_dropped++;
        return;
    }
    m->req[m->n_req].endpoint = endpoint;
    m->req[m->n_req].status = status;
    m->req[m->n_req].n = 1;
    m->n_req++;
}

void hr_metrics_request_done(struct hr_metrics *m, const struct hr_http_req *r)
{
    hr_metrics_count(m, r->route ? r->route : "other", r->status ? r->status : 499);
    m->in_flight--;
    hist_observe(&m->duration, (hr_now_ms() - r->t_start_ms) / 1e3);
    if (!r->engine_done)
        return;
    m->prompt_tokens += r->n_prompt;
    m->completion_tokens += r->n_completion;
    m->cached_tokens += r->n_cached;
    /* a request canceled or failed before it was scheduled has no waits to report */
    if (r->n_prompt)
        hist_observe(&m->queue_wait, r->queue_ms / 1e3);
    if (r->n_completion)
        hist_observe(&m->first_token, r->first_token_ms / 1e3);
}

/* Text output into a capped buffer; an append failure is remembered and ends the render. */
struct out {
    struct hr_buf b;
    int rc;
};

static void put(struct out *o, const char *fmt, ...)
{
    char line[1024]; /* label values are at most 600 bytes */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (o->rc == 0 && n > 0)
        o->rc = hr_buf_append(&o->b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* A label value with backslash, quote and newline escaped, truncated to fit. */
static void label_value(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist_put(struct out *o, const char *name, const char *help,
                     const struct hr_metrics_hist *h)
{
    family(o, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->n_le; i++) {
        cum += h->n[i];
        put(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, h->le[i], cum);
    }
    put(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
    put(o, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, h->sum_s, name, h->count);
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
    family(o, name, "counter", help);
    put(o, "%s %" PRIu64 "\n", name, v);
}

/* The engine figures, one family per field, a row per loaded model. */
enum engine_field { F_QUEUED, F_RUNNING, F_SLOTS, F_KV_USED, F_KV_FREE, F_KV_CACHED, F_STEPS,
                    F_EVALUATED };

static uint64_t field_of(const struct hr_engine_stats *st, enum engine_field f)
{
    switch (f) {
    case F_QUEUED: return st->n_queued;
    case F_RUNNING: return st->n_running;
    case F_SLOTS: return st->n_slots;
    case F_KV_USED: return st->kv_blocks_used;
    case F_KV_FREE: return st->kv_blocks_total - st->kv_blocks_used;
    case F_KV_CACHED: return st->kv_blocks_cached;
    case F_STEPS: return st->n_steps;
    default: return st->n_tokens_evaluated;
    }
}

static void per_model(struct out *o, const struct hr_server *s, const struct hr_engine_stats *st,
                      const char *name, const char *type, const char *help, enum engine_field f)
{
    char v[600];
    family(o, name, type, help);
    for (size_t i = 0; i < s->n_models; i++) {
        if (!s->models[i].engine)
            continue;
        label_value(s->models[i].id, v, sizeof v);
        put(o, "%s{model=\"%s\"} %" PRIu64 "\n", name, v, field_of(&st[i], f));
    }
}

static void engine_families(struct out *o, struct hr_server *s)
{
    struct hr_engine_stats *st = calloc(s->n_models ? s->n_models : 1, sizeof *st);
    if (!st) {
        o->rc = HR_ENOMEM;
        return;
    }
    for (size_t i = 0; i < s->n_models; i++)
        if (s->models[i].engine)
            hr_engine_get_stats(s->models[i].engine, &st[i]);
    per_model(o, s, st, "hearth_queue_depth", "gauge",
              "requests submitted to a loaded model and waiting for a sequence slot", F_QUEUED);
    per_model(o, s, st, "hearth_running_sequences", "gauge",
              "sequences being generated (holding a slot)", F_RUNNING);
    per_model(o, s, st, "hearth_sequence_slots", "gauge", "sequences a model runs at once",
              F_SLOTS);
    per_model(o, s, st, "hearth_kv_blocks_used", "gauge",
              "KV cache blocks (16 positions each) held by running sequences", F_KV_USED);
    per_model(o, s, st, "hearth_kv_blocks_free", "gauge",
              "KV cache blocks free for new tokens (cached prefixes included)", F_KV_FREE);
    per_model(o, s, st, "hearth_kv_blocks_cached", "gauge",
              "free KV cache blocks that still hold a reusable prompt prefix", F_KV_CACHED);
    per_model(o, s, st, "hearth_engine_steps_total", "counter",
              "batched forward passes since the model was loaded", F_STEPS);
    per_model(o, s, st, "hearth_tokens_evaluated_total", "counter",
              "prompt and generated tokens computed since the model was loaded", F_EVALUATED);
    free(st);
}

enum MHD_Result hr_metrics_route(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    struct hr_metrics *m = &s->metrics;
    struct out o = {{NULL, 0, 0, 4u << 20}, 0};
    char v[600]; /* a 256-byte model id, every byte escaped */

    family(&o, "hearth_requests_total", "counter",
           "HTTP requests finished, by route and status (499: the client left first)");
    for (size_t i = 0; i < m->n_req; i++) {
        label_value(m->req[i].endpoint, v, sizeof v);
        put(&o, "hearth_requests_total{endpoint=\"%s\",status=\"%d\"} %" PRIu64 "\n", v,
            m->req[i].status, m->req[i].n);
    }
    counter(&o, "hearth_requests_unlabeled_total",
            "requests not in hearth_requests_total (more endpoint/status pairs than kept)",
            m->n_dropped);
    counter(&o, "hearth_prompt_tokens_total", "prompt tokens of finished chat requests",
            m->prompt_tokens);
    counter(&o, "hearth_completion_tokens_total", "tokens generated for finished requests",
            m->completion_tokens);
    counter(&o, "hearth_prompt_tokens_cached_total",
            "prompt tokens taken from the prefix cache instead of computed", m->cached_tokens);
    hist_put(&o, "hearth_request_duration_seconds",
             "time from a request's headers to its end", &m->duration);
    hist_put(&o, "hearth_time_to_first_token_seconds",
             "chat requests: submission to the engine until the first generated token",
             &m->first_token);
    hist_put(&o, "hearth_queue_wait_seconds",
             "chat requests: submission until the engine's first step on it", &m->queue_wait);
    hist_put(&o, "hearth_inter_token_latency_seconds",
             "time between consecutive text events of one choice (one token, or a few held "
             "back together for UTF-8 or stop strings)", &m->inter_token);
    collect_generated(s);
    counter(&o, "hearth_generated_tokens_total", "tokens generated by every model",
            m->generated);
    family(&o, "hearth_tokens_per_second", "gauge",
           "tokens generated per second by every model over the last 10 s");
    put(&o, "hearth_tokens_per_second %.3f\n", tokens_per_s(m));
    family(&o, "hearth_prefix_cache_hit_ratio", "gauge",
           "share of finished requests' prompt tokens taken from the prefix cache");
    put(&o, "hearth_prefix_cache_hit_ratio %.6f\n",
        m->prompt_tokens ? (double)m->cached_tokens / (double)m->prompt_tokens : 0.0);
    engine_families(&o, s);

    family(&o, "hearth_requests_in_flight", "gauge", "requests begun and not yet finished");
    put(&o, "hearth_requests_in_flight %" PRId64 "\n", m->in_flight);
    const union MHD_DaemonInfo *ci =
        s->mhd ? MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
    family(&o, "hearth_http_connections", "gauge", "open HTTP connections");
    put(&o, "hearth_http_connections %u\n", ci ? ci->num_connections : 0u);
    family(&o, "hearth_model_loaded", "gauge", "1 when the model is loaded and served, else 0");
    for (size_t i = 0; i < s->n_models; i++) {
        label_value(s->models[i].id, v, sizeof v);
        put(&o, "hearth_model_loaded{model=\"%s\"} %d\n", v, s->models[i].engine != NULL);
    }
    family(&o, "hearth_build_info", "gauge", "always 1; the label names the running version");
    put(&o, "hearth_build_info{version=\"%s\"} 1\n", HEARTH_VERSION);

    if (o.rc != 0) {
        hr_buf_free(&o.b);
        struct hr_api_error e;
        return hr_respond_error(r, hr_api_error_set(&e, 500, "server_error", NULL, NULL,
                                                    "out of memory"));
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(o.b.len, o.b.ptr, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        hr_buf_free(&o.b);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    return hr_queue(r, 200, resp);
}
