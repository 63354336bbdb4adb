/* Tool calls in model output, in the formats the common open models are trained to write,
 * chosen from the chat template that renders the tools:
 *  - Hermes / Qwen 2.5: <tool_call>{"name": ..., "arguments": {...}}</tool_call>, any number,
 *    with ordinary text around them;
 *  - Llama 3.1+: the whole answer is {"name": ..., "parameters": {...}} (optionally after
 *    <|python_tag|>, several separated by ';' or newlines);
 *  - Mistral: [TOOL_CALLS] followed by a JSON array of {"name", "arguments"} or by
 *    name[ARGS]{...} pairs.
 * A call counts only when it names an offered function and its arguments are a JSON object;
 * anything else stays text, so a client never receives a call it did not offer. Pure
 * functions; any thread. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api.h"
#include "json_text.h"

enum hr_api_tool_format hr_api_tool_format(const char *template_src)
{
    if (!template_src)
        return HR_TOOLS_NONE;
    if (strstr(template_src, "<tool_call>"))
        return HR_TOOLS_HERMES;
    if (strstr(template_src, "[TOOL_CALLS]"))
        return HR_TOOLS_MISTRAL;
    if (strstr(template_src, "<|python_tag|>") ||
        (strstr(template_src, "<|start_header_id|>") && strstr(template_src, "parameters")))
        return HR_TOOLS_LLAMA3;
    return HR_TOOLS_NONE;
}

const char *hr_api_tool_start(enum hr_api_tool_format f)
{
    switch (f) {
    case HR_TOOLS_HERMES:
        return "<tool_call>";
    case HR_TOOLS_MISTRAL:
        return "[TOOL_CALLS]";
    case HR_TOOLS_LLAMA3:
        return "<|python_tag|>";
    default:
        return NULL;
    }
}

static bool offered(const json_t *tools, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *n = json_string_value(json_object_get(json_object_get(t, "function"), "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

/* "call_" + 24 random alphanumerics, as OpenAI's ids look. */
static void call_id(char *out, size_t cap)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t r[24];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        memset(r, 0, sizeof r);
    size_t o = (size_t)snprintf(out, cap, "call_");
    for (size_t i = 0; i < sizeof r && o + 1 < cap; i++)
        out[o++] = digits[r[i] % (sizeof digits - 1)];
    out[o] = '\0';
}

/* Appends {"id", "type": "function", "function": {"name", "arguments": "<json>"}} for a call
 * object whose arguments sit under args_key; false when it is not a valid call. */
static bool add_call(json_t *calls, const json_t *obj, const json_t *tools)
{
    const char *name = json_string_value(json_object_get(obj, "name"));
    json_t *args = json_object_get(obj, "arguments");
    if (!args)
        args = json_object_get(obj, "parameters");
    if (!name || !offered(tools, name) || (args && !json_is_object(args)))
        return false;
    char *text = args ? json_dumps(args, JSON_COMPACT) : strdup("{}");
    json_t *call = json_object(), *fn = json_object();
    if (!text || !call || !fn) {
        free(text);
        json_decref(call);
        json_decref(fn);
        return false;
    }
    char id[40];
    const char *given = json_string_value(json_object_get(obj, "id"));
    if (given && strlen(given) < sizeof id)
        snprintf(id, sizeof id, "%s", given);
    else
        call_id(id, sizeof id);
    json_object_set_new(call, "id", json_string(id));
    json_object_set_new(call, "type", json_string("function"));
    json_object_set_new(fn, "name", json_string(name));
    json_object_set_new(fn, "arguments", json_string(text));
    json_object_set_new(call, "function", fn);
    free(text);
    return json_array_append_new(calls, call) == 0;
}

/* One JSON value at the start of s (after whitespace): parsed, with *used bytes consumed. */
static json_t *json_at(const char *s, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    json_error_t err;
    json_t *v = json_loadb(s + i, n - i, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &err);
    *used = v ? i + (size_t)err.position : 0;
    return v;
}

static void append(char *out, size_t *o, const char *s, size_t n)
{
    memcpy(out + *o, s, n);
    *o += n;
}

static size_t parse_hermes(const char *s, size_t n, const json_t *tools, json_t *calls,
                           char *content)
{
    static const char open[] = "<tool_call>", close[] = "</tool_call>";
    size_t o = 0, i = 0;
    while (i < n) {
        const char *at = memmem(s + i, n - i, open, sizeof open - 1);
        if (!at) {
            append(content, &o, s + i, n - i);
            break;
        }
        size_t start = (size_t)(at - s), body = start + sizeof open - 1;
        const char *end = memmem(s + body, n - body, close, sizeof close - 1);
        size_t stop = end ? (size_t)(end - s) : n;
        size_t used = 0;
        json_t *v = json_at(s + body, stop - body, &used);
        bool ok = v && json_is_object(v) && add_call(calls, v, tools);
        json_decref(v);
        append(content, &o, s + i, start - i);
        if (!ok) /* not a call after all: keep it as text */
            append(content, &o, s + start, (end ? stop + sizeof close - 1 : n) - start);
        i = end ? stop + sizeof close - 1 : n;
    }
    return o;
}

