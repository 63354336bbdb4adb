/* The tool-calling fields of a chat request (OpenAI's shapes): `tools`, `tool_choice`, an
 * assistant message's `tool_calls` and a tool message's `tool_call_id`, each checked with a
 * 400 naming the param; and the conversation as chat-template values, the way Hugging Face
 * templates expect them (a call's arguments as an object, not JSON text). Loop thread for
 * parsing; the value builders are pure (any thread). */
#include <ctype.h>
#include <string.h>

#include "api_int.h"

#define MAX_TOOLS 128

static int invalid(struct hr_api_error *e, const char *param, const char *msg)
{
    hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", param, "%s", msg);
    return -1;
}

bool hr_api__valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static int check_tool(json_t *tool, size_t i, json_t *tools, struct hr_api_error *e)
{
    char param[64];
    snprintf(param, sizeof param, "tools[%zu]", i);
    if (!json_is_object(tool))
        return hr_api__bad_type(e, param, "an object", tool);
    json_t *type = json_object_get(tool, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0) {
        snprintf(param, sizeof param, "tools[%zu].type", i);
        return invalid(e, param, "Only tools of type 'function' are supported.");
    }
    json_t *fn = json_object_get(tool, "function");
    snprintf(param, sizeof param, "tools[%zu].function", i);
    if (!json_is_object(fn))
        return hr_api__bad_type(e, param, "an object", fn ? fn : json_null());
    json_t *name = json_object_get(fn, "name");
    snprintf(param, sizeof param, "tools[%zu].function.name", i);
    if (!json_is_string(name) ||
        !hr_api__valid_name(json_string_value(name), json_string_length(name)))
        return invalid(e, param, "A function name must be 1 to 64 characters of a-z, A-Z, "
                                 "0-9, underscores and dashes.");
    for (size_t k = 0; k < i; k++) {
        json_t *other = json_object_get(json_object_get(json_array_get(tools, k), "function"),
                                        "name");
        if (strcmp(json_string_value(other), json_string_value(name)) == 0)
            return invalid(e, param, "Function names must be unique.");
    }
    json_t *desc = json_object_get(fn, "description");
    snprintf(param, sizeof param, "tools[%zu].function.description", i);
    if (desc && !json_is_null(desc) && !json_is_string(desc))
        return hr_api__bad_type(e, param, "a string", desc);
    json_t *params = json_object_get(fn, "parameters");
    snprintf(param, sizeof param, "tools[%zu].function.parameters", i);
    if (params && !json_is_null(params) && !json_is_object(params))
        return hr_api__bad_type(e, param, "an object", params);
    json_t *strict = json_object_get(fn, "strict");
    snprintf(param, sizeof param, "tools[%zu].function.strict", i);
    if (strict && !json_is_null(strict) && !json_is_boolean(strict))
        return hr_api__bad_type(e, param, "a boolean", strict);
    return 0;
}

static bool tool_offered(json_t *tools, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        json_t *n = json_object_get(json_object_get(t, "function"), "name");
        if (strcmp(json_string_value(n), name) == 0)
            return true;
    }
    return false;
}

static int parse_choice(struct hr_api_chat_req *r, json_t *tc, struct hr_api_error *e)
{
    bool have_tools = r->tools != NULL;
    r->tool_choice = have_tools ? HR_TOOL_CHOICE_AUTO : HR_TOOL_CHOICE_NONE;
    if (!tc || json_is_null(tc))
        return 0;
    if (json_is_string(tc)) {
        const char *v = json_string_value(tc);
        if (strcmp(v, "none") == 0)
            r->tool_choice = HR_TOOL_CHOICE_NONE;
        else if (strcmp(v, "auto") == 0)
            r->tool_choice = HR_TOOL_CHOICE_AUTO;
        else if (strcmp(v, "required") == 0)
            r->tool_choice = HR_TOOL_CHOICE_REQUIRED;
        else
            return invalid(e, "tool_choice", "Invalid value for 'tool_choice': expected "
                                             "'none', 'auto', 'required' or a function.");
    } else if (json_is_object(tc)) {
        json_t *type = json_object_get(tc, "type");
        json_t *name = json_object_get(json_object_get(tc, "function"), "name");
        if (!json_is_string(type) || strcmp(json_string_value(type), "function") != 0 ||
            !json_is_string(name))
            return invalid(e, "tool_choice", "A named tool_choice is {\"type\": \"function\", "
                                             "\"function\": {\"name\": ...}}.");
        if (have_tools && !tool_offered(r->tools, json_string_value(name)))
            return invalid(e, "tool_choice", "The function named in 'tool_choice' is not in "
                                             "'tools'.");
        r->tool_choice = HR_TOOL_CHOICE_NAMED;
        r->tool_choice_name = json_string_value(name);
    } else {
        return hr_api__bad_type(e, "tool_choice", "a string or an object", tc);
    }
    if (!have_tools && r->tool_choice != HR_TOOL_CHOICE_NONE)
        return invalid(e, "tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is "
                                         "only allowed when 'tools' are specified.");
    return 0;
}

