/* Structured output fields of a chat request: OpenAI's `response_format` ({"type": "text"},
 * {"type": "json_object"}, {"type": "json_schema", "json_schema": {"name", "schema",
 * "strict", "description"}}) and llama.cpp's top-level `grammar` (GBNF text). Parsing checks
 * shapes and types on the loop (400s naming the param); compiling the grammar, which a
 * large schema makes slow, runs on a worker thread (hr_api_chat_compile_grammar), and its
 * errors are 400s naming the param too. */
#include "api.h"
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

static int param_err(struct hr_api_error *e, const char *code, const char *param,
                     const char *what)
{
    hr_api_error_set(e, 400, "invalid_request_error", code, param, "Invalid '%s': %s", param,
                     what);
    return -1;
}


int hr_api__parse_schema_format(struct hr_api_chat_req *r, json_t *js, const char *prefix,
                                const char *schema_param, struct hr_api_error *e)
{
    char p[96];
    if (!js || json_is_null(js))
        return hr_api__missing(e, prefix);
    if (!json_is_object(js))
        return param_err(e, "invalid_type", prefix, "expected an object.");
    json_t *name = json_object_get(js, "name");
    snprintf(p, sizeof p, "%s.name", prefix);
    if (!name)
        return hr_api__missing(e, p);
    if (!json_is_string(name))
        return param_err(e, "invalid_type", p, "expected a string.");
    if (!hr_api__valid_name(json_string_value(name), json_string_length(name)))
        return param_err(e, "invalid_value", p,
                         "must be 1 to 64 characters of a-z, A-Z, 0-9, underscores and "
                         "dashes.");
    json_t *desc = json_object_get(js, "description");
    snprintf(p, sizeof p, "%s.description", prefix);
    if (desc && !json_is_null(desc) && !json_is_string(desc))
        return param_err(e, "invalid_type", p, "expected a string.");
    json_t *strict = json_object_get(js, "strict");
    snprintf(p, sizeof p, "%s.strict", prefix);
    if (strict && !json_is_null(strict) && !json_is_boolean(strict))
        return param_err(e, "invalid_type", p, "expected a boolean.");
    r->grammar_strict = json_is_true(strict);
    json_t *schema = json_object_get(js, "schema");
    if (!schema)
        return hr_api__missing(e, schema_param);
    if (!json_is_object(schema) && !json_is_boolean(schema))
        return param_err(e, "invalid_type", schema_param, "expected an object.");
    if (r->grammar_strict && !json_is_object(schema))
        return param_err(e, "invalid_value", schema_param,
                         "in strict mode the schema must be an object.");
    r->grammar_text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!r->grammar_text) {
        hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        return -1;
    }
    r->grammar_kind = HR_API_GRAMMAR_SCHEMA;
    r->grammar_param = schema_param;
    return 0;
}

int hr_api_chat_parse_format(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    json_t *rf = json_object_get(root, "response_format");
    json_t *gr = json_object_get(root, "grammar");
    if (gr && !json_is_null(gr)) {
        if (!json_is_string(gr))
            return param_err(e, "invalid_type", "grammar", "expected a string.");
        if (json_string_length(gr) == 0 || json_string_length(gr) > HR_GRAMMAR_MAX_SOURCE ||
            strlen(json_string_value(gr)) != json_string_length(gr))
            return param_err(e, "invalid_value", "grammar",
                             "expected a GBNF grammar of 1 byte to 1 MiB without NUL.");
    }
    bool structured = false;
    if (rf && !json_is_null(rf)) {
        if (!json_is_object(rf))
            return param_err(e, "invalid_type", "response_format", "expected an object.");
        json_t *type = json_object_get(rf, "type");
        if (!type)
            return hr_api__missing(e, "response_format.type");
        if (!json_is_string(type))
            return param_err(e, "invalid_type", "response_format.type", "expected a string.");
        const char *t = json_string_value(type);
        if (strcmp(t, "json_object") == 0) {
            r->grammar_kind = HR_API_GRAMMAR_JSON_OBJECT;
            r->grammar_param = "response_format";
            structured = true;
        } else if (strcmp(t, "json_schema") == 0) {
            if (hr_api__parse_schema_format(r, json_object_get(rf, "json_schema"),
                                            "response_format.json_schema",
                                            "response_format.json_schema.schema", e) != 0)
                return -1;
            structured = true;
        } else if (strcmp(t, "text") != 0) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value",
                             "response_format.type",
                             "Invalid value: '%.64s'. Supported values are: 'text', "
                             "'json_object' and 'json_schema'.", t);
            return -1;
        }
    }
    if (gr && !json_is_null(gr)) {
        if (structured)
            return param_err(e, "invalid_value", "grammar",
                             "give either 'grammar' or a structured 'response_format', not "
                             "both.");
        r->grammar_text = strdup(json_string_value(gr));
        if (!r->grammar_text) {
            hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
            return -1;
        }
        r->grammar_kind = HR_API_GRAMMAR_GBNF;
        r->grammar_param = "grammar";
    }
    return 0;
}

int hr_api_chat_compile_grammar(struct hr_api_chat_req *r, struct hr_api_error *e)
{
    struct hr_diag d = {{0}};
    int rc = 0;
    switch (r->grammar_kind) {
    case HR_API_GRAMMAR_NONE:
        return 0;
    case HR_API_GRAMMAR_JSON_OBJECT:
        rc = hr_grammar_json_object(&r->grammar, &d);
        break;
    case HR_API_GRAMMAR_SCHEMA:
        rc = hr_grammar_from_schema(&r->grammar, r->grammar_text, strlen(r->grammar_text),
                                    r->grammar_strict, &d);
        break;
    case HR_API_GRAMMAR_GBNF:
        rc = hr_grammar_parse(&r->grammar, r->grammar_text, strlen(r->grammar_text), &d);
        break;
    }
    if (rc == 0)
        return 0;
    if (rc == HR_ENOMEM) {
        hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory compiling '%s'",
                         r->grammar_param);
        return -1;
    }
    hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", r->grammar_param,
                     "Invalid '%s': %s", r->grammar_param, d.msg[0] ? d.msg : hr_err_str(rc));
    return -1;
}
