/* POST /v1/chat/completions on the loop: validate (api/), submit to the engine, suspend the
 * connection, and turn the engine's events into either one JSON response or a Server-Sent
 * Events stream.
 *
 * SSE wire format (OpenAI's):  "data: " JSON "\n\n" per chunk; the first chunk carries the
 * role, the last one an empty delta with finish_reason; then, with
 * stream_options.include_usage, one chunk with "choices": [] and the usage; then
 * "data: [DONE]\n\n". The response (status and headers) is queued only when the first event
 * arrives, so an error found by the engine before any text (context too long) still gets its
 * proper status. The content reader hands out buffered bytes or suspends the connection; an
 * event resumes it. Loop thread. */
#include "gen_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int hr_gen_append_sse(struct hr_http_req *r, const char *event, char *json)
{
    if (!json)
        return HR_ENOMEM;
    int rc = 0;
    if (event) {
        rc = hr_buf_append(&r->out, "event: ", 7);
        if (rc == 0)
            rc = hr_buf_append(&r->out, event, strlen(event));
        if (rc == 0)
            rc = hr_buf_append(&r->out, "\n", 1);
    }
    if (rc == 0)
        rc = hr_buf_append(&r->out, "data: ", 6);
    if (rc == 0)
        rc = hr_buf_append(&r->out, json, strlen(json));
    if (rc == 0)
        rc = hr_buf_append(&r->out, "\n\n", 2);
    free(json);
    return rc;
}

static int append_sse(struct hr_http_req *r, char *json)
{
    return hr_gen_append_sse(r, NULL, json);
}

static const char *model_id(const struct hr_http_req *r)
{
    return r->model->id;
}

static uint32_t index_of(const struct hr_http_req *r, const struct hr_choice *c)
{
    return (uint32_t)(c - r->ch);
}

/* The logprobs entries gathered so far, handed over (NULL when logprobs are off). */
json_t *hr_gen_take_logprobs(struct hr_http_req *r, struct hr_choice *c)
{
    json_t *lp = c->lp_content;
    c->lp_content = r->logprobs ? json_array() : NULL;
    return lp;
}

static json_t *take_logprobs(struct hr_http_req *r, struct hr_choice *c)
{
    return hr_gen_take_logprobs(r, c);
}

/* A content chunk with its tokens' logprobs; empty text is sent only when it carries some. */
static void stream_text(struct hr_http_req *r, struct hr_choice *c, const char *text, size_t n)
{
    if (r->fmt) {
        r->fmt->stream_text(r, c, text, n);
        return;
    }
    uint32_t k = index_of(r, c);
    if (!c->sent_role) {
        c->sent_role = true;
        append_sse(r, hr_api_chat_chunk_json(r->cmpl_id, r->created, model_id(r), k,
                                             "assistant", "", 0, NULL, r->include_usage, NULL));
    }
    if (n || (c->lp_content && json_array_size(c->lp_content)))
        append_sse(r, hr_api_chat_chunk_json(r->cmpl_id, r->created, model_id(r), k, NULL,
                                             text ? text : "", n, NULL, r->include_usage,
                                             take_logprobs(r, c)));
}

static const char *choice_finish(const struct hr_choice *c)
{
    return c->n_tool_calls ? "tool_calls" : hr_api_finish_reason(c->finish);
}

const char *hr_chat_finish_reason(const struct hr_http_req *r)
{
    return r->n_choices ? choice_finish(&r->ch[0]) : hr_api_finish_reason(r->finish);
}

bool hr_chat_owns(const struct hr_http_req *r, uint64_t id)
{
    return id >= r->id && id - r->id < (r->n_choices ? r->n_choices : 1);
}

void hr_chat_cancel(struct hr_http_req *r)
{
    struct hr_engine *eng = r->model ? r->model->engine : NULL;
    for (uint32_t k = 0; eng && k < r->n_choices; k++)
        if (!r->ch[k].done)
            hr_engine_cancel(eng, r->id + k);
}

