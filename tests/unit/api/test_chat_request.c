/* api/: chat request validation (every field's type and range, OpenAI's wording and param
 * names), the error table, and the exact shapes of completion, chunk and model JSON. */
#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static int parse(const char *body, struct hr_api_chat_req *r, struct hr_api_error *e)
{
    memset(e, 0, sizeof *e);
    return hr_api_chat_parse(body, strlen(body), r, e);
}

/* body must be refused with status and param (NULL: param null), code (NULL: any). */
static void refused(const char *body, int status, const char *param, const char *code)
{
    struct hr_api_chat_req r;
    struct hr_api_error e;
    if (parse(body, &r, &e) == 0)
        fail_msg("accepted: %s", body);
    assert_int_equal(e.status, status);
    assert_string_equal(e.param, param ? param : "");
    if (code)
        assert_string_equal(e.code, code);
    assert_true(strlen(e.message) > 0);
    hr_api_chat_req_deinit(&r);
}

static void test_minimal_request_defaults(void **state)
{
    (void)state;
    struct hr_api_chat_req r;
    struct hr_api_error e;
    assert_int_equal(parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                           &r, &e), 0);
    assert_string_equal(r.model, "m");
    assert_int_equal(r.n_msgs, 1);
    assert_string_equal(r.msgs[0].role, "user");
    assert_string_equal(r.msgs[0].content, "hi");
    assert_false(r.stream);
    assert_int_equal(r.max_tokens, 0);
    assert_true(r.sampling.temperature == 1.0f);
    assert_true(r.sampling.top_p == 1.0f);
    hr_api_chat_req_deinit(&r);
}

static void test_all_fields(void **state)
{
    (void)state;
    struct hr_api_chat_req r;
    struct hr_api_error e;
    const char *body =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"sys\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"text\",\"text\":\"b\"}]},{\"role\":\"assistant\",\"content\":null}],"
        "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":5,"
        "\"max_completion_tokens\":7,\"temperature\":0,\"top_p\":0.5,\"top_k\":3,\"seed\":42,"
        "\"user\":\"u1\",\"n\":1,\"stop\":null,\"presence_penalty\":0,\"unknown_field\":[1]}";
    assert_int_equal(parse(body, &r, &e), 0);
    assert_int_equal(r.n_msgs, 3);
    assert_string_equal(r.msgs[0].role, "system");
    assert_string_equal(r.msgs[1].content, "ab");
    assert_string_equal(r.msgs[2].content, "");
    assert_true(r.stream && r.include_usage);
    assert_int_equal(r.max_tokens, 7);
    assert_true(r.sampling.temperature == 0.0f);
    assert_true(r.sampling.top_p == 0.5f);
    assert_int_equal(r.sampling.top_k, 3);
    assert_int_equal(r.sampling.seed, 42);
    assert_string_equal(r.user, "u1");
    hr_api_chat_req_deinit(&r);
}

