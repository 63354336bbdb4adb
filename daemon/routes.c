/* Request dispatch: the MHD access handler collects the body (refusing more than --max-body
 * with 413, a body declared as other than JSON with 415, a read past --read-timeout with 408;
 * CORS and the deadlines live in http_policy.c and conn_deadline.c), routes by method and
 * path, answers the simple routes (/health, /v1/models; /metrics in metrics.c),
 * hands chat completions to chat_route.c, and on completion records the usage row and frees
 * the request when nothing else holds it. Every error uses OpenAI's envelope. Loop thread. */
#include "server_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "daemon/store/store.h"

void hr_random_id(const char *prefix, uint64_t salt, char *out, size_t cap)
{
    uint8_t rnd[12] = {0};
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        uint64_t x = salt * 0x9E3779B97F4A7C15ull ^ (uint64_t)hr_now_ms();
        memcpy(rnd, &x, sizeof x);
    }
    size_t o = (size_t)snprintf(out, cap, "%s", prefix);
    for (size_t i = 0; i < sizeof rnd && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", rnd[i]);
}

static void make_request_id(struct hr_http_req *r)
{
    const char *given = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "x-request-id");
    if (given && *given) {
        /* Echo the client's id, keeping only characters safe in logs and headers. */
        size_t o = 0;
        for (size_t i = 0; given[i] && o < sizeof r->request_id - 1; i++) {
            char c = given[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == ':')
                r->request_id[o++] = c;
        }
        r->request_id[o] = '\0';
        if (o)
            return;
    }
    hr_random_id("req_", r->id, r->request_id, sizeof r->request_id);
}

static struct hr_http_req *req_new(struct hr_server *s, struct MHD_Connection *conn,
                                   const char *url, const char *method)
{
    struct hr_http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->id = s->next_id++;
    r->t_start_ms = hr_now_ms();
    r->body.max = s->p.max_body;
    r->out.max = SIZE_MAX / 2;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    make_request_id(r);
    return r;
}

enum MHD_Result hr_respond_shutting_down(struct hr_http_req *r)
{
    struct hr_api_error e;
    hr_api_error_set(&e, 503, "server_error", "server_shutting_down", NULL,
                     "The server is shutting down; retry on another replica.");
    return hr_respond_error_hdr(r, &e, MHD_HTTP_HEADER_CONNECTION, "close");
}

bool hr_server_queue_work(struct hr_http_req *r, uv_work_t *w, uv_work_cb fn,
                          uv_after_work_cb after)
{
    r->in_work = true;
    r->work_done = false;
    if (uv_queue_work(r->srv->loop, w, fn, after) != 0) {
        r->in_work = false;
        return false;
    }
    r->pool_queued = true;
    r->srv->n_req_work++;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    return true;
}

enum MHD_Result hr_respond_no_pool(struct hr_http_req *r)
{
    struct hr_api_error e;
    return hr_respond_error(r, hr_api_error_set(&e, 500, "server_error", NULL, NULL,
                                                "cannot queue the work"));
}

void hr_work_finished(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    r->work_done = true;
    bool counted = r->pool_queued; /* embedding jobs keep their own count (embed_route.c) */
    if (counted) {
        r->pool_queued = false;
        s->n_req_work--;
    }
    if (r->http_done) { /* the server stopped or the client left meanwhile */
        hr_req_free(r);
    } else {
        if (r->suspended) {
            r->suspended = false;
            MHD_resume_connection(r->conn);
        }
        hr_server_kick(s);
    }
    if (counted && s->stop_pending && !s->stopping && s->n_req_work == 0)
        hr_server_stop(s); /* it waited for this work */
}

void hr_req_set_user(struct hr_http_req *r, const char *user)
{
    free(r->user);
    r->user = user ? strdup(user) : NULL;
}