void hr_chat_free_choices(struct hr_http_req *r)
{
    for (uint32_t k = 0; k < r->n_choices; k++) {
        hr_buf_free(&r->ch[k].text);
        hr_buf_free(&r->ch[k].tool_held);
        hr_buf_free(&r->ch[k].logged);
        json_decref(r->ch[k].lp_content);
    }
    free(r->ch);
    r->ch = NULL;
    r->n_choices = 0;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of mark. */
static size_t partial_mark(const char *s, size_t n, const char *mark)
{
    size_t m = strlen(mark);
    for (size_t k = m - 1 < n ? m - 1 : n; k > 0; k--)
        if (memcmp(s + n - k, mark, k) == 0)
            return k;
    return 0;
}

/* Streamed text when tools are offered: shown until a call may be starting (the format's
 * opening marker, or for Llama 3 an answer that begins with '{'), then held back until the
 * end, when it is parsed into calls (stream_tool_flush). */
static void stream_visible(struct hr_http_req *r, struct hr_choice *c, const char *text,
                           size_t n)
{
    if (!r->tools) {
        stream_text(r, c, text, n);
        return;
    }
    hr_buf_append(&c->tool_held, text, n);
    if (c->tool_holding)
        return;
    const char *held = c->tool_held.ptr;
    size_t len = c->tool_held.len;
    if (r->tool_format == HR_TOOLS_LLAMA3 && !c->tool_emitted) {
        size_t i = 0;
        while (i < len && isspace((unsigned char)held[i]))
            i++;
        if (i == len)
            return; /* only whitespace so far: the answer may still be a call */
        if (held[i] == '{') {
            c->tool_holding = true;
            return;
        }
    }
    const char *mark = hr_api_tool_start(r->tool_format);
    const char *at = len ? memmem(held, len, mark, strlen(mark)) : NULL;
    size_t show = at ? (size_t)(at - held) : len - partial_mark(held, len, mark);
    c->tool_holding = at != NULL;
    if (show) {
        stream_text(r, c, held, show);
        c->tool_emitted = true;
        memmove(c->tool_held.ptr, held + show, len - show);
        c->tool_held.len = len - show;
    }
}

/* At the end of a streamed choice with tools: the held text as calls (one delta each) and/or
 * text. */
static void stream_tool_flush(struct hr_http_req *r, struct hr_choice *c)
{
    if (!r->tools || !c->tool_held.len)
        return;
    char *content = NULL;
    size_t n = 0;
    json_t *calls = hr_api_parse_tool_calls(r->tool_format, c->tool_held.ptr, c->tool_held.len,
                                            r->tools, &content, &n);
    /* a forced answer is only calls: text is a call cut short by max_tokens */
    if (content && !r->tool_forced)
        stream_text(r, c, content, n);
    if (calls && json_array_size(calls)) {
        c->n_tool_calls = json_array_size(calls);
        if (r->fmt)
            r->fmt->stream_calls(r, c, calls);
        else
            append_sse(r, hr_api_chat_tool_chunk_json(r->cmpl_id, r->created, model_id(r),
                                                      index_of(r, c), calls,
                                                      r->include_usage));
    }
    json_decref(calls);
    free(content);
    c->tool_held.len = 0;
}

/* A finished choice's last chunks: held text or calls, then its finish_reason. */
static void stream_choice_finish(struct hr_http_req *r, struct hr_choice *c)
{
    if (c->finish_sent)
        return;
    c->finish_sent = true;
    stream_tool_flush(r, c);
    stream_text(r, c, NULL, 0);
    if (r->fmt) {
        r->fmt->stream_choice_end(r, c);
        return;
    }
    append_sse(r, hr_api_chat_chunk_json(r->cmpl_id, r->created, model_id(r), index_of(r, c),
                                         NULL, NULL, 0, choice_finish(c), r->include_usage,
                                         NULL));
}

/* After every choice: the usage chunk (when asked for) and [DONE]. */
static void stream_finish(struct hr_http_req *r)
{
    for (uint32_t k = 0; k < r->n_choices; k++)
        stream_choice_finish(r, &r->ch[k]);
    if (r->fmt) {
        r->fmt->stream_end(r);
        return;
    }
    if (r->include_usage) {
        struct hr_api_usage u = {r->n_prompt, r->n_completion, r->n_cached};
        append_sse(r, hr_api_chat_usage_chunk_json(r->cmpl_id, r->created, model_id(r), &u));
    }
    hr_buf_append(&r->out, "data: [DONE]\n\n", 14);
    r->stream_finished = true;
}

/* A suspended connection is not polled by MHD, so a client that hangs up while the engine
 * works (a long prefill, a non-streaming answer) would go unnoticed until the answer is
 * written: its socket is watched for the peer's shutdown (EPOLLRDHUP) meanwhile, and the
 * request is canceled at once, freeing its sequence within a step. */
struct hr_hangup {
    uv_poll_t poll;
    struct hr_http_req *r;
};

static void hangup_closed(uv_handle_t *h)
{
    free(h->data);
}

void hr_chat_stop_hangup(struct hr_http_req *r)
{
    struct hr_hangup *h = r->hangup;
    if (!h)
        return;
    r->hangup = NULL;
    h->r = NULL;
    uv_poll_stop(&h->poll);
    uv_close((uv_handle_t *)&h->poll, hangup_closed);
}

static void on_hangup(uv_poll_t *p, int status, int events)
{
    struct hr_hangup *h = p->data;
    struct hr_http_req *r = h->r;
    if (!r || (status >= 0 && !(events & UV_DISCONNECT)))
        return;
    if (r->in_engine && !r->engine_done && r->model->engine) {
        r->client_gone = true;
        hr_chat_cancel(r);
        hr_log(HR_LOG_INFO, "chat", "%s: client hung up; request canceled", r->request_id);
    }
    hr_chat_stop_hangup(r);
}

static void watch_hangup(struct hr_http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct hr_hangup *h = ci ? calloc(1, sizeof *h) : NULL;
    if (!h)
        return; /* then a hang-up is noticed when the answer is written */
    h->poll.data = h;
    h->r = r;
    if (uv_poll_init_socket(r->srv->loop, &h->poll, ci->connect_fd) != 0) {
        free(h);
        return;
    }
    r->hangup = h;
    if (uv_poll_start(&h->poll, UV_DISCONNECT, on_hangup) != 0)
        hr_chat_stop_hangup(r);
}

static void resume(struct hr_http_req *r)
{
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
    }
}