int hr_api__parse_tools(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    json_t *tools = json_object_get(root, "tools");
    if (tools && !json_is_null(tools)) {
        if (!json_is_array(tools))
            return hr_api__bad_type(e, "tools", "an array", tools);
        if (json_array_size(tools) > MAX_TOOLS) {
            hr_api_error_set(e, 400, "invalid_request_error", "array_above_max_length", "tools",
                             "Invalid 'tools': array too long. Expected an array with maximum "
                             "length %d, but got an array with length %zu instead.", MAX_TOOLS,
                             json_array_size(tools));
            return -1;
        }
        for (size_t i = 0; i < json_array_size(tools); i++)
            if (check_tool(json_array_get(tools, i), i, tools, e) != 0)
                return -1;
        if (json_array_size(tools))
            r->tools = tools;
    }
    json_t *fns = json_object_get(root, "functions");
    if (fns && !json_is_null(fns))
        return hr_api__unsupported(e, "functions", "(the deprecated form; use 'tools')");
    return parse_choice(r, json_object_get(root, "tool_choice"), e);
}

int hr_api__parse_message_tools(json_t *msg, size_t i, const char *role,
                                struct hr_api_error *e)
{
    char param[96];
    json_t *calls = json_object_get(msg, "tool_calls");
    if (calls && !json_is_null(calls)) {
        snprintf(param, sizeof param, "messages[%zu].tool_calls", i);
        if (strcmp(role, "assistant") != 0)
            return invalid(e, param, "Only assistant messages carry 'tool_calls'.");
        if (!json_is_array(calls))
            return hr_api__bad_type(e, param, "an array", calls);
        for (size_t k = 0; k < json_array_size(calls); k++) {
            json_t *c = json_array_get(calls, k);
            snprintf(param, sizeof param, "messages[%zu].tool_calls[%zu]", i, k);
            json_t *fn = json_is_object(c) ? json_object_get(c, "function") : NULL;
            if (!json_is_object(c) || !json_is_string(json_object_get(c, "id")) ||
                !json_is_object(fn) || !json_is_string(json_object_get(fn, "name")) ||
                !json_is_string(json_object_get(fn, "arguments")))
                return invalid(e, param, "A tool call is {\"id\", \"type\": \"function\", "
                                         "\"function\": {\"name\", \"arguments\"}} with "
                                         "string id, name and arguments.");
        }
    }
    if (strcmp(role, "tool") == 0) {
        json_t *id = json_object_get(msg, "tool_call_id");
        snprintf(param, sizeof param, "messages[%zu].tool_call_id", i);
        if (!id) {
            hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter",
                             param, "Missing required parameter: '%s'.", param);
            return -1;
        }
        if (!json_is_string(id))
            return hr_api__bad_type(e, param, "a string", id);
    }
    return 0;
}

/* A tool call for the template: as sent, but arguments parsed into an object when they are
 * JSON text (templates render them with tojson or iterate them). */
static struct hr_jval *call_value(json_t *call)
{
    json_t *copy = json_deep_copy(call);
    json_t *fn = json_object_get(copy, "function");
    json_t *args = json_loads(json_string_value(json_object_get(fn, "arguments")),
                              JSON_DECODE_ANY, NULL);
    if (args && json_is_object(args))
        json_object_set(fn, "arguments", args);
    json_decref(args);
    struct hr_jval *v = copy ? hr_api_jval_from_json(copy) : NULL;
    json_decref(copy);
    return v;
}

struct hr_jval *hr_api_chat_template_messages(const struct hr_api_chat_req *r)
{
    json_t *msgs = json_object_get(r->root, "messages");
    struct hr_jval *list = hr_jval_list();
    for (size_t i = 0; list && i < r->n_msgs; i++) {
        json_t *m = json_array_get(msgs, i);
        json_t *calls = json_object_get(m, "tool_calls");
        bool has_calls = json_is_array(calls) && json_array_size(calls) > 0;
        json_t *content = json_object_get(m, "content");
        struct hr_jval *d = hr_jval_dict();
        int rc = d ? 0 : -1;
        if (!rc)
            rc = hr_jval_dict_set(d, "role", 4, hr_jval_str(r->msgs[i].role,
                                                              strlen(r->msgs[i].role)));
        if (!rc)
            rc = hr_jval_dict_set(d, "content", 7,
                                  has_calls && (!content || json_is_null(content))
                                      ? hr_jval_none()
                                      : hr_jval_str(r->msgs[i].content,
                                                    strlen(r->msgs[i].content)));
        if (!rc && has_calls) {
            struct hr_jval *cl = hr_jval_list();
            for (size_t k = 0; cl && k < json_array_size(calls); k++)
                if (hr_jval_list_push(cl, call_value(json_array_get(calls, k))) != 0) {
                    hr_jval_unref(cl);
                    cl = NULL;
                }
            rc = cl ? hr_jval_dict_set(d, "tool_calls", 10, cl) : -1;
        }
        const char *extra[] = {"tool_call_id", "name"};
        for (size_t k = 0; !rc && k < 2; k++) {
            json_t *v = json_object_get(m, extra[k]);
            if (json_is_string(v))
                rc = hr_jval_dict_set(d, extra[k], strlen(extra[k]),
                                      hr_jval_str(json_string_value(v), json_string_length(v)));
        }
        if (rc || hr_jval_list_push(list, d) != 0) {
            if (rc)
                hr_jval_unref(d);
            hr_jval_unref(list);
            return NULL;
        }
    }
    return list;
}

struct hr_jval *hr_api_chat_template_tools(const struct hr_api_chat_req *r)
{
    if (!r->tools || r->tool_choice == HR_TOOL_CHOICE_NONE)
        return NULL;
    return hr_api_jval_from_json(r->tools);
}