void hr_req_free(struct hr_http_req *r)
{
    hr_chat_stop_hangup(r);
    hr_model_release(r);
    hr_auth_release(r);
    hr_usage_job_free(r);
    free(r->user);
    free(r->log_prompt);
    hr_text_job_free(r);
    hr_chat_prep_free(r);
    hr_embed_free(r);
    hr_buf_free(&r->body);
    hr_buf_free(&r->out);
    hr_chat_free_choices(r);
    hr_gen_free(r);
    json_decref(r->tools);
    free(r);
}

enum MHD_Result hr_queue(struct hr_http_req *r, int status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "x-request-id", r->request_id);
    hr_cors_add_headers(r, resp);
    hr_auth_add_headers(r, resp);
    hr_conn_busy(r);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->responded = true;
    return ret;
}

enum MHD_Result hr_respond_json_hdr(struct hr_http_req *r, int status, char *json,
                                    const char *hdr, const char *value)
{
    if (!json)
        return MHD_NO; /* out of memory: MHD closes the connection */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(json);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (hdr)
        MHD_add_response_header(resp, hdr, value);
    return hr_queue(r, status, resp);
}

enum MHD_Result hr_respond_json(struct hr_http_req *r, int status, char *json)
{
    return hr_respond_json_hdr(r, status, json, NULL, NULL);
}

enum MHD_Result hr_respond_error_hdr(struct hr_http_req *r, const struct hr_api_error *e,
                                     const char *hdr, const char *value)
{
    hr_log(e->status >= 500 ? HR_LOG_WARN : HR_LOG_DEBUG, "http", "%s %s %s -> %d: %s",
           r->request_id, r->method, r->path, e->status, e->message);
    return hr_respond_json_hdr(r, e->status, hr_api_error_json(e), hdr, value);
}

enum MHD_Result hr_respond_error(struct hr_http_req *r, const struct hr_api_error *e)
{
    return hr_respond_error_hdr(r, e, NULL, NULL);
}

static void model_info(const struct hr_served *sm, struct hr_api_model_info *m)
{
    memset(m, 0, sizeof *m);
    m->id = sm->id;
    m->created = sm->created;
    m->owned_by = sm->is_demo ? "hearth-demo" : "hearth";
    /* the engine's, else what it will be: the setting, or the trained one up to 4096 */
    uint32_t n_ctx = sm->n_ctx ? sm->n_ctx : sm->srv->p.engine.n_ctx;
    if (!n_ctx)
        n_ctx = sm->n_ctx_train < 4096 ? sm->n_ctx_train : 4096;
    m->context_length = sm->engine ? hr_engine_n_ctx(sm->engine) : n_ctx;
    m->quantization = sm->quant;
    m->sha256 = sm->sha256[0] ? sm->sha256 : NULL;
    m->status = hr_served_status(sm);
    m->parallel = sm->n_parallel ? sm->n_parallel : sm->srv->p.engine.n_parallel;
    if (sm->is_demo)
        m->description = "Random-weight demo model generated by hearth make-model for checking "
                         "the plumbing; its output is noise. Serve a real GGUF with --model.";
}

static enum MHD_Result health_route(struct hr_http_req *r)
{
    return hr_respond_json(r, 200, strdup("{\"status\":\"ok\"}"));
}

static enum MHD_Result models_route(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    struct hr_api_model_info *m = calloc(s->n_models ? s->n_models : 1, sizeof *m);
    if (!m)
        return MHD_NO;
    size_t n = 0;
    for (size_t i = 0; i < s->n_models; i++) /* a key sees only the models it may use */
        if (hr_auth_model_allowed(r, s->models[i].id))
            model_info(&s->models[i], &m[n++]);
    char *json = hr_api_models_json(m, n);
    free(m);
    return hr_respond_json(r, 200, json);
}

