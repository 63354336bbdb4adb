/* tool_choice "required" and named functions: the answer is constrained to tool calls in the
 * model's own call format, each call's arguments to its function's parameter schema. The
 * call object becomes a JSON Schema ({"name": const, "arguments": parameters}, anyOf over
 * the allowed functions), compiled to GBNF, and wrapped in the format's markup. Any thread
 * but the loop (schemas take a while to compile). */
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* The schema of one call of tool t in this format. New reference. */
static json_t *call_schema(const json_t *t, enum hr_api_tool_format f)
{
    const json_t *fn = json_object_get(t, "function");
    json_t *params = json_object_get(fn, "parameters");
    const char *args_key = f == HR_TOOLS_LLAMA3 ? "parameters" : "arguments";
    json_t *name = json_object();
    json_object_set_new(name, "const", json_string(json_string_value(json_object_get(fn,
                                                                                    "name"))));
    json_t *props = json_object();
    json_object_set_new(props, "name", name);
    json_object_set_new(props, args_key, json_is_object(params) && json_object_size(params)
                                             ? json_deep_copy(params)
                                             : json_pack("{s:s}", "type", "object"));
    return json_pack("{s:s, s:o, s:[s,s], s:b}", "type", "object", "properties", props,
                     "required", "name", args_key, "additionalProperties", 0);
}

/* Whether every allowed function asks for OpenAI's strict mode. */
static bool all_strict(const json_t *tools, const char *only)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const json_t *fn = json_object_get(t, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        if ((!only || strcmp(name, only) == 0) && !json_is_true(json_object_get(fn, "strict")))
            return false;
    }
    return true;
}

/* The markup around the calls, as GBNF over the rule tc-call (one call object). */
static const char *wrapper(enum hr_api_tool_format f, bool one)
{
    switch (f) {
    case HR_TOOLS_HERMES:
        return one ? "root ::= \"<tool_call>\\n\" tc-call \"\\n</tool_call>\"\n"
                   : "tc-one ::= \"<tool_call>\\n\" tc-call \"\\n</tool_call>\"\n"
                     "root ::= tc-one (\"\\n\" tc-one){0,7}\n";
    case HR_TOOLS_MISTRAL:
        return one ? "root ::= \"[TOOL_CALLS][\" tc-call \"]\"\n"
                   : "root ::= \"[TOOL_CALLS][\" tc-call (\", \" tc-call){0,7} \"]\"\n";
    default: /* Llama 3: one call is the whole answer */
        return "root ::= tc-call\n";
    }
}

int hr_api_tool_grammar(const struct hr_api_chat_req *r, enum hr_api_tool_format f,
                        struct hr_grammar **out, struct hr_api_error *e)
{
    *out = NULL;
    const char *only = r->tool_choice == HR_TOOL_CHOICE_NAMED ? r->tool_choice_name : NULL;
    json_t *any = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(r->tools, i, t)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(t, "function"), "name"));
        if (!only || strcmp(name, only) == 0)
            json_array_append_new(any, call_schema(t, f));
    }
    json_t *schema = json_array_size(any) == 1 ? json_incref(json_array_get(any, 0))
                                                : json_pack("{s:O}", "anyOf", any);
    json_decref(any);
    char *text = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
    json_decref(schema);
    struct hr_diag d = {{0}};
    char *gbnf = NULL;
    int rc = text ? hr_grammar_schema_to_gbnf(text, strlen(text), all_strict(r->tools, only),
                                              &gbnf, &d)
                  : HR_ENOMEM;
    free(text);
    /* the compiler's start rule is its last line: it becomes tc-call */
    char *root = NULL;
    for (char *p = gbnf ? strstr(gbnf, "\nroot ::= ") : NULL; p; p = strstr(p + 1, "\nroot ::= "))
        root = p;
    if (rc == 0 && !root) {
        hr_diag_set(&d, "no start rule in the tools' grammar");
        rc = HR_EINTERNAL;
    }
    char *full = NULL;
    if (rc == 0) {
        const char *wrap = wrapper(f, only != NULL);
        size_t n = strlen(gbnf) + strlen(wrap) + 16;
        full = malloc(n);
        if (full) {
            *root = '\0';
            snprintf(full, n, "%s\ntc-call ::= %s%s", gbnf, root + 10, wrap);
        }
        rc = full ? hr_grammar_parse(out, full, strlen(full), &d) : HR_ENOMEM;
    }
    free(gbnf);
    free(full);
    if (rc != 0) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "tools",
                         "Invalid 'tools': a function's parameters cannot constrain the "
                         "answer: %s", d.msg[0] ? d.msg : hr_err_str(rc));
        return -1;
    }
    return 0;
}
