/* Shared between the server's files (server.c: loop and lifecycle; routes.c: request
 * dispatch and simple routes; chat_route.c: chat completions). Nothing else includes this.
 * Loop thread. */
#ifndef HR_SERVER_INT_H
#define HR_SERVER_INT_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <uv.h>

#include "api/api.h"
#include "daemon/key_limits.h"
#include "daemon/store/store.h"
#include "server.h"

/* A growable byte buffer born with a maximum: reaching it is an error. */
struct hr_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max;
};

int hr_buf_append(struct hr_buf *b, const void *data, size_t n);
void hr_buf_free(struct hr_buf *b);

struct hr_server;
struct hr_http_req;

/* One TCP connection from MHD's start notice to its close (conn_deadline.c), for the
 * deadlines MHD's own timeout cannot give: its inactivity timer restarts at every byte. */
enum hr_conn_phase {
    HR_CONN_IDLE,    /* waiting for a request line (fresh, or after an answer) */
    HR_CONN_READING, /* request line in; headers and body still arriving */
    HR_CONN_BUSY,    /* request read (or answered early): no read deadline */
};

struct hr_http_conn {
    struct hr_server *srv;
    struct MHD_Connection *conn;
    struct hr_http_conn *prev, *next; /* in srv->conns */
    struct hr_http_req *req;          /* the request whose headers are in, while it is read */
    enum hr_conn_phase phase;
    double t_phase_ms;                /* when phase began (hr_now_ms) */
};

/* The /metrics registry (metrics.c), updated on the loop thread only. Histograms keep
 * per-bucket counts; the text output makes them cumulative. */
#define HR_METRICS_MAX_BUCKETS 16
struct hr_metrics_hist {
    const double *le; /* upper bounds in seconds, ascending; n_le of them, +Inf implied */
    size_t n_le;
    uint64_t n[HR_METRICS_MAX_BUCKETS + 1];
    uint64_t count;
    double sum_s;
};

struct hr_metrics {
    struct {
        const char *endpoint; /* a route's path or "other": static strings */
        int status;
        uint64_t n;
    } req[HR_METRICS_MAX_SERIES];
    size_t n_req;
    uint64_t n_dropped; /* requests beyond HR_METRICS_MAX_SERIES series */
    uint64_t prompt_tokens, completion_tokens, cached_tokens;
    struct hr_metrics_hist duration, first_token, queue_wait;
    int64_t in_flight; /* requests begun and not yet recorded */
};

enum hr_served_state {
    HR_SERVED_UNLOADED,
    HR_SERVED_LOADING,   /* its model and engine are being made on the worker pool */
    HR_SERVED_LOADED,
    HR_SERVED_UNLOADING, /* its engine is being stopped on the worker pool */
};

/* A model the server can serve (models.c), known by the id clients put in "model". Requests
 * that use it hold it (n_users) from hr_model_acquire to their free; requests that find it
 * unloaded wait in waiters until it loads. */
struct hr_served {
    struct hr_server *srv;
    char id[256];
    char path[4096];
    char chat_template[4096]; /* "" = the model's own */
    uint32_t n_ctx, n_parallel; /* the spec's; 0 = the server's */
    bool pinned;      /* preloaded; never unloaded */
    int64_t created;  /* unix seconds: the file's mtime */
    bool is_demo;     /* random weights: owned_by "hearth-demo" */
    char quant[16];   /* the file's type name, e.g. "Q8_0" */
    uint32_t n_ctx_train;
    char sha256[65];  /* "" until computed (in the background after start) */
    enum hr_served_state state;
    enum hr_api_tool_format tool_format; /* how its chat template writes tool calls */
    struct hr_engine *engine; /* set while LOADED */
    uint32_t n_users;
    double last_used_ms;
    struct hr_http_req *waiters; /* through wait_next */
    /* /v1/embeddings (embed_route.c): its embedder and waiting jobs, made by the first
     * request; NULL before. hr_embed_stop frees it at server stop; unloading the model must
     * call hr_embed_stop too, before the engine (which owns the model) is freed. */
    struct hr_embed_state *embed;
};

/* An API key the loop knows (auth.c), kept across snapshots so its buckets and totals go
 * on; freed once no snapshot lists it and no request holds it. */
struct hr_key_state {
    struct hr_key_state *next;
    struct hr_key key; /* as the latest snapshot has it */
    bool listed;       /* in the latest snapshot */
    bool active;       /* listed and not revoked */
    struct hr_limit lim;
    uint32_t n_refs;   /* requests holding it (hr_http_req.key) */
};

struct hr_auth {
    bool required; /* the database holds keys: every API request needs one */
    struct hr_key_state *states;
    size_t n_active;
};