static enum MHD_Result model_route(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    const char *want = r->path + strlen("/v1/models/");
    for (size_t i = 0; i < s->n_models; i++) {
        if (strcmp(want, s->models[i].id) == 0 && hr_auth_model_allowed(r, want)) {
            struct hr_api_model_info m;
            model_info(&s->models[i], &m);
            return hr_respond_json(r, 200, hr_api_model_json(&m));
        }
    }
    return hr_respond_error(r, hr_api_error_set(&e, 404, "invalid_request_error",
                                                "model_not_found", "model",
                                                "The model '%.128s' does not exist or you do "
                                                "not have access to it.", want));
}

static enum MHD_Result tokenize_route(struct hr_http_req *r)
{
    return hr_text_start(r, 0);
}

static enum MHD_Result detokenize_route(struct hr_http_req *r)
{
    return hr_text_start(r, 1);
}

static enum MHD_Result template_route(struct hr_http_req *r)
{
    return hr_text_start(r, 2);
}

/* How a route is guarded when keys exist: open (probes), any key, any key and counted
 * against its limits, or admin keys only. */
enum guard { OPEN, KEY, LIMITED, ADMIN };

/* Known paths, the methods each allows, its guard, the name its usage rows carry (NULL: none)
 * and its handler. A handler may run more than once for one request (see hr_model_acquire). */
static const struct {
    const char *path;
    bool prefix;
    const char *allow;
    enum guard guard;
    const char *endpoint;
    enum MHD_Result (*handler)(struct hr_http_req *r);
} routes[] = {
    {"/", false, "GET, HEAD", OPEN, NULL, hr_web_route},
    {"/chat.js", false, "GET, HEAD", OPEN, NULL, hr_web_route},
    {"/chat.css", false, "GET, HEAD", OPEN, NULL, hr_web_route},
    {"/health", false, "GET, HEAD", OPEN, NULL, health_route},
    {"/ready", false, "GET, HEAD", OPEN, NULL, hr_models_ready_route},
    {"/metrics", false, "GET, HEAD", OPEN, NULL, hr_metrics_route},
    {"/v1/models", false, "GET, HEAD", KEY, "/v1/models", models_route},
    {"/v1/models/", true, "GET, HEAD", KEY, "/v1/models", model_route},
    {"/v1/usage", false, "GET, HEAD", ADMIN, "/v1/usage", hr_usage_route},
    {"/v1/chat/completions", false, "POST", LIMITED, "/v1/chat/completions", hr_chat_start},
    {"/v1/completions", false, "POST", LIMITED, "/v1/completions", hr_completion_start},
    {"/v1/responses", false, "POST", LIMITED, "/v1/responses", hr_responses_start},
    {"/v1/embeddings", false, "POST", LIMITED, "/v1/embeddings", hr_embed_start},
    {"/tokenize", false, "POST", LIMITED, "/tokenize", tokenize_route},
    {"/detokenize", false, "POST", LIMITED, "/detokenize", detokenize_route},
    {"/apply-template", false, "POST", LIMITED, "/apply-template", template_route},
};

static int find_route(const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n = strlen(routes[i].path);
        if (routes[i].prefix ? strncmp(path, routes[i].path, n) == 0 && path[n]
                             : strcmp(path, routes[i].path) == 0)
            return (int)i;
    }
    return -1;
}

const char *hr_route_endpoint(const char *path)
{
    int ri = find_route(path);
    return ri >= 0 ? routes[ri].endpoint : NULL;
}