/* Records a choice's end; true once every choice has ended. */
static bool choice_done(struct hr_http_req *r, struct hr_choice *c, const struct hr_event *ev)
{
    if (c->done)
        return r->n_done == r->n_choices;
    c->done = true;
    c->finish = ev->finish;
    c->err = ev->err;
    snprintf(c->err_msg, sizeof c->err_msg, "%s", ev->err_msg);
    c->n_completion = ev->n_completion;
    r->n_completion += ev->n_completion;
    uint32_t per = r->n_per_prompt ? r->n_per_prompt : r->n_choices;
    if (per == r->n_choices && c == r->ch) { /* the prompt's numbers are choice 0's */
        r->n_prompt = ev->n_prompt;
        r->n_cached = ev->n_cached;
    } else if (index_of(r, c) % per == 0) { /* each prompt's, its first choice's */
        r->n_prompt += ev->n_prompt;
        r->n_cached += ev->n_cached;
    }
    if (c == r->ch) {
        r->queue_ms = ev->queue_ms;
        r->first_token_ms = ev->first_token_ms;
    }
    bool failed = ev->finish == HR_FINISH_ERROR || ev->finish == HR_FINISH_CANCELED;
    if (failed && r->finish != HR_FINISH_ERROR && r->finish != HR_FINISH_CANCELED) {
        r->finish = ev->finish;
        r->err = ev->err;
        snprintf(r->err_msg, sizeof r->err_msg, "%s", ev->err_msg);
    } else if (c == r->ch && r->finish != HR_FINISH_ERROR && r->finish != HR_FINISH_CANCELED) {
        r->finish = ev->finish;
    }
    if (failed) /* one choice failed: the answer as a whole cannot be given */
        hr_chat_cancel(r);
    return ++r->n_done == r->n_choices;
}

static bool failed(const struct hr_http_req *r)
{
    return r->finish == HR_FINISH_ERROR || r->finish == HR_FINISH_CANCELED;
}