/* One HTTP request, from MHD's first call to its completion callback. Freed only when the
 * HTTP side is done and, if it went to the engine, the engine sent its final event. */
struct hr_http_req {
    struct hr_server *srv;
    struct MHD_Connection *conn;
    struct hr_http_req *prev, *next; /* in srv->active while the engine holds it */
    uint64_t id;                     /* engine request id */
    char request_id[64];             /* x-request-id: the client's, or generated */
    char method[16];
    char path[256];
    double t_start_ms;
    struct hr_buf body;
    bool body_too_large;
    bool routed;
    bool model_wait;  /* suspended until its model loads; then routed again */
    struct hr_served *wait_model; /* the model it waits for (in its waiters list), or NULL */
    struct hr_http_req *wait_next;
    char wait_err[256]; /* the load failed (or the server stops): answered with this */
    bool responded;   /* a response is queued */
    bool suspended;
    bool http_done;   /* MHD's completion callback ran */
    bool in_engine;   /* submitted; the engine owes a DONE event */
    bool engine_done; /* the DONE event arrived */
    struct hr_text_job *job; /* /tokenize etc.: work on libuv's pool */
    struct hr_chat_prep *prep; /* chat: template and tokenizer on libuv's pool, then submit */
    struct hr_embed_job *embed; /* /v1/embeddings: tokenize and embed on libuv's pool */
    struct hr_usage_job *usage; /* GET /v1/usage: the report read on libuv's pool */
    bool in_work;     /* job queued: freed by its after-work callback if HTTP ends first */
    bool work_done;
    bool pool_queued; /* counted in srv->n_req_work until hr_work_finished */
    int status;       /* HTTP status sent */
    const char *route; /* the matched route's path (static, a metrics label); NULL: none */
    struct hr_http_conn *hconn; /* its connection while MHD holds the request, else NULL */
    const char *endpoint; /* for the usage row; NULL: not recorded */
    struct hr_served *model; /* held since hr_model_acquire; NULL before */
    /* auth.c: its key (NULL: auth off, or not yet checked), the tokens reserved for it */
    struct hr_key_state *key;
    bool limited;      /* its route counts against the key's limits */
    bool settled;      /* its real token count went back to the limits */
    bool no_retry;     /* a quota refused it: x-should-retry: false */
    struct hr_limit_hold hold;
    char *user;        /* the body's `user` for the ledger (malloc'd), or NULL */
    char *log_prompt;  /* --log-content: the request body (malloc'd), or NULL */
    /* chat */
    bool stream;
    bool include_usage;
    char cmpl_id[48];
    int64_t created;
    bool logprobs;
    struct hr_hangup *hangup; /* watches the client's socket while the engine works */
    bool client_gone;         /* it hung up before the answer: canceled, recorded as 499 */
    /* tool calls: the offered tools while answers are parsed for calls, else NULL */
    json_t *tools;
    enum hr_api_tool_format tool_format;
    bool tool_forced;         /* tool_choice required/named: the answer is only calls */
    /* choice k is engine request id + k */
    struct hr_choice *ch;
    uint32_t n_choices, n_done;
    struct hr_buf out;        /* stream: SSE bytes not yet handed to MHD */
    size_t out_off;
    bool stream_finished;     /* "data: [DONE]" is in out */
    /* once every choice is done: the first failure (or choice 0's finish), totals */
    enum hr_finish finish;
    int err;
    char err_msg[256];
    uint32_t n_prompt, n_completion, n_cached, queue_ms, first_token_ms;
    /* completions and responses (gen_int.h): their shapes (NULL: chat's) and data */
    const struct hr_gen_format *fmt;
    struct hr_gen_data *gen;
    uint32_t n_per_prompt; /* choices per prompt (completions' several prompts); 0: all */
};

/* One choice of a chat request (OpenAI's n). */
struct hr_choice {
    struct hr_buf text;       /* non-stream: the answer; stream: text before the response */
    json_t *lp_content;       /* logprobs entries not yet sent (non-stream: all of them) */
    struct hr_buf tool_held;  /* stream: text not yet shown (a call may be starting) */
    bool tool_holding;        /* stream: a call has begun; everything else waits for the end */
    bool tool_emitted;        /* stream: visible text has been sent */
    size_t n_tool_calls;
    bool sent_role;
    bool done;                /* its DONE event arrived */
    bool finish_sent;         /* stream: its finish chunk is out */
    enum hr_finish finish;
    int err;
    char err_msg[256];
    uint32_t n_completion;
    size_t text_offset;       /* completions: characters of text so far (logprobs) */
    struct hr_buf logged;     /* --log-content: all of its text, for the usage row */
};

