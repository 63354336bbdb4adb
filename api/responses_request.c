/* POST /v1/responses request bodies (OpenAI's Responses API) as a chat request: instructions
 * become a system message before the input, input (a string, or message items whose content
 * is a string or input_text/output_text parts) the conversation, max_output_tokens the
 * max_tokens, text.format the structured-output grammar. What Hearth cannot do is refused
 * with a 400 naming the param: previous_response_id and conversation (no responses are
 * stored), background, non-text content, other item types, tools. The fields a response
 * object repeats are gathered here. Loop thread. */
#include "api.h"
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

static int oom(struct hr_api_error *e)
{
    hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    return -1;
}

static int missing(struct hr_api_error *e, const char *param)
{
    hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter", param,
                     "Missing required parameter: '%s'.", param);
    return -1;
}

/* A message's content: a string, or text parts joined into r->joined[i]. */
static int parse_content(struct hr_api_chat_req *r, size_t i, json_t *content,
                         const char *param, struct hr_api_error *e)
{
    if (!content || json_is_null(content))
        return missing(e, param);
    if (json_is_string(content)) {
        r->msgs[i].content = json_string_value(content);
        return 0;
    }
    if (!json_is_array(content))
        return hr_api__bad_type(e, param, "one of a string or array of objects", content);
    size_t total = 0, n = json_array_size(content);
    for (size_t k = 0; k < n; k++) {
        json_t *part = json_array_get(content, k);
        char pp[112];
        snprintf(pp, sizeof pp, "%s[%zu]", param, k);
        if (!json_is_object(part))
            return hr_api__bad_type(e, pp, "an object", part);
        json_t *type = json_object_get(part, "type");
        const char *t = json_string_value(type);
        char tp[128];
        snprintf(tp, sizeof tp, "%s.type", pp);
        if (!type)
            return missing(e, tp);
        if (!t || (strcmp(t, "input_text") != 0 && strcmp(t, "output_text") != 0))
            return hr_api__unsupported(e, tp, "(only input_text and output_text parts)");
        json_t *text = json_object_get(part, "text");
        snprintf(tp, sizeof tp, "%s.text", pp);
        if (!json_is_string(text))
            return hr_api__bad_type(e, tp, "a string", text ? text : json_null());
        total += json_string_length(text);
    }
    char *joined = malloc(total + 1);
    if (!joined)
        return oom(e);
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *text = json_object_get(json_array_get(content, k), "text");
        memcpy(joined + o, json_string_value(text), json_string_length(text));
        o += json_string_length(text);
    }
    joined[o] = '\0';
    r->joined[i] = joined;
    r->msgs[i].content = joined;
    return 0;
}

/* Input item k into message i: {"type"?: "message", "role", "content"}. */
static int parse_item(struct hr_api_chat_req *r, size_t i, json_t *item, size_t k,
                      struct hr_api_error *e)
{
    char param[64];
    snprintf(param, sizeof param, "input[%zu]", k);
    if (!json_is_object(item))
        return hr_api__bad_type(e, param, "an object", item);
    json_t *type = json_object_get(item, "type");
    if (type && !json_is_null(type)) {
        snprintf(param, sizeof param, "input[%zu].type", k);
        if (!json_is_string(type))
            return hr_api__bad_type(e, param, "a string", type);
        if (strcmp(json_string_value(type), "message") != 0)
            return hr_api__unsupported(e, param, "(only message items; no tool calls, "
                                                 "reasoning or item references)");
    }
    json_t *role = json_object_get(item, "role");
    snprintf(param, sizeof param, "input[%zu].role", k);
    if (!role)
        return missing(e, param);
    if (!json_is_string(role))
        return hr_api__bad_type(e, param, "a string", role);
    const char *rs = json_string_value(role);
    static const char *const roles[] = {"user", "assistant", "system", "developer"};
    size_t ri = 0;
    while (ri < 4 && strcmp(rs, roles[ri]) != 0)
        ri++;
    if (ri == 4) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", param,
                         "Invalid value: '%.64s'. Supported values are: 'user', 'assistant', "
                         "'system' and 'developer'.", rs);
        return -1;
    }
    /* chat templates know "system"; "developer" means the same */
    r->msgs[i].role = ri == 3 ? "system" : roles[ri];
    snprintf(param, sizeof param, "input[%zu].content", k);
    return parse_content(r, i, json_object_get(item, "content"), param, e);
}

static int parse_input(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    json_t *input = json_object_get(root, "input");
    json_t *instr = json_object_get(root, "instructions");
    if (!input || json_is_null(input))
        return missing(e, "input");
    if (!json_is_string(input) && !json_is_array(input))
        return hr_api__bad_type(e, "input", "one of a string or array of input items", input);
    if (instr && !json_is_null(instr) && !json_is_string(instr))
        return hr_api__bad_type(e, "instructions", "a string", instr);
    size_t n_items = json_is_array(input) ? json_array_size(input) : 1;
    if (json_is_array(input) && n_items == 0) {
        hr_api_error_set(e, 400, "invalid_request_error", "empty_array", "input",
                         "Invalid 'input': empty array. Expected an array with minimum length "
                         "1, but got an empty array instead.");
        return -1;
    }
    if (n_items > HR_MAX_MESSAGES) {
        hr_api_error_set(e, 400, "invalid_request_error", "array_above_max_length", "input",
                         "Invalid 'input': array too long. Expected an array with maximum "
                         "length %d, but got an array with length %zu instead.",
                         HR_MAX_MESSAGES, n_items);
        return -1;
    }
    size_t first = json_is_string(instr) ? 1 : 0;
    size_t n = first + n_items;
    r->msgs = calloc(n, sizeof *r->msgs);
    r->joined = calloc(n, sizeof *r->joined);
    if (!r->msgs || !r->joined)
        return oom(e);
    r->n_msgs = n;
    if (first) {
        r->msgs[0].role = "system";
        r->msgs[0].content = json_string_value(instr);
    }
    if (json_is_string(input)) {
        r->msgs[first].role = "user";
        r->msgs[first].content = json_string_value(input);
        return 0;
    }
    for (size_t k = 0; k < n_items; k++)
        if (parse_item(r, first + k, json_array_get(input, k), k, e) != 0)
            return -1;
    return 0;
}

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
        return missing(e, "text.format.type");
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
    v = json_object_get(root, "tools");
    if (v && !json_is_null(v) && !json_is_array(v))
        return hr_api__bad_type(e, "tools", "an array", v);
    if (json_array_size(v))
        return hr_api__unsupported(e, "tools", "on /v1/responses (use /v1/chat/completions "
                                               "for tool calling)");
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
    json_object_set_new(o, "parallel_tool_calls", json_true());
    json_object_set_new(o, "tool_choice", json_string("auto"));
    json_object_set_new(o, "tools", json_array());
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
    if (parse_input(r, root, e) != 0 || hr_api__parse_stream(r, root, e) != 0 ||
        hr_api__parse_max_tokens(r, root, "max_output_tokens", e) != 0 ||
        hr_api__parse_temperature(r, root, e) != 0 || hr_api__parse_seed_user(r, root, e) != 0 ||
        parse_text(r, root, e) != 0 || refuse(root, e) != 0)
        return -1;
    r->include_usage = false; /* the usage rides on response.completed */
    out->echo = echo_fields(r, root);
    if (!out->echo)
        return oom(e);
    return 0;
}

void hr_api_responses_req_deinit(struct hr_api_responses_req *r)
{
    json_decref(r->echo);
    hr_api_chat_req_deinit(&r->base);
    memset(r, 0, sizeof *r);
}