void hr_chat_on_event(struct hr_http_req *r, const struct hr_event *ev)
{
    struct hr_choice *c = &r->ch[ev->req_id - r->id < r->n_choices ? ev->req_id - r->id : 0];
    if (ev->kind == HR_EV_TEXT) {
        double now = hr_now_ms();
        if (c->last_text_ms > 0)
            hr_metrics_inter_token(&r->srv->metrics, (now - c->last_text_ms) / 1e3);
        c->last_text_ms = now;
        if (r->srv->p.log_content) {
            c->logged.max = HR_MAX_PROMPT_BYTES;
            hr_buf_append(&c->logged, ev->text, ev->n_text); /* past the cap: the start kept */
        }
        if (ev->logprob && c->lp_content && !r->http_done) {
            json_t *entry =
                hr_api_logprob_json(hr_engine_model(r->model->engine)->tok, ev->logprob);
            if (entry)
                json_array_append_new(c->lp_content, entry);
        }
        if (r->stream && r->responded && !r->http_done)
            stream_visible(r, c, ev->text, ev->n_text);
        else if (!r->http_done && hr_buf_append(&c->text, ev->text, ev->n_text) != 0)
            hr_log(HR_LOG_WARN, "chat", "%s: answer longer than the buffer; truncated",
                   r->request_id);
        if (r->stream)
            resume(r);
        return;
    }
    bool all = false;
    if (ev->err == HR_ESHUTDOWN) /* the server's own farewell: every choice ends */
        for (uint32_t k = 0; k < r->n_choices; k++)
            all = choice_done(r, &r->ch[k], ev);
    else
        all = choice_done(r, c, ev);
    if (r->stream && r->responded && !r->http_done && !all && !failed(r)) {
        stream_choice_finish(r, c);
        resume(r);
    }
    if (!all)
        return;
    r->engine_done = true;
    hr_chat_stop_hangup(r);
    hr_server_unlink(r->srv, r);
    if (r->http_done) {
        hr_record_usage(r); /* the client left; the engine has now let go too */
        hr_req_free(r);
        return;
    }
    if (r->stream && r->responded) {
        if (failed(r)) {
            /* Mid-stream failure: OpenAI sends an error object as an event, then ends. */
            struct hr_api_error e;
            hr_api_error_from_engine(&e, r->err ? r->err : HR_ECANCELED, r->err_msg);
            if (r->fmt && r->fmt->stream_error) {
                r->fmt->stream_error(r, &e);
            } else {
                append_sse(r, hr_api_error_json(&e));
                hr_buf_append(&r->out, "data: [DONE]\n\n", 14);
                r->stream_finished = true;
            }
        } else {
            stream_finish(r);
        }
    }
    resume(r);
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct hr_http_req *r = cls;
    (void)pos;
    size_t avail = r->out.len - r->out_off;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, r->out.ptr + r->out_off, n);
        r->out_off += n;
        if (r->out_off == r->out.len)
            r->out.len = r->out_off = 0;
        return (ssize_t)n;
    }
    if (r->stream_finished)
        return MHD_CONTENT_READER_END_OF_STREAM;
    /* Nothing to send yet: park the connection until the engine's next event. */
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    return 0;
}

bool hr_chat_take_tools(struct hr_http_req *r, const struct hr_api_chat_req *req,
                        struct hr_api_error *e)
{
    struct hr_served *m = r->model;
    if (!req->tools || req->tool_choice == HR_TOOL_CHOICE_NONE)
        return true;
    if (m->tool_format == HR_TOOLS_NONE) {
        hr_api_error_set(e, 400, "invalid_request_error", "unsupported_parameter", "tools",
                         "This model's chat template does not show how it writes tool calls "
                         "(Hearth reads Hermes/Qwen <tool_call>, Llama 3 JSON and Mistral "
                         "[TOOL_CALLS] calls); serve it with a --chat-template that has one, or "
                         "send tool_choice 'none'.");
        return false;
    }
    r->tools = json_incref(req->tools);
    r->tool_format = m->tool_format;
    r->tool_forced = req->tool_choice == HR_TOOL_CHOICE_REQUIRED ||
                     req->tool_choice == HR_TOOL_CHOICE_NAMED;
    return true;
}