struct hr_server {
    struct hr_server_params p;
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_async_t async;
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_timer_t drain_timer;    /* draining: the --drain-timeout deadline, or 0 when done */
    uv_timer_t watchdog_timer; /* WATCHDOG=1 to systemd at half its period */
    bool draining;             /* SIGTERM came: no new requests; the running ones finish */
    bool reloading;            /* a SIGHUP's re-read is on the pool */
    char cors_origins[4096];   /* p.cors_origins points here (SIGHUP replaces it) */
    struct hr_served *models; /* n_models of them */
    size_t n_models;
    uv_timer_t idle_timer;    /* unloads on-demand models idle for keep_alive_s */
    uint32_t n_model_work;    /* loads, unloads and hashing on the pool */
    uint32_t n_req_work;      /* requests' work on the pool (hr_server_queue_work) */
    atomic_bool stop_hashing;
    void (*models_stopped)(struct hr_server *s); /* hr_models_stop's done, while work runs */
    struct hr_http_req *active; /* requests the engine holds */
    struct hr_http_conn *conns; /* every open connection (conn_deadline.c) */
    uv_timer_t deadline_timer;
    struct hr_metrics metrics;
    struct hr_auth auth;
    uv_async_t keys_async;    /* the store thread has new keys (keyring.h) */
    uint64_t next_id;
    bool stopping;
    bool stop_pending; /* a signal came; the stop waits for embedding work (embed_route.c) */
};

/* models.c: one piece of work counted in n_model_work (a load, an unload, hashing, a
 * SIGHUP re-read) ended; the last one lets a pending stop go on. */
void hr_models_work_ended(struct hr_server *s);

/* server.c: while draining, stops the server once no request is in flight (deferred to the
 * loop's next turn: callers may be inside MHD). */
void hr_server_drain_check(struct hr_server *s);

/* routes.c */
enum MHD_Result hr_route_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version,
                                const char *upload_data, size_t *upload_data_size,
                                void **con_cls);
void hr_route_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe);
/* Queues resp (NULL: fail the connection) with the x-request-id header; marks r answered. */
enum MHD_Result hr_queue(struct hr_http_req *r, int status, struct MHD_Response *resp);
/* Queues a JSON body with status; takes ownership of json (malloc'd). hdr/value: one extra
 * header, or NULL. */
enum MHD_Result hr_respond_json(struct hr_http_req *r, int status, char *json);
enum MHD_Result hr_respond_json_hdr(struct hr_http_req *r, int status, char *json,
                                    const char *hdr, const char *value);
enum MHD_Result hr_respond_error(struct hr_http_req *r, const struct hr_api_error *e);
/* 503 server_shutting_down, closing the connection: the server drains or stops. */
enum MHD_Result hr_respond_shutting_down(struct hr_http_req *r);
enum MHD_Result hr_respond_error_hdr(struct hr_http_req *r, const struct hr_api_error *e,
                                     const char *hdr, const char *value);
/* prefix + 24 random hex digits ("chatcmpl-...", "req_..."). */
void hr_random_id(const char *prefix, uint64_t salt, char *out, size_t cap);
void hr_req_free(struct hr_http_req *r);
/* Keeps a copy of the body's `user` for the usage row (handlers, after hr_model_acquire). */
void hr_req_set_user(struct hr_http_req *r, const char *user);
/* The name usage rows of the route serving path carry (NULL: none, or no such route). */
const char *hr_route_endpoint(const char *path);
/* Hands the finished request's usage row to the store (once both sides are done). */
void hr_record_usage(struct hr_http_req *r);

/* models.c: the model a request names, held by r from here on. True: r->model is set and
 * loaded, go on. False: *ret is what the handler returns, either an answer already queued
 * (404 model_not_found, 503) or a wait for the model to load, after which the route's handler
 * runs again from the start (so handlers must acquire before they change anything). */
bool hr_model_acquire(struct hr_http_req *r, const char *name, enum MHD_Result *ret);
/* Lets go of r->model, or leaves its model's waiters (routes.c's request free). */
void hr_model_release(struct hr_http_req *r);
/* The model requests name when they name none (/tokenize...): the first one. */
const char *hr_model_default_id(const struct hr_server *s);
/* Start-up, before listening: checks every model file, loads the preloaded ones, starts the
 * idle timer and the background hashing. Error with d naming the file. */
int hr_models_start(struct hr_server *s, struct hr_diag *d);
/* Shutdown: engines stopped, waiting requests failed and resumed; calls done(s) once no
 * model work is left on the pool (then the loop's handles may close). */
