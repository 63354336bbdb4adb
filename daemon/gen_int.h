/* The answers that share chat completions' machinery (choices, engine events, streaming,
 * cancellation, usage: chat_route.c) but not its shapes: legacy completions
 * (completion_route.c) and the Responses API (responses_route.c). A request of either kind
 * carries its formatter and data (r->fmt, r->gen). Loop thread. */
#ifndef HR_GEN_INT_H
#define HR_GEN_INT_H

#include "server_int.h"

/* Called by chat_route.c where chat writes its own shapes. */
struct hr_gen_format {
    /* The param that errors about the prompt name ("prompt", "input"). */
    const char *prompt_param;
    /* The first bytes of a stream, once its status is known to be 200 (NULL: none). */
    void (*stream_start)(struct hr_http_req *r);
    /* New text of choice c (text may be NULL with n 0: only pending logprobs, or the
     * choice's end). */
    void (*stream_text)(struct hr_http_req *r, struct hr_choice *c, const char *text,
                        size_t n);
    /* The tool calls parsed from choice c's held-back text (hr_api_parse_tool_calls' array,
     * borrowed), after its visible text; NULL for kinds without tools. */
    void (*stream_calls)(struct hr_http_req *r, struct hr_choice *c, const json_t *calls);
    /* Choice c has ended (its finish is set). */
    void (*stream_choice_end)(struct hr_http_req *r, struct hr_choice *c);
    /* Every choice has ended: the stream's last bytes; sets r->stream_finished. */
    void (*stream_end)(struct hr_http_req *r);
    /* The engine failed after the stream began; sets r->stream_finished. */
    void (*stream_error)(struct hr_http_req *r, const struct hr_api_error *e);
    /* The non-streaming answer (malloc'd JSON; NULL without memory). */
    char *(*answer_json)(struct hr_http_req *r);
};

/* What a completion or response request keeps beyond the choices. */
struct hr_gen_data {
    /* completions: echo's text per prompt (malloc'd, n_prompts of each) */
    bool echo;
    size_t n_prompts;
    char **echo_text;
    size_t *echo_len;
    /* responses */
    json_t *resp_echo;    /* the request fields the response object repeats (owned) */
    char msg_id[48];      /* the output message's id */
    uint64_t seq;         /* the next event's sequence_number */
    struct hr_buf stream_text; /* the streamed text, repeated by the done events */
    bool msg_open, msg_closed; /* stream: the message item's added / done events are out */
    json_t *calls;             /* the answer's tool calls (owned), NULL: none */
};

void hr_gen_data_free(struct hr_gen_data *g);

/* chat_route.c: appends one SSE event (event NULL: a bare "data:" line, as chat and
 * completions send) of json (malloc'd, freed here). */
int hr_gen_append_sse(struct hr_http_req *r, const char *event, char *json);
/* Choice c's logprobs entries gathered so far, handed over (NULL when logprobs are off). */
json_t *hr_gen_take_logprobs(struct hr_http_req *r, struct hr_choice *c);
/* The offered tools into r (parsed for calls in the answer) unless tool_choice is none;
 * false with a 400 naming tools when the model's template has no call format Hearth reads. */
bool hr_chat_take_tools(struct hr_http_req *r, const struct hr_api_chat_req *req,
                        struct hr_api_error *e);
/* Submits n_prompts prompts, each for r->n_per_prompt consecutive choices. */
enum MHD_Result hr_gen_submit_prompts(struct hr_http_req *r, const struct hr_api_chat_req *req,
                                      int32_t *const *tokens, const size_t *n_tokens,
                                      size_t n_prompts);
/* chat_prep.c: tokenizes a completion's prompts (and renders its echo text) on the pool,
 * then submits; takes req (moved). */
enum MHD_Result hr_gen_prep_prompts(struct hr_http_req *r,
                                    struct hr_api_completion_req *take_req);

#endif
