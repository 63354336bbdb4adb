/* The Responses API's conversation and tools, checked in their own shapes (400s name
 * `input[i]...`, `tools[i]...`) and rewritten as a chat request's `messages`, `tools` and
 * `tool_choice`, which chat_request.c and chat_tools.c then read as they read a chat
 * completion, so the template, tool grammar and call parsing are chat's:
 *   instructions                          -> {"role": "system", "content"} first
 *   "text" | {"role", "content"}          -> {"role", "content": text (parts joined)}
 *   {"type": "function_call", "call_id", "name", "arguments"} (consecutive ones together)
 *                                         -> {"role": "assistant", "content": null,
 *                                             "tool_calls": [{"id", "type", "function"}]}
 *   {"type": "function_call_output", "call_id", "output"}
 *                                         -> {"role": "tool", "tool_call_id", "content"}
 *   {"type": "function", "name", "description", "parameters", "strict"}
 *                                         -> {"type": "function", "function": {...}}
 *   tool_choice {"type": "function", "name"} -> {"type": "function", "function": {"name"}}
 * Loop thread. */
#include "api.h"
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TOOLS 128

static int invalid(struct hr_api_error *e, const char *param, const char *what)
{
    hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", param, "Invalid '%s': %s",
                     param, what);
    return -1;
}

/* A required string field of obj; *out borrowed. */
static int get_string(json_t *obj, const char *key, const char *prefix, json_t **out,
                      struct hr_api_error *e)
{
    char param[96];
    snprintf(param, sizeof param, "%s.%s", prefix, key);
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return hr_api__missing(e, param);
    if (!json_is_string(v))
        return hr_api__bad_type(e, param, "a string", v);
    *out = v;
    return 0;
}

/* content: a string, or input_text/output_text parts joined; a new JSON string. */
static int content_text(json_t *content, const char *param, json_t **out,
                        struct hr_api_error *e)
{
    if (!content || json_is_null(content))
        return hr_api__missing(e, param);
    if (json_is_string(content)) {
        *out = json_stringn_nocheck(json_string_value(content), json_string_length(content));
        return *out ? 0 : hr_api__oom(e);
    }
    if (!json_is_array(content))
        return hr_api__bad_type(e, param, "one of a string or array of objects", content);
    size_t total = 0, n = json_array_size(content);
    for (size_t k = 0; k < n; k++) {
        json_t *part = json_array_get(content, k);
        char pp[112], tp[128];
        snprintf(pp, sizeof pp, "%s[%zu]", param, k);
        if (!json_is_object(part))
            return hr_api__bad_type(e, pp, "an object", part);
        json_t *type = json_object_get(part, "type");
        const char *t = json_string_value(type);
        snprintf(tp, sizeof tp, "%s.type", pp);
        if (!type)
            return hr_api__missing(e, tp);
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
        return hr_api__oom(e);
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *text = json_object_get(json_array_get(content, k), "text");
        memcpy(joined + o, json_string_value(text), json_string_length(text));
        o += json_string_length(text);
    }
    *out = json_stringn_nocheck(joined, o);
    free(joined);
    return *out ? 0 : hr_api__oom(e);
}

static int push(json_t *msgs, json_t *take_msg, struct hr_api_error *e)
{
    return take_msg && json_array_append_new(msgs, take_msg) == 0 ? 0 : hr_api__oom(e);
}

static int message_item(json_t *msgs, json_t *item, size_t k, struct hr_api_error *e)
{
    char param[64];
    json_t *role = json_object_get(item, "role");
    snprintf(param, sizeof param, "input[%zu].role", k);
    if (!role)
        return hr_api__missing(e, param);
    if (!json_is_string(role))
        return hr_api__bad_type(e, param, "a string", role);
    const char *rs = json_string_value(role);
    if (strcmp(rs, "user") != 0 && strcmp(rs, "assistant") != 0 && strcmp(rs, "system") != 0 &&
        strcmp(rs, "developer") != 0) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", param,
                         "Invalid value: '%.64s'. Supported values are: 'user', 'assistant', "
                         "'system' and 'developer'.", rs);
        return -1;
    }
    json_t *text = NULL;
    snprintf(param, sizeof param, "input[%zu].content", k);
    if (content_text(json_object_get(item, "content"), param, &text, e) != 0)
        return -1;
    return push(msgs, json_pack("{s:O,s:o}", "role", role, "content", text), e);
}