static bool method_allowed(const char *allow, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)); p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static enum MHD_Result route(struct hr_http_req *r)
{
    struct hr_api_error e;
    int ri = find_route(r->path);
    if (ri < 0) {
        r->endpoint = NULL;
        return hr_respond_error(r, hr_api_error_set(&e, 404, "invalid_request_error", NULL,
                                                    NULL, "Invalid URL (%s %.200s)", r->method,
                                                    r->path));
    }
    if (strcmp(r->method, "OPTIONS") == 0) {
        enum MHD_Result ret;
        if (hr_cors_preflight(r, routes[ri].allow, &ret))
            return ret;
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, routes[ri].allow);
        return hr_queue(r, 204, resp);
    }
    if (!method_allowed(routes[ri].allow, r->method)) {
        hr_api_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
                         "Method %s is not allowed for %s; allowed: %s.", r->method,
                         routes[ri].path, routes[ri].allow);
        return hr_respond_error_hdr(r, &e, MHD_HTTP_HEADER_ALLOW, routes[ri].allow);
    }
    r->endpoint = routes[ri].endpoint;
    enum guard g = routes[ri].guard;
    /* Draining: work already running finishes, nothing new starts; the open routes (probes,
     * the page) still answer, /ready with not_ready, so a load balancer sees why. */
    if (r->srv->draining && g != OPEN)
        return hr_respond_shutting_down(r);
    enum MHD_Result ret;
    if (g != OPEN && !hr_auth_request(r, g == LIMITED, g == ADMIN, &ret))
        return ret;
    if (r->srv->p.log_content && r->body.ptr && !r->log_prompt)
        r->log_prompt = strdup(r->body.ptr);
    return routes[ri].handler(r);
}

static enum MHD_Result too_large(struct hr_http_req *r)
{
    struct hr_api_error e;
    r->body_too_large = true;
    r->endpoint = hr_route_endpoint(r->path);
    return hr_respond_error(r, hr_api_error_set(&e, 413, "invalid_request_error",
                                                "request_too_large", NULL,
                                                "Request body exceeds the limit of %" PRIu64
                                                " bytes.", r->srv->p.max_body));
}

/* A body declared as something other than JSON: 415 before any of it is read. */
static enum MHD_Result unsupported_type(struct hr_http_req *r, int ri)
{
    struct hr_api_error e;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    char shown[65];
    size_t n = 0;
    for (; ct && ct[n] && n < sizeof shown - 1; n++)
        shown[n] = ct[n] >= 0x20 && ct[n] < 0x7f ? ct[n] : '?';
    shown[n] = '\0';
    r->endpoint = routes[ri].endpoint;
    return hr_respond_error(r, hr_api_error_set(&e, 415, "invalid_request_error",
                                                "unsupported_media_type", NULL,
                                                "Unsupported Content-Type '%s': request bodies "
                                                "are JSON; send 'Content-Type: "
                                                "application/json'.", shown));
}

/* Headers and body took longer than --read-timeout (conn_deadline.c). */
static enum MHD_Result read_timeout(struct hr_http_req *r)
{
    struct hr_api_error e;
    r->endpoint = hr_route_endpoint(r->path);
    hr_log(HR_LOG_INFO, "http", "%s: request not read within %u s; 408, closing",
           r->request_id, r->srv->p.read_timeout_s);
    return hr_respond_error(r, hr_api_error_set(&e, 408, "invalid_request_error",
                                                "request_timeout", NULL,
                                                "The request was not received within %u "
                                                "seconds.", r->srv->p.read_timeout_s));
}

