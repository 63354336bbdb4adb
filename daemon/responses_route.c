/* POST /v1/responses (OpenAI's Responses API) on the loop: validate (api/), render and
 * tokenize the conversation on the pool as chat does (chat_prep.c), let chat_route.c run the
 * one choice, and write it as a `response` object or as the typed event stream drawn atop
 * api/responses_response.c. Nothing is stored: previous_response_id is refused. Loop
 * thread. */
#include "gen_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "completed", or "incomplete" when max_output_tokens (or the context) cut the answer. */
static const char *status_of(const struct hr_http_req *r)
{
    return r->ch[0].finish == HR_FINISH_LENGTH ? "incomplete" : "completed";
}

/* The response object: text NULL while in progress (no output, no usage). */
static json_t *response(struct hr_http_req *r, const char *status, const char *text,
                        size_t n_text)
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
        .u = text ? &u : NULL,
        .echo = r->gen->resp_echo,
    };
    return hr_api_response_obj(&ri);
}

/* Appends one typed event; its sequence number is taken here, so the numbers count every
 * event written, in order. */
static void event(struct hr_http_req *r, const char *type, char *json)
{
    hr_gen_append_sse(r, type, json);
}

static uint64_t next_seq(struct hr_http_req *r)
{
    return r->gen->seq++;
}

static void stream_start(struct hr_http_req *r)
{
    struct hr_gen_data *g = r->gen;
    static const char *const opening[] = {"response.created", "response.in_progress"};
    for (size_t i = 0; i < 2; i++)
        event(r, opening[i],
              hr_api_response_event_json(opening[i], next_seq(r), "response",
                                         response(r, "in_progress", NULL, 0)));
    event(r, "response.output_item.added",
          hr_api_response_item_event_json(
              "response.output_item.added", next_seq(r),
              hr_api_response_message_json(g->msg_id, "in_progress", NULL, 0)));
    event(r, "response.content_part.added",
          hr_api_response_part_event_json("response.content_part.added", next_seq(r),
                                          g->msg_id, "part",
                                          hr_api_response_text_part_json("", 0)));
}

static void stream_text(struct hr_http_req *r, struct hr_choice *c, const char *text, size_t n)
{
    (void)c;
    if (!n)
        return;
    if (hr_buf_append(&r->gen->stream_text, text, n) != 0)
        hr_log(HR_LOG_WARN, "responses", "%s: answer longer than the buffer; truncated",
               r->request_id);
    event(r, "response.output_text.delta",
          hr_api_response_text_event_json("response.output_text.delta", next_seq(r),
                                          r->gen->msg_id, "delta", text, n));
}

static void stream_choice_end(struct hr_http_req *r, struct hr_choice *c)
{
    struct hr_gen_data *g = r->gen;
    const char *text = g->stream_text.ptr ? g->stream_text.ptr : "";
    size_t n = g->stream_text.len;
    (void)c;
    event(r, "response.output_text.done",
          hr_api_response_text_event_json("response.output_text.done", next_seq(r), g->msg_id,
                                          "text", text, n));
    event(r, "response.content_part.done",
          hr_api_response_part_event_json("response.content_part.done", next_seq(r), g->msg_id,
                                          "part", hr_api_response_text_part_json(text, n)));
    event(r, "response.output_item.done",
          hr_api_response_item_event_json(
              "response.output_item.done", next_seq(r),
              hr_api_response_message_json(g->msg_id, status_of(r), text, n)));
}

static void stream_end(struct hr_http_req *r)
{
    struct hr_gen_data *g = r->gen;
    const char *status = status_of(r);
    const char *type = strcmp(status, "completed") == 0 ? "response.completed"
                                                        : "response.incomplete";
    event(r, type,
          hr_api_response_event_json(type, next_seq(r), "response",
                                     response(r, status, g->stream_text.ptr
                                                             ? g->stream_text.ptr
                                                             : "",
                                              g->stream_text.len)));
    r->stream_finished = true;
}

static void stream_error(struct hr_http_req *r, const struct hr_api_error *e)
{
    event(r, "error", hr_api_response_error_event_json(next_seq(r), e));
    r->stream_finished = true;
}

static char *answer_json(struct hr_http_req *r)
{
    struct hr_choice *c = &r->ch[0];
    json_t *o = response(r, status_of(r), c->text.ptr ? c->text.ptr : "", c->text.len);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static const struct hr_gen_format responses_format = {
    .prompt_param = "input",
    .stream_start = stream_start,
    .stream_text = stream_text,
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
    r->id = s->next_id++;
    hr_random_id("resp_", r->id, r->cmpl_id, sizeof r->cmpl_id);
    hr_random_id("msg_", r->id, r->gen->msg_id, sizeof r->gen->msg_id);
    hr_buf_free(&r->body);
    /* the chat request inside moves to the pool's work, which frees it */
    struct hr_api_chat_req base = req.base;
    memset(&req.base, 0, sizeof req.base);
    return hr_chat_prep_start(r, &base);
}