/* The sampling controls beyond OpenAI's basic four, and stop strings. */
static void test_sampling_controls(void **state)
{
    (void)state;
    struct hr_api_chat_req r;
    struct hr_api_error e;
    const char *body =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"stop\":[\"END\",\"\\n\\n\"],\"presence_penalty\":0.5,\"frequency_penalty\":-1,"
        "\"min_p\":0.05,\"typical_p\":0.9,\"repeat_penalty\":1.1,\"repeat_last_n\":-1,"
        "\"ignore_eos\":true,\"logit_bias\":{\"7\":-100,\"12\":2.5}}";
    assert_int_equal(parse(body, &r, &e), 0);
    assert_int_equal(r.n_stop, 2);
    assert_string_equal(r.stop[0], "END");
    assert_string_equal(r.stop[1], "\n\n");
    assert_true(r.sampling.presence_penalty == 0.5f && r.sampling.frequency_penalty == -1.0f);
    assert_true(r.sampling.min_p == 0.05f && r.sampling.typical_p == 0.9f);
    assert_true(r.sampling.repeat_penalty == 1.1f);
    assert_int_equal(r.sampling.repeat_last_n, HR_MODEL_MAX_CTX);
    assert_true(r.ignore_eos);
    assert_int_equal(r.sampling.n_logit_bias, 2);
    assert_int_equal(r.sampling.logit_bias[0].token, 7);
    assert_true(r.sampling.logit_bias[0].bias == -100.0f);
    assert_int_equal(r.sampling.logit_bias[1].token, 12);
    assert_int_equal(hr_api_chat_check_vocab(&r, 13, &e), 0);
    assert_int_equal(hr_api_chat_check_vocab(&r, 12, &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, "logit_bias");
    hr_api_chat_req_deinit(&r);
    /* a single string; defaults: repeat window 64, penalty off */
    assert_int_equal(parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\""
                           ":\"x\"}],\"stop\":\"###\"}", &r, &e), 0);
    assert_int_equal(r.n_stop, 1);
    assert_string_equal(r.stop[0], "###");
    assert_int_equal(r.sampling.repeat_last_n, 64);
    assert_true(r.sampling.repeat_penalty == 1.0f);
    assert_int_equal(r.sampling.n_logit_bias, 0);
    hr_api_chat_req_deinit(&r);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("{", 400, NULL, NULL);
    refused("[1,2]", 400, NULL, NULL);
    refused("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400, "model",
            "missing_required_parameter");
    refused("{\"model\":3,\"messages\":[]}", 400, "model", "invalid_type");
    refused("{\"model\":\"m\"}", 400, "messages", "missing_required_parameter");
    refused("{\"model\":\"m\",\"messages\":{}}", 400, "messages", "invalid_type");
    refused("{\"model\":\"m\",\"messages\":[]}", 400, "messages", "empty_array");
    refused("{\"model\":\"m\",\"messages\":[1]}", 400, "messages[0]", "invalid_type");
    refused("{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", 400, "messages[0].role",
            "missing_required_parameter");
    refused("{\"model\":\"m\",\"messages\":[{\"role\":\"god\",\"content\":\"x\"}]}", 400,
            "messages[0].role", "invalid_value");
    refused("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", 400, "messages[0].content",
            NULL);
    refused("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400,
            "messages[0].content", "invalid_type");
    refused("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
            "\"image_url\"}]}]}", 400, "messages[0].content[0].type", NULL);
#define M "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
#define T "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}"
    refused("{" M ",\"temperature\":\"hot\"}", 400, "temperature", "invalid_type");
    refused("{" M ",\"temperature\":2.5}", 400, "temperature", "decimal_above_max_value");
    refused("{" M ",\"temperature\":-1}", 400, "temperature", "decimal_below_min_value");
    refused("{" M ",\"top_p\":1.5}", 400, "top_p", NULL);
    refused("{" M ",\"top_k\":-1}", 400, "top_k", "integer_below_min_value");
    refused("{" M ",\"max_tokens\":0}", 400, "max_tokens", "integer_below_min_value");
    refused("{" M ",\"max_tokens\":1.5}", 400, "max_tokens", "invalid_type");
    refused("{" M ",\"max_completion_tokens\":-3}", 400, "max_completion_tokens", NULL);
    refused("{" M ",\"stream\":\"yes\"}", 400, "stream", "invalid_type");
    refused("{" M ",\"stream_options\":{\"include_usage\":true}}", 400, "stream_options", NULL);
    refused("{" M ",\"stream\":true,\"stream_options\":{\"include_usage\":1}}", 400,
            "stream_options.include_usage", "invalid_type");
    refused("{" M ",\"seed\":\"1\"}", 400, "seed", "invalid_type");
    refused("{" M ",\"user\":5}", 400, "user", "invalid_type");
    refused("{" M ",\"n\":0}", 400, "n", "integer_below_min_value");
    refused("{" M ",\"n\":129}", 400, "n", "integer_above_max_value");
    refused("{" M ",\"stop\":5}", 400, "stop", "invalid_type");
    refused("{" M ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 400, "stop",
            "array_above_max_length");
    refused("{" M ",\"stop\":[\"a\",3]}", 400, "stop[1]", "invalid_type");
    refused("{" M ",\"stop\":\"\"}", 400, "stop", "invalid_value");
    refused("{" M ",\"stop\":[\"a\\u0000b\"]}", 400, NULL, NULL); /* NUL: not JSON we take */
    refused("{" M ",\"presence_penalty\":2.5}", 400, "presence_penalty",
            "decimal_above_max_value");
    refused("{" M ",\"frequency_penalty\":-3}", 400, "frequency_penalty",
            "decimal_below_min_value");
    refused("{" M ",\"min_p\":1.5}", 400, "min_p", NULL);
    refused("{" M ",\"typical_p\":-0.1}", 400, "typical_p", NULL);
    refused("{" M ",\"repeat_penalty\":\"x\"}", 400, "repeat_penalty", "invalid_type");
    refused("{" M ",\"repeat_last_n\":-2}", 400, "repeat_last_n", NULL);
    refused("{" M ",\"ignore_eos\":1}", 400, "ignore_eos", "invalid_type");
    refused("{" M ",\"logit_bias\":[1]}", 400, "logit_bias", "invalid_type");
    refused("{" M ",\"logit_bias\":{\"x\":1}}", 400, "logit_bias", "invalid_value");
    refused("{" M ",\"logit_bias\":{\"-1\":1}}", 400, "logit_bias", "invalid_value");
    refused("{" M ",\"logit_bias\":{\"01\":1}}", 400, "logit_bias", "invalid_value");
    refused("{" M ",\"logit_bias\":{\"5\":101}}", 400, "logit_bias", "invalid_value");
    refused("{" M ",\"logit_bias\":{\"5\":\"1\"}}", 400, "logit_bias", "invalid_type");
    refused("{" M ",\"logprobs\":1}", 400, "logprobs", "invalid_type");
    refused("{" M ",\"top_logprobs\":2}", 400, "top_logprobs", "invalid_value");
    refused("{" M ",\"logprobs\":true,\"top_logprobs\":21}", 400, "top_logprobs",
            "integer_above_max_value");
    refused("{" M ",\"tools\":[{\"type\":\"function\"}]}", 400, "tools[0].function",
            "invalid_type");
    refused("{" M ",\"tools\":{}}", 400, "tools", "invalid_type");
    refused("{" M ",\"tools\":[{\"type\":\"retrieval\"}]}", 400, "tools[0].type", NULL);
    refused("{" M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}]}",
            400, "tools[0].function.name", "invalid_value");
    refused("{" M ",\"tools\":[" T "," T "]}", 400, "tools[1].function.name", NULL);
    refused("{" M ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
            "\"parameters\":[]}}]}", 400, "tools[0].function.parameters", "invalid_type");
    refused("{" M ",\"tool_choice\":\"auto\"}", 400, "tool_choice", NULL); /* no tools */
    refused("{" M ",\"tools\":[" T "],\"tool_choice\":\"sometimes\"}", 400, "tool_choice",
            NULL);
    refused("{" M ",\"tools\":[" T "],\"tool_choice\":{\"type\":\"function\",\"function\":"
            "{\"name\":\"other\"}}}", 400, "tool_choice", NULL);
    refused("{" M ",\"functions\":[{\"name\":\"f\"}]}", 400, "functions", NULL);
    refused("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"tool_calls\""
            ":[]}]}", 400, "messages[0].tool_calls", NULL);
    refused("{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":null,"
            "\"tool_calls\":[{\"id\":\"c1\",\"function\":{\"name\":\"f\"}}]}]}", 400,
            "messages[0].tool_calls[0]", NULL);
    refused("{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"42\"}]}", 400,
            "messages[0].tool_call_id", "missing_required_parameter");
    refused("{" M ",\"response_format\":{\"type\":\"xml\"}}", 400,
            "response_format.type", "invalid_value");
    refused("{" M ",\"model\":\"dup\"}", 400, NULL, NULL); /* duplicate keys are ambiguous */