enum MHD_Result hr_route_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version,
                                const char *upload_data, size_t *upload_data_size,
                                void **con_cls)
{
    struct hr_server *s = cls;
    struct hr_http_req *r = *con_cls;
    (void)version;
    if (!r) {
        r = req_new(s, conn, url, method);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        s->metrics.in_flight++;
        int ri = find_route(url);
        r->route = ri >= 0 ? routes[ri].path : NULL;
        hr_conn_attach(r);
        if (hr_conn_read_expired(r))
            return read_timeout(r);
        /* Refuse an announced oversized body before reading any of it. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end != cl && n > s->p.max_body)
                return too_large(r);
        }
        if (ri >= 0 && strcmp(method, "POST") == 0 && method_allowed(routes[ri].allow, method) &&
            !hr_content_type_ok(conn))
            return unsupported_type(r, ri);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded)
            return MHD_YES; /* discarding the rest of a refused body */
        /* MHD takes no answer while a body arrives: these end the read their own ways. */
        if (hr_conn_read_expired(r))
            return hr_conn_expire(r) ? MHD_YES : MHD_NO;
        if (r->body_too_large)
            return MHD_YES; /* discarded until its end (bounded by the read deadline) */
        if (hr_buf_append(&r->body, upload_data, n) != 0) {
            r->body_too_large = true;
            hr_buf_free(&r->body);
        }
        return MHD_YES;
    }
    if (r->responded)
        return MHD_YES;
    if (r->body_too_large) /* a body without Content-Length grew past the limit */
        return too_large(r);
    hr_conn_busy(r); /* the whole request is in */
    if (!r->routed || r->model_wait) {
        r->routed = true;
        r->model_wait = false;
        return route(r);
    }
    if (r->job)
        return hr_text_resume(r);
    if (r->prep)
        return hr_chat_prep_done(r);
    if (r->embed)
        return hr_embed_resume(r);
    if (r->usage)
        return hr_usage_resume(r);
    return hr_chat_resume(r);
}

void hr_record_usage(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    if (!r->in_engine && r->status >= 400) /* refused before any work: nothing is used */
        r->n_prompt = r->n_completion = r->n_cached = 0;
    hr_metrics_request_done(&s->metrics, r);
    hr_server_drain_check(s); /* deferred: this request's row is appended first */
    hr_auth_settle(r);
    if (!s->p.store || !r->endpoint)
        return;
    struct hr_usage_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.request_id, sizeof row.request_id, "%s", r->request_id);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    row.time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    snprintf(row.model, sizeof row.model, "%.127s", r->model ? r->model->id : "");
    snprintf(row.endpoint, sizeof row.endpoint, "%s", r->endpoint);
    row.key_id = r->key ? r->key->key.id : 0;
    row.prompt_tokens = r->n_prompt;
    row.cached_tokens = r->n_cached;
    row.completion_tokens = r->n_completion;
    row.queue_ms = r->queue_ms;
    row.first_token_ms = r->first_token_ms;
    row.latency_ms = (uint32_t)(hr_now_ms() - r->t_start_ms);
    row.http_status = r->status ? r->status : 499; /* 499: the client went away first */
    if (r->engine_done && r->status == 200)
        snprintf(row.finish_reason, sizeof row.finish_reason, "%s",
                 hr_chat_finish_reason(r));
    else if (r->engine_done && r->finish == HR_FINISH_CANCELED)
        snprintf(row.finish_reason, sizeof row.finish_reason, "canceled");
    row.user = r->user;
    r->user = NULL;
    if (s->p.log_content) {
        row.prompt_text = r->log_prompt;
        r->log_prompt = NULL;
        row.output_text = hr_chat_output_text(r);
    }
    if (hr_store_append(s->p.store, &row) != 0)
        hr_log(HR_LOG_ERROR, "store", "%s: usage row dropped (store queue full)",
               r->request_id);
}

void hr_route_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    struct hr_http_req *r = *con_cls;
    (void)cls;
    (void)conn;
    if (!r)
        return;
    *con_cls = NULL;
    r->http_done = true;
    hr_conn_detach(r);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status == 200)
        r->status = 499; /* the stream did not reach its end */
    hr_log(HR_LOG_INFO, "http", "%s %s %s %d %.0fms", r->request_id, r->method, r->path,
           r->status ? r->status : 499, hr_now_ms() - r->t_start_ms);
    if (r->in_work && !r->work_done) {
        hr_record_usage(r);
        return; /* freed when the pool's work ends */
    }
    if (r->in_engine && !r->engine_done) {
        /* The client left first: stop generating for nobody. The DONE event records the usage
         * with the tokens really generated, then frees r. */
        hr_log(HR_LOG_INFO, "http", "%s: client left before the end; engine request canceled",
               r->request_id);
        hr_chat_cancel(r);
        return;
    }
    hr_record_usage(r);
    hr_req_free(r);
}
