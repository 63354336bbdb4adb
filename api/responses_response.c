/* Responses API answers in OpenAI's shapes: the `response` object (one output message of one
 * output_text part, the usage as input/output tokens, the request's fields repeated) and the
 * typed events of a stream. Each event goes out as "event: <type>\n" "data: " JSON "\n\n",
 * the JSON carrying the same type and a sequence_number counting from 0:
 *   response.created, response.in_progress        {response} (in progress, no output)
 *   response.output_item.added                    {output_index, item} (empty content)
 *   response.content_part.added                   {item_id, output_index, content_index, part}
 *   response.output_text.delta ...                {..., delta, logprobs}
 *   response.output_text.done                     {..., text, logprobs}
 *   response.content_part.done                    {..., part}
 *   response.output_item.done                     {output_index, item}
 * then per function call (output_index after the message, if there is one):
 *   response.output_item.added                    {output_index, item} (arguments "")
 *   response.function_call_arguments.delta        {item_id, output_index, delta}
 *   response.function_call_arguments.done         {item_id, output_index, arguments}
 *   response.output_item.done                     {output_index, item}
 * and last:
 *   response.completed | response.incomplete      {response} (the whole object)
 * The message's events come only when there is text (or no call at all).
 * A failure after the stream began is an `error` event {code, message, param}. Loop thread
 * (pure functions). */
#include "api.h"
#include "api_int.h"
#include "json_text.h"

#include <string.h>

void hr_api_response_call_id(const json_t *call, char *out, size_t cap)
{
    const char *id = json_string_value(json_object_get(call, "id"));
    if (!id)
        id = "";
    if (strncmp(id, "call_", 5) == 0)
        id += 5;
    snprintf(out, cap, "fc_%s", id);
}

json_t *hr_api_response_call_json(const json_t *call, const char *status, bool with_arguments)
{
    const json_t *fn = json_object_get(call, "function");
    const char *name = json_string_value(json_object_get(fn, "name"));
    const char *args = json_string_value(json_object_get(fn, "arguments"));
    const char *call_id = json_string_value(json_object_get(call, "id"));
    char id[96];
    hr_api_response_call_id(call, id, sizeof id);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string("function_call"));
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "call_id", json_string(call_id ? call_id : ""));
    json_object_set_new(o, "name", json_string(name ? name : ""));
    json_object_set_new(o, "arguments", json_string(with_arguments && args ? args : ""));
    json_object_set_new(o, "status", json_string(status));
    return o;
}

char *hr_api_response_args_event_json(const char *type, uint64_t seq, const char *item_id,
                                      uint32_t output_index, const char *key,
                                      const char *text)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "sequence_number", json_integer((json_int_t)seq));
    json_object_set_new(o, "item_id", json_string(item_id));
    json_object_set_new(o, "output_index", json_integer(output_index));
    json_object_set_new(o, key, hr_api_json_text(text, strlen(text)));
    return hr_api__dump(o);
}

json_t *hr_api_response_text_part_json(const char *text, size_t n_text)
{
    json_t *p = json_object();
    if (!p)
        return NULL;
    json_object_set_new(p, "type", json_string("output_text"));
    json_object_set_new(p, "text", hr_api_json_text(text ? text : "", text ? n_text : 0));
    json_object_set_new(p, "annotations", json_array());
    json_object_set_new(p, "logprobs", json_array());
    return p;
}

json_t *hr_api_response_message_json(const char *msg_id, const char *status, const char *text,
                                     size_t n_text)
{
    json_t *m = json_object();
    json_t *content = json_array();
    if (!m || !content) {
        json_decref(m);
        json_decref(content);
        return NULL;
    }
    json_object_set_new(m, "id", json_string(msg_id));
    json_object_set_new(m, "type", json_string("message"));
    json_object_set_new(m, "status", json_string(status));
    json_object_set_new(m, "role", json_string("assistant"));
    if (text)
        json_array_append_new(content, hr_api_response_text_part_json(text, n_text));
    json_object_set_new(m, "content", content);
    return m;
}