/* A function_call item; joins the previous message when that holds calls too (one turn). */
static int call_item(json_t *msgs, json_t *item, size_t k, bool after_call,
                     struct hr_api_error *e)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "input[%zu]", k);
    json_t *id, *name, *args;
    if (get_string(item, "call_id", prefix, &id, e) != 0 ||
        get_string(item, "name", prefix, &name, e) != 0 ||
        get_string(item, "arguments", prefix, &args, e) != 0)
        return -1;
    json_t *call = json_pack("{s:O,s:s,s:{s:O,s:O}}", "id", id, "type", "function", "function",
                             "name", name, "arguments", args);
    if (!call)
        return hr_api__oom(e);
    json_t *prev = after_call ? json_array_get(msgs, json_array_size(msgs) - 1) : NULL;
    if (prev)
        return json_array_append_new(json_object_get(prev, "tool_calls"), call) == 0 ? 0
                                                                                      : hr_api__oom(e);
    return push(msgs, json_pack("{s:s,s:n,s:[o]}", "role", "assistant", "content",
                                "tool_calls", call), e);
}

static int output_item(json_t *msgs, json_t *item, size_t k, struct hr_api_error *e)
{
    char prefix[32], param[48];
    snprintf(prefix, sizeof prefix, "input[%zu]", k);
    snprintf(param, sizeof param, "input[%zu].output", k);
    json_t *id, *text = NULL;
    if (get_string(item, "call_id", prefix, &id, e) != 0 ||
        content_text(json_object_get(item, "output"), param, &text, e) != 0)
        return -1;
    return push(msgs, json_pack("{s:s,s:O,s:o}", "role", "tool", "tool_call_id", id, "content",
                                text), e);
}

int hr_api__responses_messages(json_t *root, json_t **out, struct hr_api_error *e)
{
    json_t *input = json_object_get(root, "input");
    json_t *instr = json_object_get(root, "instructions");
    *out = NULL;
    if (!input || json_is_null(input))
        return hr_api__missing(e, "input");
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
    if (n_items >= HR_MAX_MESSAGES) {
        hr_api_error_set(e, 400, "invalid_request_error", "array_above_max_length", "input",
                         "Invalid 'input': array too long. Expected an array with maximum "
                         "length %d, but got an array with length %zu instead.",
                         HR_MAX_MESSAGES - 1, n_items);
        return -1;
    }
    json_t *msgs = json_array();
    if (!msgs)
        return hr_api__oom(e);
    int rc = 0;
    if (json_is_string(instr))
        rc = push(msgs, json_pack("{s:s,s:O}", "role", "system", "content", instr), e);
    if (rc == 0 && json_is_string(input))
        rc = push(msgs, json_pack("{s:s,s:O}", "role", "user", "content", input), e);
    bool after_call = false;
    for (size_t k = 0; rc == 0 && json_is_array(input) && k < n_items; k++) {
        json_t *item = json_array_get(input, k);
        char param[48];
        snprintf(param, sizeof param, "input[%zu]", k);
        if (!json_is_object(item)) {
            rc = hr_api__bad_type(e, param, "an object", item);
            break;
        }
        json_t *type = json_object_get(item, "type");
        const char *t = json_is_null(type) || !type ? "message" : json_string_value(type);
        snprintf(param, sizeof param, "input[%zu].type", k);
        if (!t)
            rc = hr_api__bad_type(e, param, "a string", type);
        else if (strcmp(t, "message") == 0)
            rc = message_item(msgs, item, k, e);
        else if (strcmp(t, "function_call") == 0)
            rc = call_item(msgs, item, k, after_call, e);
        else if (strcmp(t, "function_call_output") == 0)
            rc = output_item(msgs, item, k, e);
        else
            rc = hr_api__unsupported(e, param, "(only message, function_call and "
                                               "function_call_output items)");
        after_call = t && strcmp(t, "function_call") == 0;
    }
    if (rc != 0) {
        json_decref(msgs);
        return -1;
    }
    *out = msgs;
    return 0;
}

