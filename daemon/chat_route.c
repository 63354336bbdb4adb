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
#include "server_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int append_sse(struct hr_http_req *r, char *json)
{
    if (!json)
        return HR_ENOMEM;
    int rc = hr_buf_append(&r->out, "data: ", 6);
    if (rc == 0)
        rc = hr_buf_append(&r->out, json, strlen(json));
    if (rc == 0)
        rc = hr_buf_append(&r->out, "\n\n", 2);
    free(json);
    return rc;
}

static const char *model_id(const struct hr_http_req *r)
{
    return r->srv->p.model_id;
}

/* The logprobs entries gathered so far, handed over (NULL when logprobs are off). */
static json_t *take_logprobs(struct hr_http_req *r)
{
    json_t *lp = r->lp_content;
    r->lp_content = r->logprobs ? json_array() : NULL;
    return lp;
}

/* A content chunk with its tokens' logprobs; empty text is sent only when it carries some. */
static void stream_text(struct hr_http_req *r, const char *text, size_t n)
{
    if (!r->sent_role) {
        r->sent_role = true;
        append_sse(r, hr_api_chat_chunk_json(r->cmpl_id, r->created, model_id(r), "assistant",
                                             "", 0, NULL, r->include_usage, NULL));
    }
    if (n || (r->lp_content && json_array_size(r->lp_content)))
        append_sse(r, hr_api_chat_chunk_json(r->cmpl_id, r->created, model_id(r), NULL,
                                             text ? text : "", n, NULL, r->include_usage,
                                             take_logprobs(r)));
}