static json_t *usage_obj(const struct hr_api_usage *u)
{
    return json_pack("{s:I,s:{s:I},s:I,s:{s:i},s:I}", "input_tokens",
                     (json_int_t)u->prompt_tokens, "input_tokens_details", "cached_tokens",
                     (json_int_t)u->cached_tokens, "output_tokens",
                     (json_int_t)u->completion_tokens, "output_tokens_details",
                     "reasoning_tokens", 0, "total_tokens",
                     (json_int_t)u->prompt_tokens + u->completion_tokens);
}

json_t *hr_api_response_obj(const struct hr_api_response_info *ri)
{
    json_t *o = json_object();
    json_t *output = json_array();
    if (!o || !output) {
        json_decref(o);
        json_decref(output);
        return NULL;
    }
    json_object_set_new(o, "id", json_string(ri->id));
    json_object_set_new(o, "object", json_string("response"));
    json_object_set_new(o, "created_at", json_integer(ri->created_at));
    json_object_set_new(o, "status", json_string(ri->status));
    json_object_set_new(o, "error", json_null());
    json_object_set_new(o, "incomplete_details",
                        strcmp(ri->status, "incomplete") == 0
                            ? json_pack("{s:s}", "reason", "max_output_tokens")
                            : json_null());
    json_object_set_new(o, "model", hr_api_json_text(ri->model, strlen(ri->model)));
    const char *st = strcmp(ri->status, "completed") == 0 ? "completed" : "incomplete";
    if (ri->text)
        json_array_append_new(output,
                              hr_api_response_message_json(ri->msg_id, st, ri->text,
                                                           ri->n_text));
    size_t i;
    json_t *call;
    json_array_foreach(ri->calls, i, call)
        json_array_append_new(output, hr_api_response_call_json(call, st, true));
    json_object_set_new(o, "output", output);
    json_object_set_new(o, "usage", ri->u ? usage_obj(ri->u) : json_null());
    if (ri->echo)
        json_object_update_missing(o, (json_t *)ri->echo);
    return o;
}

/* An event's {type, sequence_number}, or NULL (take_value then freed) without memory or
 * without the value it is built around. */
static json_t *event_obj(const char *type, uint64_t seq, json_t *take_value)
{
    json_t *o = take_value ? json_object() : NULL;
    if (!o) {
        json_decref(take_value);
        return NULL;
    }
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "sequence_number", json_integer((json_int_t)seq));
    return o;
}

char *hr_api_response_event_json(const char *type, uint64_t seq, const char *key,
                                 json_t *take_value)
{
    json_t *o = event_obj(type, seq, take_value);
    if (!o)
        return NULL;
    json_object_set_new(o, key, take_value);
    return hr_api__dump(o);
}

char *hr_api_response_item_event_json(const char *type, uint64_t seq, uint32_t output_index,
                                      json_t *take_item)
{
    json_t *o = event_obj(type, seq, take_item);
    if (!o)
        return NULL;
    json_object_set_new(o, "output_index", json_integer(output_index));
    json_object_set_new(o, "item", take_item);
    return hr_api__dump(o);
}

char *hr_api_response_part_event_json(const char *type, uint64_t seq, const char *item_id,
                                      const char *key, json_t *take_value)
{
    json_t *o = event_obj(type, seq, take_value);
    if (!o)
        return NULL;
    json_object_set_new(o, "item_id", json_string(item_id));
    json_object_set_new(o, "output_index", json_integer(0));
    json_object_set_new(o, "content_index", json_integer(0));
    json_object_set_new(o, key, take_value);
    if (strcmp(key, "part") != 0)
        json_object_set_new(o, "logprobs", json_array());
    return hr_api__dump(o);
}

char *hr_api_response_text_event_json(const char *type, uint64_t seq, const char *item_id,
                                      const char *key, const char *text, size_t n)
{
    return hr_api_response_part_event_json(type, seq, item_id, key, hr_api_json_text(text, n));
}

char *hr_api_response_error_event_json(uint64_t seq, const struct hr_api_error *e)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string("error"));
    json_object_set_new(o, "sequence_number", json_integer((json_int_t)seq));
    json_object_set_new(o, "code", e->code ? json_string(e->code) : json_string(e->type));
    json_object_set_new(o, "message", hr_api_json_text(e->message, strlen(e->message)));
    json_object_set_new(o, "param", e->param[0] ? json_string(e->param) : json_null());
    return hr_api__dump(o);
}
