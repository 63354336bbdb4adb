/* POST /v1/responses request bodies (OpenAI's Responses API) as a chat request: instructions
 * and input become the conversation and tools chat's tools (responses_input.c),
 * max_output_tokens the max_tokens, text.format the structured-output grammar. What Hearth
 * cannot do is refused with a 400 naming the param: previous_response_id and conversation
 * (no responses are stored), background, non-text content, other item types, hosted tools.
 * The fields a response object repeats are gathered here. Loop thread. */
#include "api.h"
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

/* text: {"format": {"type": "text" | "json_object" | "json_schema", ...}, "verbosity"?}. */
static int parse_text(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    json_t *text = json_object_get(root, "text");
    if (!text || json_is_null(text))
        return 0;
    if (!json_is_object(text))
        return hr_api__bad_type(e, "text", "an object", text);
    json_t *f = json_object_get(text, "format");
    if (!f || json_is_null(f))
        return 0;
    if (!json_is_object(f))
        return hr_api__bad_type(e, "text.format", "an object", f);
    json_t *type = json_object_get(f, "type");
    if (!type)
        return hr_api__missing(e, "text.format.type");
    if (!json_is_string(type))
        return hr_api__bad_type(e, "text.format.type", "a string", type);
    const char *t = json_string_value(type);
    if (strcmp(t, "json_schema") == 0)
        return hr_api__parse_schema_format(r, f, "text.format", "text.format.schema", e);
    if (strcmp(t, "json_object") == 0) {
        r->grammar_kind = HR_API_GRAMMAR_JSON_OBJECT;
        r->grammar_param = "text.format";
        return 0;
    }
    if (strcmp(t, "text") != 0) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "text.format.type",
                         "Invalid value: '%.64s'. Supported values are: 'text', 'json_object' "
                         "and 'json_schema'.", t);
        return -1;
    }
    return 0;
}

/* Fields Hearth has no behaviour for, refused rather than ignored. */
static int refuse(json_t *root, struct hr_api_error *e)
{
    json_t *v = json_object_get(root, "previous_response_id");
    if (v && !json_is_null(v))
        return hr_api__unsupported(e, "previous_response_id",
                                   "(this server stores no responses: send the whole "
                                   "conversation as input)");
    v = json_object_get(root, "conversation");
    if (v && !json_is_null(v))
        return hr_api__unsupported(e, "conversation", "(this server stores no conversations)");
    v = json_object_get(root, "background");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return hr_api__bad_type(e, "background", "a boolean", v);
    if (json_is_true(v))
        return hr_api__unsupported(e, "background", "(responses run while the client waits)");
    v = json_object_get(root, "parallel_tool_calls");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return hr_api__bad_type(e, "parallel_tool_calls", "a boolean", v);
    bool store = true;
    if (hr_api__get_bool(root, "store", &store, e) != 0)
        return -1;
    v = json_object_get(root, "metadata");
    if (v && !json_is_null(v) && !json_is_object(v))
        return hr_api__bad_type(e, "metadata", "an object", v);
    return 0;
}

/* The request's fields as the response object repeats them (OpenAI's defaults otherwise). */
static json_t *echo_fields(const struct hr_api_chat_req *r, json_t *root)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_t *instr = json_object_get(root, "instructions");
    json_object_set_new(o, "instructions", json_is_string(instr) ? json_copy(instr) : json_null());
    json_object_set_new(o, "max_output_tokens",
                        r->max_tokens ? json_integer(r->max_tokens) : json_null());
    json_object_set_new(o, "temperature", json_real(r->sampling.temperature));
    json_object_set_new(o, "top_p", json_real(r->sampling.top_p < 1e-6f ? 0.0
                                                                         : r->sampling.top_p));
    json_t *ptc = json_object_get(root, "parallel_tool_calls");
    json_object_set_new(o, "parallel_tool_calls", json_is_boolean(ptc) ? json_copy(ptc)
                                                                       : json_true());
    json_t *tc = json_object_get(root, "tool_choice");
    json_object_set_new(o, "tool_choice", tc && !json_is_null(tc) ? json_deep_copy(tc)
                                                                  : json_string("auto"));
    json_t *tools = json_object_get(root, "tools");
    json_object_set_new(o, "tools", json_is_array(tools) ? json_deep_copy(tools) : json_array());
    json_t *text = json_object_get(root, "text");
    json_t *fmt = json_object_get(text, "format");
    json_t *t = json_object();
    json_object_set_new(t, "format", json_is_object(fmt) ? json_deep_copy(fmt)
                                                         : json_pack("{s:s}", "type", "text"));
    json_object_set_new(o, "text", t);
    json_t *store = json_object_get(root, "store");
    json_object_set_new(o, "store", json_is_boolean(store) ? json_copy(store) : json_true());
    json_t *meta = json_object_get(root, "metadata");
    json_object_set_new(o, "metadata", json_is_object(meta) ? json_deep_copy(meta)
                                                            : json_object());
    json_object_set_new(o, "previous_response_id", json_null());
    json_object_set_new(o, "reasoning", json_pack("{s:n,s:n}", "effort", "summary"));
    json_object_set_new(o, "truncation", json_string("disabled"));
    json_object_set_new(o, "user", r->user ? json_string(r->user) : json_null());
    return o;
}

int hr_api_responses_parse(const char *body, size_t n, struct hr_api_responses_req *out,
                           struct hr_api_error *e)
{
    memset(out, 0, sizeof *out);
    struct hr_api_chat_req *r = &out->base;
    if (hr_api__parse_begin(body, n, true, r, e) != 0)
        return -1;
    json_t *root = r->root;
    json_t *msgs = NULL, *tools = NULL, *choice = NULL;
    if (hr_api__responses_messages(root, &msgs, e) != 0)
        return -1;
    if (hr_api__parse_stream(r, root, e) != 0 ||
        hr_api__parse_max_tokens(r, root, "max_output_tokens", e) != 0 ||
        hr_api__parse_temperature(r, root, e) != 0 || hr_api__parse_seed_user(r, root, e) != 0 ||
        parse_text(r, root, e) != 0 || refuse(root, e) != 0 ||
        hr_api__responses_tools(root, &tools, &choice, e) != 0) {
        json_decref(msgs);
        return -1;
    }
    r->include_usage = false; /* the usage rides on response.completed */
    out->echo = echo_fields(r, root);
    /* From here root holds the chat view of the request (responses_input.c), which the chat
     * parsers read; the Responses fields it replaces are in echo. */
    json_object_set_new(root, "messages", msgs);
    json_object_del(root, "functions");
    json_object_del(root, "tools");
    json_object_del(root, "tool_choice");
    if (json_array_size(tools))
        json_object_set(root, "tools", tools);
    json_decref(tools);
    if (choice)
        json_object_set_new(root, "tool_choice", choice);
    if (!out->echo)
        return hr_api__oom(e);
    if (hr_api__parse_messages(r, json_object_get(root, "messages"), e) != 0 ||
        hr_api__parse_tools(r, root, e) != 0)
        return -1;
    if ((r->tool_choice == HR_TOOL_CHOICE_REQUIRED || r->tool_choice == HR_TOOL_CHOICE_NAMED) &&
        r->grammar_kind != HR_API_GRAMMAR_NONE) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "tool_choice",
                         "tool_choice 'required' or a named function already decides the "
                         "answer's form: it cannot be combined with a structured text.format.");
        return -1;
    }
    return 0;
}

void hr_api_responses_req_deinit(struct hr_api_responses_req *r)
{
    json_decref(r->echo);
    hr_api_chat_req_deinit(&r->base);
    memset(r, 0, sizeof *r);
}
