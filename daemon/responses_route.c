/* POST /v1/responses (OpenAI's Responses API) on the loop: validate (api/), render and
 * tokenize the conversation on the pool as chat does (chat_prep.c), let chat_route.c run the
 * one choice, and write it as a `response` object or as the typed event stream drawn atop
 * api/responses_response.c; with tools, the answer is parsed for calls (held back while
 * streaming, as chat does) that become function_call items. Nothing is stored:
 * previous_response_id is refused. Loop thread. */
#include "gen_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "completed", or "incomplete" when max_output_tokens (or the context) cut the answer. */
static const char *status_of(const struct hr_http_req *r)
{
    return r->ch[0].finish == HR_FINISH_LENGTH ? "incomplete" : "completed";
}

/* The response object. Output: the message when text is not NULL, then the calls; usage
 * once it is done. */
static json_t *response(struct hr_http_req *r, const char *status, const char *text,
                        size_t n_text, const json_t *calls)
{
    struct hr_api_usage u = {r->n_prompt, r->n_completion, r->n_cached};
    struct hr_api_response_info ri = {
        .id = r->cmpl_id,
        .created_at = r->created,
        .model = r->model->id,
        .status = status,
        .msg_id = r->gen->msg_id,
        .text = text,
        .n_text = n_text,
        .calls = calls,
        .u = strcmp(status, "in_progress") != 0 ? &u : NULL,
        .echo = r->gen->resp_echo,
    };
    return hr_api_response_obj(&ri);
}

static void event(struct hr_http_req *r, const char *type, char *json)
{
    hr_gen_append_sse(r, type, json);
}

/* Sequence numbers count every event in the order written. */
static uint64_t next_seq(struct hr_http_req *r)
{
    return r->gen->seq++;
}

static void stream_start(struct hr_http_req *r)
{
    static const char *const opening[] = {"response.created", "response.in_progress"};
    for (size_t i = 0; i < 2; i++)
        event(r, opening[i],
              hr_api_response_event_json(opening[i], next_seq(r), "response",
                                         response(r, "in_progress", NULL, 0, NULL)));
}

/* The message item opens with its first text, so an answer that is only tool calls has
 * none. */
static void open_message(struct hr_http_req *r)
{
    struct hr_gen_data *g = r->gen;
    if (g->msg_open)
        return;
    g->msg_open = true;
    event(r, "response.output_item.added",
          hr_api_response_item_event_json(
              "response.output_item.added", next_seq(r), 0,
              hr_api_response_message_json(g->msg_id, "in_progress", NULL, 0)));
    event(r, "response.content_part.added",
          hr_api_response_part_event_json("response.content_part.added", next_seq(r),
                                          g->msg_id, "part",
                                          hr_api_response_text_part_json("", 0)));
}

static void close_message(struct hr_http_req *r)
{
    struct hr_gen_data *g = r->gen;
    if (!g->msg_open || g->msg_closed)
        return;
    g->msg_closed = true;
    const char *text = g->stream_text.ptr ? g->stream_text.ptr : "";
    size_t n = g->stream_text.len;
    event(r, "response.output_text.done",
          hr_api_response_text_event_json("response.output_text.done", next_seq(r), g->msg_id,
                                          "text", text, n));
    event(r, "response.content_part.done",
          hr_api_response_part_event_json("response.content_part.done", next_seq(r), g->msg_id,
                                          "part", hr_api_response_text_part_json(text, n)));
    event(r, "response.output_item.done",
          hr_api_response_item_event_json(
              "response.output_item.done", next_seq(r), 0,
              hr_api_response_message_json(g->msg_id, status_of(r), text, n)));
}

static void stream_text(struct hr_http_req *r, struct hr_choice *c, const char *text, size_t n)
{
    (void)c;
    if (!n)
        return;
    open_message(r);
    if (hr_buf_append(&r->gen->stream_text, text, n) != 0)
        hr_log(HR_LOG_WARN, "responses", "%s: answer longer than the buffer; truncated",
               r->request_id);
    event(r, "response.output_text.delta",
          hr_api_response_text_event_json("response.output_text.delta", next_seq(r),
                                          r->gen->msg_id, "delta", text, n));
}

/* Each call as one item whose arguments arrive in one delta (they are parsed whole). */
static void stream_calls(struct hr_http_req *r, struct hr_choice *c, const json_t *calls)
{
    struct hr_gen_data *g = r->gen;
    (void)c;
    close_message(r);
    json_decref(g->calls);
    g->calls = json_deep_copy(calls);
    uint32_t base = g->msg_open ? 1 : 0;
    size_t i;
    json_t *call;
    json_array_foreach(g->calls, i, call)
    {
        uint32_t at = base + (uint32_t)i;
        char id[96];
        hr_api_response_call_id(call, id, sizeof id);
        const char *args =
            json_string_value(json_object_get(json_object_get(call, "function"), "arguments"));
        event(r, "response.output_item.added",
              hr_api_response_item_event_json("response.output_item.added", next_seq(r), at,
                                              hr_api_response_call_json(call, "in_progress",
                                                                        false)));
        event(r, "response.function_call_arguments.delta",
              hr_api_response_args_event_json("response.function_call_arguments.delta",
                                              next_seq(r), id, at, "delta", args ? args : ""));
        event(r, "response.function_call_arguments.done",
              hr_api_response_args_event_json("response.function_call_arguments.done",
                                              next_seq(r), id, at, "arguments",
                                              args ? args : ""));
        event(r, "response.output_item.done",
              hr_api_response_item_event_json("response.output_item.done", next_seq(r), at,
                                              hr_api_response_call_json(call, status_of(r),
                                                                        true)));
    }
}