/* Llama 3: the whole answer is one or more call objects, or it is text. */
static size_t parse_llama3(const char *s, size_t n, const json_t *tools, json_t *calls,
                           char *content)
{
    size_t i = 0;
    static const char tag[] = "<|python_tag|>";
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (n - i >= sizeof tag - 1 && memcmp(s + i, tag, sizeof tag - 1) == 0)
        i += sizeof tag - 1;
    size_t before = json_array_size(calls);
    while (i < n) {
        size_t used = 0;
        json_t *v = json_at(s + i, n - i, &used);
        bool ok = v && json_is_object(v) && add_call(calls, v, tools);
        json_decref(v);
        if (!ok)
            break;
        i += used;
        while (i < n && (isspace((unsigned char)s[i]) || s[i] == ';'))
            i++;
    }
    if (i < n || json_array_size(calls) == before) { /* not entirely calls: all text */
        json_array_clear(calls);
        memcpy(content, s, n);
        return n;
    }
    return 0;
}

static size_t parse_mistral(const char *s, size_t n, const json_t *tools, json_t *calls,
                            char *content)
{
    static const char mark[] = "[TOOL_CALLS]", args[] = "[ARGS]";
    const char *at = memmem(s, n, mark, sizeof mark - 1);
    if (!at) {
        memcpy(content, s, n);
        return n;
    }
    size_t o = 0, i = (size_t)(at - s) + sizeof mark - 1;
    append(content, &o, s, (size_t)(at - s));
    size_t used = 0;
    json_t *v = json_at(s + i, n - i, &used);
    bool ok = false;
    if (v && json_is_array(v)) {
        size_t k;
        json_t *c;
        ok = json_array_size(v) > 0;
        json_array_foreach(v, k, c) ok = ok && json_is_object(c) && add_call(calls, c, tools);
        i += used;
    } else {
        /* newer form: name[ARGS]{...}, repeated, each after [TOOL_CALLS] */
        ok = true;
        while (ok && i < n) {
            const char *a = memmem(s + i, n - i, args, sizeof args - 1);
            if (!a) {
                ok = false;
                break;
            }
            size_t name_len = (size_t)(a - (s + i));
            char name[128];
            ok = name_len > 0 && name_len < sizeof name;
            if (!ok)
                break;
            memcpy(name, s + i, name_len);
            name[name_len] = '\0';
            size_t body = (size_t)(a - s) + sizeof args - 1;
            json_t *argv = json_at(s + body, n - body, &used);
            json_t *obj = json_object();
            json_object_set_new(obj, "name", json_string(name));
            if (argv)
                json_object_set(obj, "arguments", argv);
            ok = argv && add_call(calls, obj, tools);
            json_decref(obj);
            json_decref(argv);
            i = body + used;
            const char *next = memmem(s + i, n - i, mark, sizeof mark - 1);
            if (!next)
                break;
            i = (size_t)(next - s) + sizeof mark - 1;
        }
    }
    json_decref(v);
    while (ok && i < n && isspace((unsigned char)s[i]))
        i++;
    if (!ok || i < n) { /* anything unparsable: the whole answer is text */
        json_array_clear(calls);
        memcpy(content, s, n);
        return n;
    }
    return o;
}

/* Strips leading and trailing whitespace in place; returns the new length. */
static size_t trim(char *s, size_t n)
{
    size_t b = 0;
    while (b < n && isspace((unsigned char)s[b]))
        b++;
    while (n > b && isspace((unsigned char)s[n - 1]))
        n--;
    memmove(s, s + b, n - b);
    return n - b;
}

json_t *hr_api_parse_tool_calls(enum hr_api_tool_format f, const char *text, size_t n,
                                const json_t *tools, char **content, size_t *n_content)
{
    *content = malloc(n + 1);
    json_t *calls = json_array();
    if (!*content || !calls) {
        free(*content);
        *content = NULL;
        json_decref(calls);
        return NULL;
    }
    size_t o;
    if (f == HR_TOOLS_HERMES)
        o = parse_hermes(text, n, tools, calls, *content);
    else if (f == HR_TOOLS_LLAMA3)
        o = parse_llama3(text, n, tools, calls, *content);
    else if (f == HR_TOOLS_MISTRAL)
        o = parse_mistral(text, n, tools, calls, *content);
    else
        memcpy(*content, text, o = n);
    if (json_array_size(calls))
        o = trim(*content, o); /* the text between calls is layout */
    (*content)[o] = '\0';
    *n_content = o;
    return calls;
}
