/* Chat completion responses in OpenAI's exact shapes: the `chat.completion` object, the
 * `chat.completion.chunk` objects of a stream (first with the role, then content deltas, then
 * an empty delta with finish_reason, then optionally the usage chunk with "choices": []), and
 * the model list. Loop thread. */
#include "api.h"
#include "api_int.h"
#include "json_text.h"

#include <stdlib.h>
#include <string.h>

json_t *hr_api__usage_obj(const struct hr_api_usage *u)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "prompt_tokens", json_integer(u->prompt_tokens));
    json_object_set_new(o, "completion_tokens", json_integer(u->completion_tokens));
    json_object_set_new(o, "total_tokens",
                        json_integer((json_int_t)u->prompt_tokens + u->completion_tokens));
    json_t *details = json_object();
    json_object_set_new(details, "cached_tokens", json_integer(u->cached_tokens));
    json_object_set_new(o, "prompt_tokens_details", details);
    return o;
}

json_t *hr_api__envelope(const char *id, const char *object, int64_t created, const char *model)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "object", json_string(object));
    json_object_set_new(o, "created", json_integer(created));
    json_object_set_new(o, "model", hr_api_json_text(model, strlen(model)));
    json_object_set_new(o, "system_fingerprint", json_string(hr_api_system_fingerprint()));
    return o;
}

char *hr_api__dump(json_t *o)
{
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

const char *hr_api_finish_reason(enum hr_finish f)
{
    return f == HR_FINISH_LENGTH ? "length" : "stop";
}

/* {"content": [...], "refusal": null} or null. */
static json_t *logprobs_obj(json_t *take)
{
    if (!take)
        return json_null();
    json_t *o = json_object();
    if (!o) {
        json_decref(take);
        return NULL;
    }
    json_object_set_new(o, "content", take);
    json_object_set_new(o, "refusal", json_null());
    return o;
}

static json_t *token_obj(const struct hr_tok *tok, int32_t id, float logprob)
{
    char buf[HR_TOK_MAX_PIECE];
    size_t n = hr_tok_token_bytes(tok, id, true, buf, sizeof buf);
    if (n > sizeof buf)
        n = 0;
    json_t *o = json_object();
    json_t *bytes = json_array();
    if (!o || !bytes) {
        json_decref(o);
        json_decref(bytes);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(bytes, json_integer((unsigned char)buf[i]));
    json_object_set_new(o, "token", hr_api_json_text(buf, n));
    /* -inf (a token the model rules out) has no JSON form; OpenAI floors at -9999 */
    json_object_set_new(o, "logprob", json_real(logprob > -9999.0f ? logprob : -9999.0));
    json_object_set_new(o, "bytes", bytes);
    return o;
}

json_t *hr_api_logprob_json(const struct hr_tok *tok, const struct hr_token_logprob *lp)
{
    json_t *o = token_obj(tok, lp->token, lp->logprob);
    json_t *top = json_array();
    if (!o || !top) {
        json_decref(o);
        json_decref(top);
        return NULL;
    }
    for (uint32_t i = 0; i < lp->n_top; i++)
        json_array_append_new(top, token_obj(tok, lp->top[i].token, lp->top[i].logprob));
    json_object_set_new(o, "top_logprobs", top);
    return o;
}

json_t *hr_api_chat_choice_json(uint32_t index, const char *content, size_t n_content,
                                const char *finish_reason, json_t *take_logprobs,
                                json_t *take_calls)
{
    json_t *msg = json_object();
    json_t *choice = json_object();
    if (!msg || !choice) {
        json_decref(msg);
        json_decref(choice);
        json_decref(take_logprobs);
        json_decref(take_calls);
        return NULL;
    }
    json_object_set_new(msg, "role", json_string("assistant"));
    json_object_set_new(msg, "content",
                        content ? hr_api_json_text(content, n_content) : json_null());
    json_object_set_new(msg, "refusal", json_null());
    if (take_calls)
        json_object_set_new(msg, "tool_calls", take_calls);
    json_object_set_new(choice, "index", json_integer(index));
    json_object_set_new(choice, "message", msg);
    json_object_set_new(choice, "logprobs", logprobs_obj(take_logprobs));
    json_object_set_new(choice, "finish_reason",
                        json_string(take_calls ? "tool_calls" : finish_reason));
    return choice;
}

char *hr_api__choices_json(const char *id, const char *object, int64_t created,
                           const char *model, json_t *take_choices,
                           const struct hr_api_usage *u)
{
    json_t *o = hr_api__envelope(id, object, created, model);
    if (!o || !take_choices) {
        json_decref(o);
        json_decref(take_choices);
        return NULL;
    }
    json_object_set_new(o, "choices", take_choices);
    json_object_set_new(o, "usage", hr_api__usage_obj(u));
    return hr_api__dump(o);
}

char *hr_api_chat_completion_choices_json(const char *id, int64_t created, const char *model,
                                          json_t *take_choices, const struct hr_api_usage *u)
{
    return hr_api__choices_json(id, "chat.completion", created, model, take_choices, u);
}

char *hr_api_chat_completion_json(const char *id, int64_t created, const char *model,
                                  const char *content, size_t n_content,
                                  const char *finish_reason, const struct hr_api_usage *u,
                                  json_t *take_logprobs)
{
    json_t *choices = json_array();
    if (choices)
        json_array_append_new(choices, hr_api_chat_choice_json(0, content, n_content,
                                                               finish_reason, take_logprobs,
                                                               NULL));
    else
        json_decref(take_logprobs);
    return hr_api_chat_completion_choices_json(id, created, model, choices, u);
}

char *hr_api_chat_completion_tools_json(const char *id, int64_t created, const char *model,
                                        const char *content, size_t n_content,
                                        json_t *take_calls, const struct hr_api_usage *u)
{
    json_t *choices = json_array();
    if (choices)
        json_array_append_new(choices, hr_api_chat_choice_json(0, content, n_content, NULL,
                                                               NULL, take_calls));
    else
        json_decref(take_calls);
    return hr_api_chat_completion_choices_json(id, created, model, choices, u);
}

/* A chunk object of choice `index` (see hr_api_chat_chunk_json); NULL without memory. */
static json_t *chunk_obj(const char *id, int64_t created, const char *model, uint32_t index,
                         const char *role, const char *content, size_t n_content,
                         const char *finish_reason, bool with_usage_null, json_t *take_logprobs)
{
    json_t *o = hr_api__envelope(id, "chat.completion.chunk", created, model);
    json_t *delta = json_object();
    json_t *choice = json_object();
    json_t *choices = json_array();
    if (!o || !delta || !choice || !choices) {
        json_decref(o);
        json_decref(delta);
        json_decref(choice);
        json_decref(choices);
        json_decref(take_logprobs);
        return NULL;
    }
    if (role)
        json_object_set_new(delta, "role", json_string(role));
    if (content)
        json_object_set_new(delta, "content", hr_api_json_text(content, n_content));
    json_object_set_new(choice, "index", json_integer(index));
    json_object_set_new(choice, "delta", delta);
    json_object_set_new(choice, "logprobs", logprobs_obj(take_logprobs));
    json_object_set_new(choice, "finish_reason",
                        finish_reason ? json_string(finish_reason) : json_null());
    json_array_append_new(choices, choice);
    json_object_set_new(o, "choices", choices);
    if (with_usage_null)
        json_object_set_new(o, "usage", json_null());
    return o;
}

char *hr_api_chat_chunk_json(const char *id, int64_t created, const char *model,
                             uint32_t index, const char *role, const char *content,
                             size_t n_content, const char *finish_reason, bool with_usage_null,
                             json_t *take_logprobs)
{
    return hr_api__dump(chunk_obj(id, created, model, index, role, content, n_content, finish_reason,
                          with_usage_null, take_logprobs));
}

char *hr_api_chat_tool_chunk_json(const char *id, int64_t created, const char *model,
                                  uint32_t index, const json_t *calls, bool with_usage_null)
{
    json_t *o = chunk_obj(id, created, model, index, NULL, NULL, 0, NULL, with_usage_null,
                          NULL);
    json_t *delta = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "delta");
    json_t *list = json_array();
    if (!delta || !list) {
        json_decref(o);
        json_decref(list);
        return NULL;
    }
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c)
    {
        json_t *d = json_deep_copy(c);
        json_object_set_new(d, "index", json_integer((json_int_t)i));
        json_array_append_new(list, d);
    }
    json_object_set_new(delta, "tool_calls", list);
    return hr_api__dump(o);
}