void hr_models_stop(struct hr_server *s, void (*done)(struct hr_server *s));
/* 200 when every preloaded model is loaded and no engine's queue is full (GET /ready). */
enum MHD_Result hr_models_ready_route(struct hr_http_req *r);
/* "loaded", "loading", "unloaded" */
const char *hr_served_status(const struct hr_served *m);

/* auth.c: keys, permissions and limits (see the file's comment). */
/* Takes the keyring's newest snapshot, if any (start-up, and keys_async). */
void hr_auth_refresh(struct hr_server *s);
void hr_auth_free(struct hr_server *s);
bool hr_auth_required(const struct hr_server *s);
/* Who r is: true to go on (r->key set when auth is on); false with *ret a queued 401, 403
 * (admin needed) or 429. limited: the route counts against the key's request limit. */
bool hr_auth_request(struct hr_http_req *r, bool limited, bool admin, enum MHD_Result *ret);
/* Whether r's key may use model id (always, without a key or a model list). */
bool hr_auth_model_allowed(const struct hr_http_req *r, const char *model);
/* Reserves n tokens for r before it is queued: false with *ret a queued 429. */
bool hr_auth_reserve(struct hr_http_req *r, int64_t n, enum MHD_Result *ret);
/* r's real tokens (n_prompt + n_completion) replace its reservation; once. */
void hr_auth_settle(struct hr_http_req *r);
/* Settles and lets go of r's key (the request free). */
void hr_auth_release(struct hr_http_req *r);
/* x-ratelimit-* (and x-should-retry) for r's answer. */
void hr_auth_add_headers(struct hr_http_req *r, struct MHD_Response *resp);
/* usage_route.c: GET /v1/usage (admin keys), read on the pool. */
enum MHD_Result hr_usage_route(struct hr_http_req *r);
enum MHD_Result hr_usage_resume(struct hr_http_req *r);
void hr_usage_job_free(struct hr_http_req *r);

/* model_open.c */
struct hr_model_facts {
    int64_t created; /* the file's mtime */
    char quant[16];
    uint32_t n_ctx_train;
    bool is_demo;
    bool default_template; /* it has none: ChatML stands in */
    enum hr_api_tool_format tool_format;
};
/* Loads path (tmpl: NULL/"" or a Jinja file overriding its template), fills facts and, when
 * out is not NULL, starts an engine on it with ep that wakes notify_ud (a uv_async_t) through
 * hr_server_notify; with out NULL the model is freed again (a check). Any thread. */
int hr_model_open(const char *path, const char *tmpl, const struct hr_engine_params *ep,
                  void *notify_ud, struct hr_engine **out, struct hr_model_facts *facts,
                  struct hr_diag *d);

/* text_routes.c: which is 0 tokenize, 1 detokenize, 2 apply-template */
enum MHD_Result hr_text_start(struct hr_http_req *r, int which);
enum MHD_Result hr_text_resume(struct hr_http_req *r);
void hr_text_job_free(struct hr_http_req *r);

/* embed_route.c: POST /v1/embeddings; resume sends the pool's answer; free is the request
 * free's; stop ends m's waiting requests with 503 and frees its embedder (now, or when the
 * running job ends). */
enum MHD_Result hr_embed_start(struct hr_http_req *r);
enum MHD_Result hr_embed_resume(struct hr_http_req *r);
void hr_embed_free(struct hr_http_req *r);
void hr_embed_stop(struct hr_served *m);
/* At a stop: ends the waiting embedding requests with 503 and says whether a job is still
 * on the pool, in which case its end calls hr_server_stop again. */
bool hr_embed_defer_stop(struct hr_server *s);

/* chat_route.c */
enum MHD_Result hr_chat_start(struct hr_http_req *r);
/* "tool_calls" when choice 0 held calls, else the engine's finish as OpenAI names it. */
const char *hr_chat_finish_reason(const struct hr_http_req *r);
/* Whether engine request id belongs to r (one id per choice). */
bool hr_chat_owns(const struct hr_http_req *r, uint64_t id);
/* --log-content: every choice's text as a JSON array of strings (malloc'd), or NULL. */
char *hr_chat_output_text(struct hr_http_req *r);
/* Asks the engine to stop every choice still running. */
void hr_chat_cancel(struct hr_http_req *r);
/* Frees the choices (routes.c's request free). */
void hr_chat_free_choices(struct hr_http_req *r);
/* chat_prep.c: takes req (moved; deinit'd by this) and renders + tokenizes it on the pool;
 * the connection stays suspended. hr_chat_prep_done runs on the resumed connection. */