static int convert_tool(json_t *tool, size_t i, json_t *done, json_t **out,
                        struct hr_api_error *e)
{
    char param[48];
    snprintf(param, sizeof param, "tools[%zu]", i);
    if (!json_is_object(tool))
        return hr_api__bad_type(e, param, "an object", tool);
    json_t *type = json_object_get(tool, "type");
    snprintf(param, sizeof param, "tools[%zu].type", i);
    if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0)
        return hr_api__unsupported(e, param, "(only function tools; no hosted tools)");
    snprintf(param, sizeof param, "tools[%zu].name", i);
    json_t *name = json_object_get(tool, "name");
    if (!json_is_string(name) ||
        !hr_api__valid_name(json_string_value(name), json_string_length(name)))
        return invalid(e, param, "a function name is 1 to 64 characters of a-z, A-Z, 0-9, "
                                 "underscores and dashes.");
    size_t k;
    json_t *d;
    json_array_foreach(done, k, d)
        if (json_equal(json_object_get(json_object_get(d, "function"), "name"), name))
            return invalid(e, param, "function names must be unique.");
    static const char *const keys[] = {"description", "parameters", "strict"};
    static const char *const want[] = {"a string", "an object", "a boolean"};
    for (size_t j = 0; j < 3; j++) {
        json_t *v = json_object_get(tool, keys[j]);
        bool ok = !v || json_is_null(v) || (j == 0 && json_is_string(v)) ||
                  (j == 1 && json_is_object(v)) || (j == 2 && json_is_boolean(v));
        snprintf(param, sizeof param, "tools[%zu].%s", i, keys[j]);
        if (!ok)
            return hr_api__bad_type(e, param, want[j], v);
    }
    json_t *fn = json_pack("{s:O}", "name", name);
    for (size_t j = 0; fn && j < 3; j++) {
        json_t *v = json_object_get(tool, keys[j]);
        if (v && !json_is_null(v))
            json_object_set(fn, keys[j], v);
    }
    *out = fn ? json_pack("{s:s,s:o}", "type", "function", "function", fn) : NULL;
    return *out ? 0 : hr_api__oom(e);
}

int hr_api__responses_tools(json_t *root, json_t **tools_out, json_t **choice_out,
                            struct hr_api_error *e)
{
    *tools_out = NULL;
    *choice_out = NULL;
    json_t *tools = json_object_get(root, "tools");
    if (tools && !json_is_null(tools) && !json_is_array(tools))
        return hr_api__bad_type(e, "tools", "an array", tools);
    if (json_array_size(tools) > MAX_TOOLS) {
        hr_api_error_set(e, 400, "invalid_request_error", "array_above_max_length", "tools",
                         "Invalid 'tools': array too long. Expected an array with maximum "
                         "length %d, but got an array with length %zu instead.", MAX_TOOLS,
                         json_array_size(tools));
        return -1;
    }
    json_t *conv = json_array();
    if (!conv)
        return hr_api__oom(e);
    for (size_t i = 0; i < json_array_size(tools); i++) {
        json_t *t = NULL;
        if (convert_tool(json_array_get(tools, i), i, conv, &t, e) != 0 ||
            json_array_append_new(conv, t) != 0) {
            json_decref(conv);
            return -1;
        }
    }
    json_t *tc = json_object_get(root, "tool_choice");
    if (json_is_object(tc)) {
        json_t *type = json_object_get(tc, "type");
        json_t *name = json_object_get(tc, "name");
        if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0 ||
            !json_is_string(name)) {
            json_decref(conv);
            return invalid(e, "tool_choice", "a named tool_choice is {\"type\": \"function\", "
                                             "\"name\": ...}; other forms are not supported.");
        }
        *choice_out = json_pack("{s:s,s:{s:O}}", "type", "function", "function", "name", name);
    } else if (json_is_string(tc) && !json_array_size(conv) &&
               (strcmp(json_string_value(tc), "auto") == 0 ||
                strcmp(json_string_value(tc), "none") == 0)) {
        /* without tools these say nothing (chat would refuse "auto" there) */
    } else if (tc && !json_is_null(tc)) {
        *choice_out = json_incref(tc); /* "none", "auto", "required"; chat checks the rest */
    }
    *tools_out = conv;
    return 0;
}