char *hr_api_chat_usage_chunk_json(const char *id, int64_t created, const char *model,
                                   const struct hr_api_usage *u)
{
    return hr_api__choices_json(id, "chat.completion.chunk", created, model, json_array(), u);
}

static json_t *model_obj(const struct hr_api_model_info *m)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", hr_api_json_text(m->id, strlen(m->id)));
    json_object_set_new(o, "object", json_string("model"));
    json_object_set_new(o, "created", json_integer(m->created));
    json_object_set_new(o, "owned_by", json_string(m->owned_by));
    /* Extensions, in the fields llama.cpp and vLLM clients already look for. */
    json_object_set_new(o, "context_length", json_integer(m->context_length));
    if (m->quantization)
        json_object_set_new(o, "quantization", json_string(m->quantization));
    if (m->description)
        json_object_set_new(o, "description",
                            hr_api_json_text(m->description, strlen(m->description)));
    /* Provenance: which bytes exactly are being run (null until the digest is computed). */
    json_object_set_new(o, "sha256", m->sha256 ? json_string(m->sha256) : json_null());
    if (m->status)
        json_object_set_new(o, "status", json_string(m->status));
    if (m->parallel)
        json_object_set_new(o, "parallel", json_integer(m->parallel));
    return o;
}

char *hr_api_model_json(const struct hr_api_model_info *m)
{
    return hr_api__dump(model_obj(m));
}

char *hr_api_models_json(const struct hr_api_model_info *models, size_t n)
{
    json_t *o = json_object();
    json_t *data = json_array();
    if (!o || !data) {
        json_decref(o);
        json_decref(data);
        return NULL;
    }
    json_object_set_new(o, "object", json_string("list"));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, model_obj(&models[i]));
    json_object_set_new(o, "data", data);
    return hr_api__dump(o);
}