#undef M
#undef T
}

/* A conversation with tools offered, a call and its result, as template values. */
static void test_tools_and_template_values(void **state)
{
    (void)state;
    struct hr_api_chat_req r;
    struct hr_api_error e;
    const char *body =
        "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"description\":\"Weather now\",\"parameters\":{\"type\":\"object\","
        "\"properties\":{\"city\":{\"type\":\"string\"}}}}}],\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
        "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"city\\\": \\\"Oslo\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"-3 C\"}]}";
    assert_int_equal(parse(body, &r, &e), 0);
    assert_non_null(r.tools);
    assert_int_equal(r.tool_choice, HR_TOOL_CHOICE_AUTO);
    struct hr_jval *msgs = hr_api_chat_template_messages(&r);
    struct hr_jval *tools = hr_api_chat_template_tools(&r);
    assert_non_null(msgs);
    assert_non_null(tools);
    /* rendered through a template that shows every field */
    const char *tpl = "{% for m in messages %}{{ m.role }}:{{ m.content }}"
                      "{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments.city }}"
                      "{% endif %}{% if m.tool_call_id %}#{{ m.tool_call_id }}{% endif %};"
                      "{% endfor %}{{ tools[0].function.name }}";
    struct hr_chat_template *t = NULL;
    assert_int_equal(hr_chat_template_new(&t, tpl, strlen(tpl), NULL), 0);
    char *out = NULL;
    assert_int_equal(hr_chat_template_apply(t, msgs, tools, false, "", "", 0, &out, NULL), 0);
    assert_string_equal(out, "user:Weather in Oslo?;assistant:NoneOslo;tool:-3 C#call_1;"
                             "get_weather");
    free(out);
    hr_chat_template_free(t);
    hr_jval_unref(msgs);
    hr_jval_unref(tools);
    hr_api_chat_req_deinit(&r);
    /* tool_choice none: the tools are not shown to the model */
    assert_int_equal(parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                           "\"x\"}],\"tools\":[" "{\"type\":\"function\",\"function\":{\"name\":"
                           "\"f\"}}],\"tool_choice\":\"none\"}", &r, &e), 0);
    assert_int_equal(r.tool_choice, HR_TOOL_CHOICE_NONE);
    assert_null(hr_api_chat_template_tools(&r));
    hr_api_chat_req_deinit(&r);
}