static void stream_choice_end(struct hr_http_req *r, struct hr_choice *c)
{
    (void)c;
    if (!r->gen->calls)
        open_message(r); /* an empty answer is still a message */
    close_message(r);
}

static void stream_end(struct hr_http_req *r)
{
    struct hr_gen_data *g = r->gen;
    const char *status = status_of(r);
    const char *type = strcmp(status, "completed") == 0 ? "response.completed"
                                                        : "response.incomplete";
    const char *text = g->msg_open ? (g->stream_text.ptr ? g->stream_text.ptr : "") : NULL;
    event(r, type,
          hr_api_response_event_json(type, next_seq(r), "response",
                                     response(r, status, text, g->stream_text.len, g->calls)));
    r->stream_finished = true;
}

static void stream_error(struct hr_http_req *r, const struct hr_api_error *e)
{
    event(r, "error", hr_api_response_error_event_json(next_seq(r), e));
    r->stream_finished = true;
}

/* The whole answer; with tools, the text is parsed for calls (what remains is the message,
 * which a forced call's answer never has). */
static char *answer_json(struct hr_http_req *r)
{
    struct hr_choice *c = &r->ch[0];
    const char *text = c->text.ptr ? c->text.ptr : "";
    size_t n = c->text.len;
    json_t *calls = NULL;
    char *content = NULL;
    if (r->tools) {
        calls = hr_api_parse_tool_calls(r->tool_format, text, n, r->tools, &content, &n);
        if (calls && !json_array_size(calls)) {
            json_decref(calls);
            calls = NULL;
        }
        if (calls) {
            c->n_tool_calls = json_array_size(calls);
            text = n && !r->tool_forced ? content : NULL;
        } else {
            text = c->text.ptr ? c->text.ptr : "";
            n = c->text.len;
        }
    }
    json_t *o = response(r, status_of(r), text, n, calls);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    json_decref(calls);
    free(content);
    return s;
}

static const struct hr_gen_format responses_format = {
    .prompt_param = "input",
    .stream_start = stream_start,
    .stream_text = stream_text,
    .stream_calls = stream_calls,
    .stream_choice_end = stream_choice_end,
    .stream_end = stream_end,
    .stream_error = stream_error,
    .answer_json = answer_json,
};

enum MHD_Result hr_responses_start(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    struct hr_api_responses_req req;
    if (hr_api_responses_parse(r->body.ptr ? r->body.ptr : "", r->body.len, &req, &e) != 0) {
        hr_api_responses_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    enum MHD_Result ret;
    if (!hr_model_acquire(r, req.base.model, &ret)) {
        hr_api_responses_req_deinit(&req);
        return ret;
    }
    hr_req_set_user(r, req.base.user);
    if (!hr_chat_take_tools(r, &req.base, &e)) {
        hr_api_responses_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    r->gen = calloc(1, sizeof *r->gen);
    r->ch = r->gen ? calloc(1, sizeof *r->ch) : NULL;
    if (!r->ch) {
        hr_api_responses_req_deinit(&req);
        hr_gen_free(r);
        return hr_respond_error(r, hr_api_error_set(&e, 500, "server_error", NULL, NULL,
                                                    "out of memory"));
    }
    r->fmt = &responses_format;
    r->gen->resp_echo = req.echo; /* moved */
    req.echo = NULL;
    r->gen->stream_text.max = HR_MAX_PROMPT_BYTES;
    r->stream = req.base.stream;
    r->created = (int64_t)time(NULL);
    r->n_choices = 1;
    r->ch[0].text.max = HR_MAX_PROMPT_BYTES;
    r->ch[0].tool_held.max = HR_MAX_PROMPT_BYTES; /* stream: text held while a call may start */
    r->id = s->next_id++;
    hr_random_id("resp_", r->id, r->cmpl_id, sizeof r->cmpl_id);
    hr_random_id("msg_", r->id, r->gen->msg_id, sizeof r->gen->msg_id);
    hr_buf_free(&r->body);
    /* the chat request inside moves to the pool's work, which frees it */
    struct hr_api_chat_req base = req.base;
    memset(&req.base, 0, sizeof req.base);
    return hr_chat_prep_start(r, &base);
}