enum MHD_Result hr_chat_start(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    struct hr_api_chat_req req;
    if (hr_api_chat_parse(r->body.ptr ? r->body.ptr : "", r->body.len, &req, &e) != 0) {
        hr_api_chat_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    enum MHD_Result ret;
    if (!hr_model_acquire(r, req.model, &ret)) {
        hr_api_chat_req_deinit(&req);
        return ret;
    }
    hr_req_set_user(r, req.user);
    struct hr_served *m = r->model;
    if (hr_api_chat_check_vocab(&req, (int32_t)hr_engine_model(m->engine)->n_vocab, &e) != 0) {
        hr_api_chat_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    if (!hr_chat_take_tools(r, &req, &e)) {
        hr_api_chat_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    r->stream = req.stream;
    r->include_usage = req.include_usage;
    r->logprobs = req.logprobs;
    r->created = (int64_t)time(NULL);
    r->ch = calloc(req.n, sizeof *r->ch);
    if (!r->ch) {
        hr_api_chat_req_deinit(&req);
        return hr_respond_error(r, hr_api_error_set(&e, 500, "server_error", NULL, NULL,
                                                    "out of memory"));
    }
    r->n_choices = req.n;
    for (uint32_t k = 0; k < req.n; k++) {
        r->ch[k].text.max = HR_MAX_PROMPT_BYTES;
        r->ch[k].tool_held.max = HR_MAX_PROMPT_BYTES;
    }
    /* one engine id per choice, consecutive */
    r->id = s->next_id;
    s->next_id += req.n;
    hr_random_id("chatcmpl-", r->id, r->cmpl_id, sizeof r->cmpl_id);
    hr_buf_free(&r->body); /* req's own JSON tree holds what is still needed */
    return hr_chat_prep_start(r, &req);
}

enum MHD_Result hr_chat_submit(struct hr_http_req *r, const struct hr_api_chat_req *req,
                               const int32_t *tokens, size_t n_tokens)
{
    int32_t *const list[1] = {(int32_t *)tokens};
    return hr_gen_submit_prompts(r, req, list, &n_tokens, 1);
}

char *hr_chat_output_text(struct hr_http_req *r)
{
    if (!r->n_choices)
        return NULL;
    json_t *a = json_array();
    for (uint32_t k = 0; a && k < r->n_choices; k++)
        json_array_append_new(a, json_stringn(r->ch[k].logged.ptr ? r->ch[k].logged.ptr : "",
                                              r->ch[k].logged.len));
    char *text = a ? json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(a);
    return text;
}

/* The most tokens r may use: every prompt plus, per choice, max_tokens or the rest of the
 * context (what a client that sets no max_tokens may get). Reserved before queueing. */
static int64_t worst_case_tokens(const struct hr_http_req *r, const struct hr_api_chat_req *req,
                                 const size_t *n_tokens, size_t n_prompts, uint32_t per)
{
    uint32_t n_ctx = hr_engine_n_ctx(r->model->engine);
    int64_t total = 0;
    for (size_t p = 0; p < n_prompts; p++) {
        int64_t room = n_tokens[p] < n_ctx ? (int64_t)(n_ctx - n_tokens[p]) : 0;
        int64_t gen = req->max_tokens && req->max_tokens < room ? req->max_tokens : room;
        total += (int64_t)n_tokens[p] + gen * per;
    }
    return total;
}

/* Ends choices k.. of r that never reached the engine, as the engine would have. */
static void fail_unsent(struct hr_http_req *r, uint32_t k, int rc, const char *msg)
{
    struct hr_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = HR_EV_DONE;
    ev.finish = HR_FINISH_ERROR;
    ev.err = rc;
    snprintf(ev.err_msg, sizeof ev.err_msg, "%.255s", msg ? msg : "");
    for (; k < r->n_choices; k++)
        choice_done(r, &r->ch[k], &ev);
}

enum MHD_Result hr_gen_submit_prompts(struct hr_http_req *r, const struct hr_api_chat_req *req,
                                      int32_t *const *tokens, const size_t *n_tokens,
                                      size_t n_prompts)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    if (!r->model->engine)
        return hr_respond_shutting_down(r);
    for (uint32_t k = 0; k < r->n_choices; k++)
        r->ch[k].lp_content = req->logprobs ? json_array() : NULL;
    uint32_t per = r->n_per_prompt ? r->n_per_prompt : r->n_choices;
    enum MHD_Result ret;
    if (!hr_auth_reserve(r, worst_case_tokens(r, req, n_tokens, n_prompts, per), &ret))
        return ret;
    if (n_prompts > 1) { /* summed from each prompt's first choice (choice_done) */
        r->n_prompt = 0;
        r->n_cached = 0;
    }
    struct hr_gen_request g = {0};
    g.n_choices = per;
    g.max_tokens = req->max_tokens;
    g.sampling = req->sampling;
    g.stop = req->stop;
    g.n_stop = req->n_stop;
    g.ignore_eos = req->ignore_eos;
    g.logprobs = req->logprobs;
    g.top_logprobs = req->top_logprobs;
    g.timeout_ms = s->p.request_timeout_ms;
    g.grammar = req->grammar;
    for (size_t p = 0; p < n_prompts; p++) {
        g.id = r->id + p * per;
        g.tokens = tokens[p];
        g.n_tokens = n_tokens[p];
        struct hr_diag d = {{0}};
        int rc = hr_engine_submit(r->model->engine, &g, &d);
        if (rc != 0 && p == 0) {
            hr_api_error_from_engine(&e, rc, d.msg[0] ? d.msg : NULL);
            if (rc == HR_EFULL)
                return hr_respond_error_hdr(r, &e, MHD_HTTP_HEADER_RETRY_AFTER, "1");
            return hr_respond_error(r, &e);
        }
        if (rc != 0) {
            /* The earlier prompts run: these choices fail now, which cancels those, and the
             * answer is this error once their last events arrive. */
            fail_unsent(r, (uint32_t)(p * per), rc, d.msg[0] ? d.msg : NULL);
            break;
        }
    }
    r->in_engine = true;
    r->next = s->active;
    if (s->active)
        s->active->prev = r;
    s->active = r;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    watch_hangup(r);
    return MHD_YES;
}

/* The non-streaming answer: every choice, its calls parsed when tools were offered. */
static char *completion_json(struct hr_http_req *r)
{
    json_t *choices = json_array();
    for (uint32_t k = 0; choices && k < r->n_choices; k++) {
        struct hr_choice *c = &r->ch[k];
        const char *text = c->text.ptr ? c->text.ptr : "";
        json_t *calls = NULL;
        char *content = NULL;
        size_t n = 0;
        if (r->tools) {
            calls = hr_api_parse_tool_calls(r->tool_format, text, c->text.len, r->tools,
                                            &content, &n);
            if (calls && !json_array_size(calls)) {
                json_decref(calls);
                calls = NULL;
            }
        }
        c->n_tool_calls = calls ? json_array_size(calls) : 0;
        json_t *choice =
            calls ? hr_api_chat_choice_json(k, n && !r->tool_forced ? content : NULL, n, NULL,
                                            take_logprobs(r, c), calls)
                  : hr_api_chat_choice_json(k, text, c->text.len, choice_finish(c),
                                            take_logprobs(r, c), NULL);
        free(content);
        if (json_array_append_new(choices, choice) != 0) {
            json_decref(choices);
            choices = NULL;
        }
    }
    struct hr_api_usage u = {r->n_prompt, r->n_completion, r->n_cached};
    return hr_api_chat_completion_choices_json(r->cmpl_id, r->created, model_id(r), choices,
                                               &u);
}

/* Called when a suspended chat request is resumed before its response was queued. */
enum MHD_Result hr_chat_resume(struct hr_http_req *r)
{
    struct hr_api_error e;
    if (r->engine_done && failed(r)) {
        hr_api_error_from_engine(&e, r->err ? r->err : HR_ECANCELED, r->err_msg);
        if (r->client_gone)
            e.status = 499; /* nobody reads it; the ledger says the client left */
        return hr_respond_error(r, &e);
    }
    if (!r->stream) {
        if (!r->engine_done) {
            r->suspended = true;
            MHD_suspend_connection(r->conn);
            return MHD_YES;
        }
        return hr_respond_json(r, 200, r->fmt ? r->fmt->answer_json(r) : completion_json(r));
    }
    /* First event of a stream: the status is now known to be 200; from here MHD writes to
     * the socket and notices a hang-up itself. */
    hr_chat_stop_hangup(r);
    if (r->fmt && r->fmt->stream_start)
        r->fmt->stream_start(r);
    for (uint32_t k = 0; k < r->n_choices; k++) {
        struct hr_choice *c = &r->ch[k];
        stream_visible(r, c, c->text.ptr, c->text.len);
        hr_buf_free(&c->text);
        if (c->done && !r->engine_done)
            stream_choice_finish(r, c);
    }
    if (r->engine_done)
        stream_finish(r);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_reader, r, NULL);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return hr_queue(r, 200, resp);
}