/* Compiles the parsed request's grammar: 0, or the 400 (param, message part). */
static void compile_refused(const char *body, const char *param, const char *msg)
{
    struct hr_api_chat_req r;
    struct hr_api_error e;
    assert_int_equal(parse(body, &r, &e), 0);
    memset(&e, 0, sizeof e);
    if (hr_api_chat_compile_grammar(&r, &e) == 0)
        fail_msg("compiled: %s", body);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, param);
    if (!strstr(e.message, msg))
        fail_msg("message '%s' lacks '%s'", e.message, msg);
    assert_null(r.grammar);
    hr_api_chat_req_deinit(&r);
}

static void test_response_format(void **state)
{
    (void)state;
#define M "\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
    static const struct {
        const char *body;
        enum hr_api_grammar kind;
        bool strict;
    } ok[] = {
        {"{" M ",\"response_format\":{\"type\":\"text\"}}", HR_API_GRAMMAR_NONE, false},
        {"{" M ",\"response_format\":null}", HR_API_GRAMMAR_NONE, false},
        {"{" M ",\"response_format\":{\"type\":\"json_object\"}}", HR_API_GRAMMAR_JSON_OBJECT,
         false},
        {"{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
         "\"a-b_1\",\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":{\"x\":"
         "{\"type\":\"integer\"}},\"required\":[\"x\"],\"additionalProperties\":false}}}}",
         HR_API_GRAMMAR_SCHEMA, true},
        {"{" M ",\"grammar\":\"root ::= \\\"yes\\\" | \\\"no\\\"\"}", HR_API_GRAMMAR_GBNF,
         false},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct hr_api_chat_req r;
        struct hr_api_error e;
        if (parse(ok[i].body, &r, &e) != 0)
            fail_msg("refused %s: %s", ok[i].body, e.message);
        assert_int_equal(r.grammar_kind, ok[i].kind);
        assert_int_equal(r.grammar_strict, ok[i].strict);
        assert_int_equal(hr_api_chat_compile_grammar(&r, &e), 0);
        assert_int_equal(r.grammar != NULL, ok[i].kind != HR_API_GRAMMAR_NONE);
        hr_api_chat_req_deinit(&r);
    }
    refused("{" M ",\"response_format\":\"json\"}", 400, "response_format", "invalid_type");
    refused("{" M ",\"response_format\":{}}", 400, "response_format.type",
            "missing_required_parameter");
    refused("{" M ",\"response_format\":{\"type\":1}}", 400, "response_format.type",
            "invalid_type");
    refused("{" M ",\"response_format\":{\"type\":\"json_schema\"}}", 400,
            "response_format.json_schema", "missing_required_parameter");
    refused("{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":[]}}", 400,
            "response_format.json_schema", "invalid_type");
    refused("{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
            "\"schema\":{}}}}", 400, "response_format.json_schema.name",
            "missing_required_parameter");
    refused("{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
            "\"name\":\"a b\",\"schema\":{}}}}", 400, "response_format.json_schema.name",
            "invalid_value");
    refused("{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
            "\"name\":\"n\"}}}", 400, "response_format.json_schema.schema",
            "missing_required_parameter");
    refused("{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
            "\"name\":\"n\",\"schema\":\"{}\"}}}", 400, "response_format.json_schema.schema",
            "invalid_type");
    refused("{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
            "\"name\":\"n\",\"strict\":\"yes\",\"schema\":{}}}}", 400,
            "response_format.json_schema.strict", "invalid_type");
    refused("{" M ",\"grammar\":5}", 400, "grammar", "invalid_type");
    refused("{" M ",\"grammar\":\"\"}", 400, "grammar", "invalid_value");
    refused("{" M ",\"grammar\":\"root ::= \\\"a\\\"\",\"response_format\":{\"type\":"
            "\"json_object\"}}", 400, "grammar", "invalid_value");
    compile_refused("{" M ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
                    "\"name\":\"n\",\"schema\":{\"type\":\"object\",\"properties\":{\"p\":{"
                    "\"type\":\"string\",\"pattern\":\"a+\"}}}}}}",
                    "response_format.json_schema.schema",
                    "keyword 'pattern' is not supported (at /properties/p)");
    compile_refused("{" M ",\"grammar\":\"root ::= foo\"}", "grammar",
                    "Invalid 'grammar': line 1 column 10: undefined rule 'foo'");