const char *hr_chat_finish_reason(const struct hr_http_req *r)
{
    return r->n_tool_calls ? "tool_calls" : hr_api_finish_reason(r->finish);
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
static void stream_visible(struct hr_http_req *r, const char *text, size_t n)
{
    if (!r->tools) {
        stream_text(r, text, n);
        return;
    }
    hr_buf_append(&r->tool_held, text, n);
    if (r->tool_holding)
        return;
    const char *held = r->tool_held.ptr;
    size_t len = r->tool_held.len;
    if (r->tool_format == HR_TOOLS_LLAMA3 && !r->tool_emitted) {
        size_t i = 0;
        while (i < len && isspace((unsigned char)held[i]))
            i++;
        if (i == len)
            return; /* only whitespace so far: the answer may still be a call */
        if (held[i] == '{') {
            r->tool_holding = true;
            return;
        }
    }
    const char *mark = hr_api_tool_start(r->tool_format);
    const char *at = len ? memmem(held, len, mark, strlen(mark)) : NULL;
    size_t show = at ? (size_t)(at - held) : len - partial_mark(held, len, mark);
    r->tool_holding = at != NULL;
    if (show) {
        stream_text(r, held, show);
        r->tool_emitted = true;
        memmove(r->tool_held.ptr, held + show, len - show);
        r->tool_held.len = len - show;
    }
}

/* At the end of a stream with tools: the held text as calls (one delta each) and/or text. */
static void stream_tool_flush(struct hr_http_req *r)
{
    if (!r->tools || !r->tool_held.len)
        return;
    char *content = NULL;
    size_t n = 0;
    json_t *calls = hr_api_parse_tool_calls(r->tool_format, r->tool_held.ptr, r->tool_held.len,
                                            r->tools, &content, &n);
    /* a forced answer is only calls: text is a call cut short by max_tokens */
    if (content && !r->tool_forced)
        stream_text(r, content, n);
    if (calls && json_array_size(calls)) {
        r->n_tool_calls = json_array_size(calls);
        append_sse(r, hr_api_chat_tool_chunk_json(r->cmpl_id, r->created, model_id(r), calls,
                                                  r->include_usage));
    }
    json_decref(calls);
    free(content);
    r->tool_held.len = 0;
}

static void stream_finish(struct hr_http_req *r)
{
    stream_tool_flush(r);
    stream_text(r, NULL, 0);
    append_sse(r, hr_api_chat_chunk_json(r->cmpl_id, r->created, model_id(r), NULL, NULL, 0,
                                         hr_chat_finish_reason(r), r->include_usage, NULL));
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
    if (r->in_engine && !r->engine_done && r->srv->engine) {
        r->client_gone = true;
        hr_engine_cancel(r->srv->engine, r->id);
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

void hr_chat_on_event(struct hr_http_req *r, const struct hr_event *ev)
{
    if (ev->kind == HR_EV_TEXT) {
        if (ev->logprob && r->lp_content && !r->http_done) {
            json_t *entry =
                hr_api_logprob_json(hr_engine_model(r->srv->engine)->tok, ev->logprob);
            if (entry)
                json_array_append_new(r->lp_content, entry);
        }
        if (r->stream && r->responded && !r->http_done)
            stream_visible(r, ev->text, ev->n_text);
        else if (r->stream && !r->http_done)
            hr_buf_append(&r->text, ev->text, ev->n_text); /* before the response is queued */
        else if (!r->http_done && hr_buf_append(&r->text, ev->text, ev->n_text) != 0)
            hr_log(HR_LOG_WARN, "chat", "%s: answer longer than the buffer; truncated",
                   r->request_id);
        if (r->stream)
            resume(r);
        return;
    }
    r->engine_done = true;
    hr_chat_stop_hangup(r);
    r->finish = ev->finish;
    r->err = ev->err;
    snprintf(r->err_msg, sizeof r->err_msg, "%s", ev->err_msg);
    r->n_prompt = ev->n_prompt;
    r->n_completion = ev->n_completion;
    r->n_cached = ev->n_cached;
    r->queue_ms = ev->queue_ms;
    r->first_token_ms = ev->first_token_ms;
    hr_server_unlink(r->srv, r);
    if (r->http_done) {
        hr_record_usage(r); /* the client left; the engine has now let go too */
        hr_req_free(r);
        return;
    }
    if (r->stream && r->responded) {
        if (ev->finish == HR_FINISH_ERROR || ev->finish == HR_FINISH_CANCELED) {
            /* Mid-stream failure: OpenAI sends an error object as an event, then ends. */
            struct hr_api_error e;
            hr_api_error_from_engine(&e, ev->err ? ev->err : HR_ECANCELED, ev->err_msg);
            append_sse(r, hr_api_error_json(&e));
            hr_buf_append(&r->out, "data: [DONE]\n\n", 14);
            r->stream_finished = true;
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

enum MHD_Result hr_chat_start(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    struct hr_api_chat_req req;
    if (hr_api_chat_parse(r->body.ptr ? r->body.ptr : "", r->body.len, &req, &e) != 0) {
        hr_api_chat_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    if (strcmp(req.model, s->p.model_id) != 0) {
        hr_api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                         "The model '%.128s' does not exist or you do not have access to it.",
                         req.model);
        hr_api_chat_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    if (s->engine &&
        hr_api_chat_check_vocab(&req, (int32_t)hr_engine_model(s->engine)->n_vocab, &e) != 0) {
        hr_api_chat_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    if (!s->engine) {
        hr_api_chat_req_deinit(&req);
        return hr_respond_shutting_down(r);
    }
    if (req.tools && req.tool_choice != HR_TOOL_CHOICE_NONE) {
        if (s->tool_format == HR_TOOLS_NONE) {
            hr_api_chat_req_deinit(&req);
            return hr_respond_error(
                r, hr_api_error_set(&e, 400, "invalid_request_error", "unsupported_parameter",
                                    "tools", "This model's chat template does not show how it "
                                    "writes tool calls (Hearth reads Hermes/Qwen <tool_call>, "
                                    "Llama 3 JSON and Mistral [TOOL_CALLS] calls); serve it "
                                    "with a --chat-template that has one, or send "
                                    "tool_choice 'none'."));
        }
        r->tools = json_incref(req.tools);
        r->tool_format = s->tool_format;
        r->tool_forced = req.tool_choice == HR_TOOL_CHOICE_REQUIRED ||
                         req.tool_choice == HR_TOOL_CHOICE_NAMED;
    }
    r->stream = req.stream;
    r->include_usage = req.include_usage;
    r->logprobs = req.logprobs;
    r->created = (int64_t)time(NULL);
    hr_random_id("chatcmpl-", r->id, r->cmpl_id, sizeof r->cmpl_id);
    hr_buf_free(&r->body); /* req's own JSON tree holds what is still needed */
    return hr_chat_prep_start(r, &req);
}

enum MHD_Result hr_chat_submit(struct hr_http_req *r, const struct hr_api_chat_req *req,
                               const int32_t *tokens, size_t n_tokens)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    if (!s->engine)
        return hr_respond_shutting_down(r);
    r->lp_content = req->logprobs ? json_array() : NULL;
    struct hr_gen_request g = {0};
    g.id = r->id;
    g.tokens = tokens;
    g.n_tokens = n_tokens;
    g.max_tokens = req->max_tokens;
    g.sampling = req->sampling;
    g.stop = req->stop;
    g.n_stop = req->n_stop;
    g.ignore_eos = req->ignore_eos;
    g.logprobs = req->logprobs;
    g.top_logprobs = req->top_logprobs;
    g.timeout_ms = s->p.request_timeout_ms;
    g.grammar = req->grammar;
    struct hr_diag d = {{0}};
    int rc = hr_engine_submit(s->engine, &g, &d);
    if (rc != 0) {
        hr_api_error_from_engine(&e, rc, d.msg[0] ? d.msg : NULL);
        if (rc == HR_EFULL)
            return hr_respond_error_hdr(r, &e, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        return hr_respond_error(r, &e);
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

/* Called when a suspended chat request is resumed before its response was queued. */
enum MHD_Result hr_chat_resume(struct hr_http_req *r)
{
    struct hr_api_error e;
    if (r->engine_done && (r->finish == HR_FINISH_ERROR || r->finish == HR_FINISH_CANCELED)) {
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
        struct hr_api_usage u = {r->n_prompt, r->n_completion, r->n_cached};
        if (r->tools) {
            char *content = NULL;
            size_t n = 0;
            json_t *calls = hr_api_parse_tool_calls(r->tool_format, r->text.ptr ? r->text.ptr : "",
                                                    r->text.len, r->tools, &content, &n);
            r->n_tool_calls = calls ? json_array_size(calls) : 0;
            char *json = NULL;
            if (r->n_tool_calls)
                json = hr_api_chat_completion_tools_json(r->cmpl_id, r->created, model_id(r),
                                                         n && !r->tool_forced ? content : NULL,
                                                         n, calls, &u);
            else
                json_decref(calls);
            free(content);
            if (json)
                return hr_respond_json(r, 200, json);
        }
        return hr_respond_json(
            r, 200,
            hr_api_chat_completion_json(r->cmpl_id, r->created, model_id(r),
                                        r->text.ptr ? r->text.ptr : "", r->text.len,
                                        hr_api_finish_reason(r->finish), &u,
                                        take_logprobs(r)));
    }
    /* First event of a stream: the status is now known to be 200; from here MHD writes to
     * the socket and notices a hang-up itself. */
    hr_chat_stop_hangup(r);
    stream_visible(r, r->text.ptr, r->text.len);
    hr_buf_free(&r->text);
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
