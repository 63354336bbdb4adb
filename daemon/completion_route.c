/* POST /v1/completions (OpenAI's legacy text completion) on the loop: validate (api/), hand the
 * raw prompts to the pool for tokenizing (chat_prep.c), then let chat_route.c run the choices
 * while this file writes them in the legacy shapes: one `text_completion` object, or SSE
 * chunks of the same object ("data: " JSON "\n\n" per chunk, each choice's end in a chunk
 * with its finish_reason, the usage chunk with "choices": [] under include_usage, then
 * "data: [DONE]\n\n"). Prompt i's choices are i * n .. i * n + n - 1. Loop thread. */
#include "gen_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void hr_gen_data_free(struct hr_gen_data *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->echo_text && i < g->n_prompts; i++)
        free(g->echo_text[i]);
    free(g->echo_text);
    free(g->echo_len);
    json_decref(g->resp_echo);
    json_decref(g->calls);
    hr_buf_free(&g->stream_text);
    free(g);
}

void hr_gen_free(struct hr_http_req *r)
{
    hr_gen_data_free(r->gen);
    r->gen = NULL;
}

static uint32_t index_of(const struct hr_http_req *r, const struct hr_choice *c)
{
    return (uint32_t)(c - r->ch);
}

/* The echo of choice c's prompt, or "" (length in *n). */
static const char *echo_of(const struct hr_http_req *r, const struct hr_choice *c, size_t *n)
{
    const struct hr_gen_data *g = r->gen;
    size_t p = index_of(r, c) / r->n_per_prompt;
    *n = 0;
    if (!g->echo || !g->echo_text || p >= g->n_prompts || !g->echo_text[p])
        return "";
    *n = g->echo_len[p];
    return g->echo_text[p];
}

/* Choice c's pending logprobs in the legacy shape (NULL: logprobs off). */
static json_t *legacy_logprobs(struct hr_http_req *r, struct hr_choice *c)
{
    json_t *entries = hr_gen_take_logprobs(r, c);
    if (!entries)
        return NULL;
    json_t *lp = hr_api_completion_logprobs_json(entries, &c->text_offset);
    json_decref(entries);
    return lp;
}

static void chunk(struct hr_http_req *r, struct hr_choice *c, const char *text, size_t n,
                  const char *finish, json_t *take_lp)
{
    json_t *choice = hr_api_completion_choice_json(index_of(r, c), text, n, finish, take_lp);
    hr_gen_append_sse(r, NULL,
                      hr_api_completion_chunk_json(r->cmpl_id, r->created, r->model->id, choice,
                                                   r->include_usage));
}

/* sent_role marks a choice's first chunk, which carries the echoed prompt. */
static void stream_text(struct hr_http_req *r, struct hr_choice *c, const char *text, size_t n)
{
    if (!c->sent_role) {
        c->sent_role = true;
        size_t n_echo = 0;
        const char *echo = echo_of(r, c, &n_echo);
        if (n_echo)
            chunk(r, c, echo, n_echo, NULL, NULL);
    }
    if (n || (c->lp_content && json_array_size(c->lp_content)))
        chunk(r, c, text, n, NULL, legacy_logprobs(r, c));
}

static void stream_choice_end(struct hr_http_req *r, struct hr_choice *c)
{
    chunk(r, c, "", 0, hr_api_finish_reason(c->finish), NULL);
}

static void stream_end(struct hr_http_req *r)
{
    if (r->include_usage) {
        struct hr_api_usage u = {r->n_prompt, r->n_completion, r->n_cached};
        hr_gen_append_sse(r, NULL,
                          hr_api_completion_usage_chunk_json(r->cmpl_id, r->created,
                                                             r->model->id, &u));
    }
    hr_buf_append(&r->out, "data: [DONE]\n\n", 14);
    r->stream_finished = true;
}

static char *answer_json(struct hr_http_req *r)
{
    json_t *choices = json_array();
    for (uint32_t k = 0; choices && k < r->n_choices; k++) {
        struct hr_choice *c = &r->ch[k];
        size_t n_echo = 0;
        const char *echo = echo_of(r, c, &n_echo);
        size_t n = n_echo + c->text.len;
        char *text = malloc(n + 1);
        if (text) {
            memcpy(text, echo, n_echo);
            if (c->text.len)
                memcpy(text + n_echo, c->text.ptr, c->text.len);
            text[n] = '\0';
        }
        json_t *choice =
            text ? hr_api_completion_choice_json(k, text, n, hr_api_finish_reason(c->finish),
                                                 legacy_logprobs(r, c))
                 : NULL;
        free(text);
        if (json_array_append_new(choices, choice) != 0) {
            json_decref(choices);
            choices = NULL;
        }
    }
    struct hr_api_usage u = {r->n_prompt, r->n_completion, r->n_cached};
    return hr_api_completion_json(r->cmpl_id, r->created, r->model->id, choices, &u);
}

static const struct hr_gen_format completion_format = {
    .prompt_param = "prompt",
    .stream_start = NULL,
    .stream_text = stream_text,
    .stream_choice_end = stream_choice_end,
    .stream_end = stream_end,
    .stream_error = NULL, /* chat's: the error object as a data line, then [DONE] */
    .answer_json = answer_json,
};

enum MHD_Result hr_completion_start(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    struct hr_api_completion_req req;
    if (hr_api_completion_parse(r->body.ptr ? r->body.ptr : "", r->body.len, &req, &e) != 0) {
        hr_api_completion_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    enum MHD_Result ret;
    if (!hr_model_acquire(r, req.base.model, &ret)) {
        hr_api_completion_req_deinit(&req);
        return ret;
    }
    hr_req_set_user(r, req.base.user);
    int32_t n_vocab = (int32_t)hr_engine_model(r->model->engine)->n_vocab;
    uint32_t n_choices = (uint32_t)req.n_prompts * req.base.n;
    if (hr_api_completion_check_vocab(&req, n_vocab, &e) != 0) {
        hr_api_completion_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    r->gen = calloc(1, sizeof *r->gen);
    r->ch = r->gen ? calloc(n_choices, sizeof *r->ch) : NULL;
    if (!r->ch) {
        hr_api_completion_req_deinit(&req);
        hr_gen_free(r);
        return hr_respond_error(r, hr_api_error_set(&e, 500, "server_error", NULL, NULL,
                                                    "out of memory"));
    }
    r->fmt = &completion_format;
    r->stream = req.base.stream;
    r->include_usage = req.base.include_usage;
    r->logprobs = req.base.logprobs;
    r->created = (int64_t)time(NULL);
    r->n_choices = n_choices;
    r->n_per_prompt = req.base.n;
    for (uint32_t k = 0; k < n_choices; k++)
        r->ch[k].text.max = HR_MAX_PROMPT_BYTES;
    /* one engine id per choice, consecutive across the prompts */
    r->id = s->next_id;
    s->next_id += n_choices;
    hr_random_id("cmpl-", r->id, r->cmpl_id, sizeof r->cmpl_id);
    hr_buf_free(&r->body);
    return hr_gen_prep_prompts(r, &req);
}