enum MHD_Result hr_chat_prep_start(struct hr_http_req *r, struct hr_api_chat_req *take_req);
enum MHD_Result hr_chat_prep_done(struct hr_http_req *r);
void hr_chat_prep_free(struct hr_http_req *r);
/* chat_route.c: submits a prepared prompt to the engine. */
enum MHD_Result hr_chat_submit(struct hr_http_req *r, const struct hr_api_chat_req *req,
                               const int32_t *tokens, size_t n_tokens);
enum MHD_Result hr_chat_resume(struct hr_http_req *r);
/* Stops watching for the client hanging up (also before r is freed). */
void hr_chat_stop_hangup(struct hr_http_req *r);
void hr_chat_on_event(struct hr_http_req *r, const struct hr_event *ev);

/* http_policy.c: CORS (--cors-origins) and the media type of request bodies. */
/* Adds the CORS headers to resp when r's Origin is allowed. */
void hr_cors_add_headers(struct hr_http_req *r, struct MHD_Response *resp);
/* The same as raw header lines ("Name: value\r\n"...) for answers written without MHD;
 * snprintf's return. */
int hr_cors_header_lines(struct hr_http_req *r, char *buf, size_t cap);
/* r is a CORS preflight (OPTIONS with Access-Control-Request-Method) from an allowed
 * origin: queues its 204 for a route allowing the methods in allow and returns true. */
bool hr_cors_preflight(struct hr_http_req *r, const char *allow, enum MHD_Result *ret);
/* MHD_OPTION_UNESCAPE_CALLBACK: %HH decoded in place, except %00, which stays literal so no
 * path holds a NUL. Returns the new length. */
size_t hr_http_unescape(void *cls, struct MHD_Connection *conn, char *s);
/* True when the request has no Content-Type or an application/json one (any parameters). */
bool hr_content_type_ok(struct MHD_Connection *conn);

/* conn_deadline.c: connection tracking (MHD_OPTION_NOTIFY_CONNECTION, URI_LOG_CALLBACK) and
 * the idle and read deadlines, checked by a timer and by the access handler. */
void hr_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe);
void *hr_conn_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);
/* r's headers are in: links r to its connection. */
void hr_conn_attach(struct hr_http_req *r);
/* r is read or answered (BUSY), or done with its connection (detached, IDLE again). */
void hr_conn_busy(struct hr_http_req *r);
void hr_conn_detach(struct hr_http_req *r);
/* Whether r has been reading for longer than --read-timeout. */
bool hr_conn_read_expired(const struct hr_http_req *r);
/* Ends r's read at once: a 408 written to the socket, which is then shut down (MHD takes
 * no answer while a body arrives). False: r's connection is untracked; close it. */
bool hr_conn_expire(struct hr_http_req *r);
void hr_conn_timer_start(struct hr_server *s);
void hr_conn_timer_stop(struct hr_server *s);

/* metrics.c */
void hr_metrics_init(struct hr_metrics *m);
/* A finished request (hr_record_usage): counters and histograms; in_flight drops. */
void hr_metrics_request_done(struct hr_metrics *m, const struct hr_http_req *r);
/* A request refused before routing (a read timeout in its headers). */
void hr_metrics_count(struct hr_metrics *m, const char *endpoint, int status);
/* GET /metrics: Prometheus text exposition format 0.0.4. */
enum MHD_Result hr_metrics_route(struct hr_http_req *r);

/* completion_route.c, responses_route.c */
enum MHD_Result hr_completion_start(struct hr_http_req *r);
enum MHD_Result hr_responses_start(struct hr_http_req *r);
void hr_gen_free(struct hr_http_req *r);

/* server.c */
void hr_server_kick(struct hr_server *s); /* run MHD now and re-arm its timer */
/* Stops in order (signals; again when deferred work ends). */
void hr_server_stop(struct hr_server *s);
/* Parks r while w runs on libuv's pool: r is in work (counted, so that a stop waits for it)
 * and its connection suspended until hr_work_finished. False when the pool refused (r is
 * not in work; answer with hr_respond_no_pool). */
bool hr_server_queue_work(struct hr_http_req *r, uv_work_t *w, uv_work_cb fn,
                          uv_after_work_cb after);
/* 500: the pool refused the work. */
enum MHD_Result hr_respond_no_pool(struct hr_http_req *r);
/* A request's pool work has ended (after-work callback): resumes its connection, or frees it
 * when the HTTP side is already done. */
void hr_work_finished(struct hr_http_req *r);
void hr_server_unlink(struct hr_server *s, struct hr_http_req *r);
double hr_now_ms(void);
/* The engines' notify callback: uv_async_send(ud). Any thread. */
void hr_server_notify(void *ud);

#endif
