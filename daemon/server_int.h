/* Shared between the server's files (server.c: loop and lifecycle; routes.c: request
 * dispatch and simple routes; chat_route.c: chat completions). Nothing else includes this.
 * Loop thread. */
#ifndef HR_SERVER_INT_H
#define HR_SERVER_INT_H

#include <microhttpd.h>
#include <uv.h>

#include "api/api.h"
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

/* A model the server can serve (models.c), known by the id clients put in "model". Requests
 * that use it hold it (n_users) from hr_model_acquire to their free. */
struct hr_served {
    struct hr_server *srv;
    char id[256];
    int64_t created;  /* unix seconds: the file's mtime */
    bool is_demo;     /* random weights: owned_by "hearth-demo" */
    char quant[16];   /* the file's type name, e.g. "Q8_0" */
    enum hr_api_tool_format tool_format; /* how its chat template writes tool calls */
    struct hr_engine *engine; /* NULL: not loaded (or the server is stopping) */
    uint32_t n_users;
    /* /v1/embeddings (embed_route.c): its embedder and waiting jobs, made by the first
     * request; NULL before. hr_embed_stop frees it at server stop; unloading the model must
     * call hr_embed_stop too, before the engine (which owns the model) is freed. */
    struct hr_embed_state *embed;
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
    bool responded;   /* a response is queued */
    bool suspended;
    bool http_done;   /* MHD's completion callback ran */
    bool in_engine;   /* submitted; the engine owes a DONE event */
    bool engine_done; /* the DONE event arrived */
    struct hr_text_job *job; /* /tokenize etc.: work on libuv's pool */
    struct hr_chat_prep *prep; /* chat: template and tokenizer on libuv's pool, then submit */
    struct hr_embed_job *embed; /* /v1/embeddings: tokenize and embed on libuv's pool */
    bool in_work;     /* job queued: freed by its after-work callback if HTTP ends first */
    bool work_done;
    int status;       /* HTTP status sent */
    const char *endpoint; /* for the usage row; NULL: not recorded */
    struct hr_served *model; /* held since hr_model_acquire; NULL before */
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
};

struct hr_server {
    struct hr_server_params p;
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_async_t async;
    uv_signal_t sig_int, sig_term;
    struct hr_served *models; /* n_models of them */
    size_t n_models;
    struct hr_http_req *active; /* requests the engine holds */
    uint64_t next_id;
    bool stopping;
    bool stop_pending; /* a signal came; the stop waits for embedding work (embed_route.c) */
};

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
/* 503 server_shutting_down: the engine is gone. */
enum MHD_Result hr_respond_shutting_down(struct hr_http_req *r);
enum MHD_Result hr_respond_error_hdr(struct hr_http_req *r, const struct hr_api_error *e,
                                     const char *hdr, const char *value);
/* prefix + 24 random hex digits ("chatcmpl-...", "req_..."). */
void hr_random_id(const char *prefix, uint64_t salt, char *out, size_t cap);
void hr_req_free(struct hr_http_req *r);
/* Hands the finished request's usage row to the store (once both sides are done). */
void hr_record_usage(struct hr_http_req *r);

/* models.c: the model a request names, held by r from here on. True: r->model is set and
 * loaded, go on. False: *ret is what the handler returns, either an answer already queued
 * (404 model_not_found, 503) or a wait for the model to load, after which the route's handler
 * runs again from the start (so handlers must acquire before they change anything). */
bool hr_model_acquire(struct hr_http_req *r, const char *name, enum MHD_Result *ret);
/* Lets go of r->model (routes.c's request free). */
void hr_model_release(struct hr_http_req *r);
/* The model requests name when they name none (/tokenize...): the first one. */
const char *hr_model_default_id(const struct hr_server *s);

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

/* server.c */
void hr_server_kick(struct hr_server *s); /* run MHD now and re-arm its timer */
/* Stops in order (signals; again when deferred work ends). */
void hr_server_stop(struct hr_server *s);
/* A request's pool work has ended (after-work callback): resumes its connection, or frees it
 * when the HTTP side is already done. */
void hr_work_finished(struct hr_http_req *r);
void hr_server_unlink(struct hr_server *s, struct hr_http_req *r);
double hr_now_ms(void);

#endif