#undef M
}

static void test_engine_error_table(void **state)
{
    (void)state;
    struct hr_api_error e;
    hr_api_error_from_engine(&e, HR_ECONTEXT, "too long");
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "context_length_exceeded");
    assert_string_equal(e.message, "too long");
    hr_api_error_from_engine(&e, HR_EFULL, NULL);
    assert_int_equal(e.status, 503);
    hr_api_error_from_engine(&e, HR_EINTERNAL, NULL);
    assert_int_equal(e.status, 500);
    assert_string_equal(e.type, "server_error");
}

static json_t *load(char *s)
{
    assert_non_null(s);
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(j);
    return j;
}

static void test_error_envelope(void **state)
{
    (void)state;
    struct hr_api_error e;
    hr_api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model", "no %s",
                     "\xff bad utf8");
    json_t *j = load(hr_api_error_json(&e));
    json_t *in = json_object_get(j, "error");
    assert_int_equal(json_object_size(j), 1);
    assert_int_equal(json_object_size(in), 4);
    assert_string_equal(json_string_value(json_object_get(in, "type")), "invalid_request_error");
    assert_string_equal(json_string_value(json_object_get(in, "param")), "model");
    assert_string_equal(json_string_value(json_object_get(in, "code")), "model_not_found");
    hr_api_error_set(&e, 400, "invalid_request_error", NULL, NULL, "x");
    json_decref(j);
    j = load(hr_api_error_json(&e));
    in = json_object_get(j, "error");
    assert_true(json_is_null(json_object_get(in, "param")));
    assert_true(json_is_null(json_object_get(in, "code")));
    json_decref(j);
}

static void test_response_shapes(void **state)
{
    (void)state;
    struct hr_api_usage u = {5, 3, 2};
    json_t *j = load(hr_api_chat_completion_json("chatcmpl-1", 1700000000, "m", "hi\xff", 3,
                                                 "length", &u, NULL));
    assert_string_equal(json_string_value(json_object_get(j, "object")), "chat.completion");
    json_t *c = json_array_get(json_object_get(j, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "finish_reason")), "length");
    json_t *msg = json_object_get(c, "message");
    assert_string_equal(json_string_value(json_object_get(msg, "content")), "hi\xef\xbf\xbd");
    json_t *usage = json_object_get(j, "usage");
    assert_int_equal(json_integer_value(json_object_get(usage, "total_tokens")), 8);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(usage, "prompt_tokens_details"), "cached_tokens")),
                     2);
    json_decref(j);

    j = load(hr_api_chat_chunk_json("chatcmpl-1", 1, "m", 0, "assistant", "", 0, NULL, true, NULL));
    c = json_array_get(json_object_get(j, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "delta"), "role")),
                        "assistant");
    assert_true(json_is_null(json_object_get(c, "finish_reason")));
    assert_true(json_is_null(json_object_get(j, "usage")));
    json_decref(j);

    j = load(hr_api_chat_chunk_json("chatcmpl-1", 1, "m", 2, NULL, NULL, 0, "stop", false, NULL));
    c = json_array_get(json_object_get(j, "choices"), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "index")), 2);
    assert_int_equal(json_object_size(json_object_get(c, "delta")), 0);
    assert_null(json_object_get(j, "usage"));
    json_decref(j);

    j = load(hr_api_chat_usage_chunk_json("chatcmpl-1", 1, "m", &u));
    assert_int_equal(json_array_size(json_object_get(j, "choices")), 0);
    json_decref(j);

    struct hr_api_model_info m = {"tiny", 5, "hearth-demo", 512, "F16", NULL, NULL, NULL, 0};
    j = load(hr_api_models_json(&m, 1));
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    json_t *m0 = json_array_get(json_object_get(j, "data"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "owned_by")), "hearth-demo");
    assert_int_equal(json_integer_value(json_object_get(m0, "context_length")), 512);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_request_defaults),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_sampling_controls),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_tools_and_template_values),
        cmocka_unit_test(test_response_format),
        cmocka_unit_test(test_engine_error_table),
        cmocka_unit_test(test_error_envelope),
        cmocka_unit_test(test_response_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
