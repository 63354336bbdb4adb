/* Tool calls parsed out of model answers: each format's calls become OpenAI tool_calls
 * (id, type, name, arguments as JSON text) with the text around them kept; calls of tools
 * that were not offered, or with arguments that are not an object, stay text; the format is
 * recognised from real templates in ../shared/templates. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static json_t *tools;

static json_t *parse(enum hr_api_tool_format f, const char *text, char **content)
{
    size_t n = 0;
    json_t *calls = hr_api_parse_tool_calls(f, text, strlen(text), tools, content, &n);
    assert_non_null(calls);
    assert_int_equal(strlen(*content), n);
    return calls;
}

static void check_call(json_t *calls, size_t i, const char *name, const char *args)
{
    json_t *c = json_array_get(calls, i);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "type")), "function");
    const char *id = json_string_value(json_object_get(c, "id"));
    assert_non_null(id);
    assert_true(strlen(id) > 5);
    json_t *fn = json_object_get(c, "function");
    assert_string_equal(json_string_value(json_object_get(fn, "name")), name);
    assert_string_equal(json_string_value(json_object_get(fn, "arguments")), args);
}

static void test_hermes(void **state)
{
    (void)state;
    char *content = NULL;
    json_t *calls = parse(HR_TOOLS_HERMES,
                          "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                          "{\"city\": \"Oslo\"}}\n</tool_call>\n<tool_call>{\"name\": \"add\", "
                          "\"arguments\": {\"a\": 1, \"b\": 2}}</tool_call>",
                          &content);
    assert_int_equal(json_array_size(calls), 2);
    check_call(calls, 0, "get_weather", "{\"city\":\"Oslo\"}");
    check_call(calls, 1, "add", "{\"a\":1,\"b\":2}");
    assert_string_equal(content, "Let me look.");
    /* distinct ids */
    assert_string_not_equal(
        json_string_value(json_object_get(json_array_get(calls, 0), "id")),
        json_string_value(json_object_get(json_array_get(calls, 1), "id")));
    json_decref(calls);
    free(content);
    /* an unclosed last call (generation ended at EOS right after the JSON) still counts */
    calls = parse(HR_TOOLS_HERMES, "<tool_call>{\"name\": \"add\", \"arguments\": {}}", &content);
    assert_int_equal(json_array_size(calls), 1);
    check_call(calls, 0, "add", "{}");
    assert_string_equal(content, "");
    json_decref(calls);
    free(content);
    /* a tool nobody offered, broken JSON, or non-object arguments: text */
    const char *bad[] = {
        "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>",
        "<tool_call>{\"name\": \"add\", \"arguments\": </tool_call>",
        "<tool_call>{\"name\": \"add\", \"arguments\": [1]}</tool_call>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        calls = parse(HR_TOOLS_HERMES, bad[i], &content);
        assert_int_equal(json_array_size(calls), 0);
        assert_string_equal(content, bad[i]);
        json_decref(calls);
        free(content);
    }
}

static void test_llama3(void **state)
{
    (void)state;
    char *content = NULL;
    json_t *calls = parse(HR_TOOLS_LLAMA3,
                          "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": "
                          "\"Rome\"}}; {\"name\": \"add\", \"parameters\": {\"a\": 3}}",
                          &content);
    assert_int_equal(json_array_size(calls), 2);
    check_call(calls, 0, "get_weather", "{\"city\":\"Rome\"}");
    check_call(calls, 1, "add", "{\"a\":3}");
    assert_string_equal(content, "");
    json_decref(calls);
    free(content);
    /* prose, or a JSON answer followed by prose, is not a call */
    const char *text[] = {"The weather is fine.",
                          "{\"name\": \"add\", \"parameters\": {}} and more words",
                          "{\"answer\": 42}"};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        calls = parse(HR_TOOLS_LLAMA3, text[i], &content);
        assert_int_equal(json_array_size(calls), 0);
        assert_string_equal(content, text[i]);
        json_decref(calls);
        free(content);
    }
}

static void test_mistral(void **state)
{
    (void)state;
    char *content = NULL;
    json_t *calls = parse(HR_TOOLS_MISTRAL,
                          "[TOOL_CALLS] [{\"name\": \"add\", \"arguments\": {\"a\": 1}, \"id\": "
                          "\"abc123def\"}]",
                          &content);
    assert_int_equal(json_array_size(calls), 1);
    check_call(calls, 0, "add", "{\"a\":1}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0), "id")),
                        "abc123def");
    json_decref(calls);
    free(content);
    calls = parse(HR_TOOLS_MISTRAL,
                  "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Bern\"}[TOOL_CALLS]add[ARGS]{}",
                  &content);
    assert_int_equal(json_array_size(calls), 2);
    check_call(calls, 0, "get_weather", "{\"city\":\"Bern\"}");
    check_call(calls, 1, "add", "{}");
    json_decref(calls);
    free(content);
    calls = parse(HR_TOOLS_MISTRAL, "[TOOL_CALLS] not json", &content);
    assert_int_equal(json_array_size(calls), 0);
    assert_string_equal(content, "[TOOL_CALLS] not json");
    json_decref(calls);
    free(content);
}

static void test_formats_of_real_templates(void **state)
{
    (void)state;
    struct {
        const char *file;
        enum hr_api_tool_format want;
    } cases[] = {
        {"Qwen-Qwen2.5-7B-Instruct.jinja", HR_TOOLS_HERMES},
        {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", HR_TOOLS_HERMES},
        {"meta-llama-Llama-3.1-8B-Instruct.jinja", HR_TOOLS_LLAMA3},
        {"meta-llama-Llama-3.3-70B-Instruct.jinja", HR_TOOLS_LLAMA3},
        {"mistralai-Mistral-Nemo-Instruct-2407.jinja", HR_TOOLS_MISTRAL},
        {"google-gemma-2-2b-it.jinja", HR_TOOLS_NONE},
    };
    char path[512];
    if (!tu_shared_path("templates", path, sizeof path))
        skip();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char file[768];
        snprintf(file, sizeof file, "%s/%s", path, cases[i].file);
        FILE *f = fopen(file, "rb");
        assert_non_null(f);
        static char src[1 << 20];
        size_t n = fread(src, 1, sizeof src - 1, f);
        fclose(f);
        src[n] = '\0';
        assert_int_equal(hr_api_tool_format(src), cases[i].want);
    }
    assert_int_equal(hr_api_tool_format(NULL), HR_TOOLS_NONE);
    assert_string_equal(hr_api_tool_start(HR_TOOLS_HERMES), "<tool_call>");
    assert_null(hr_api_tool_start(HR_TOOLS_NONE));
}

/* The response shapes: message.tool_calls with content null (or the text), and a delta. */
static void test_response_json(void **state)
{
    (void)state;
    char *content = NULL;
    json_t *calls = parse(HR_TOOLS_HERMES, "<tool_call>{\"name\": \"add\", \"arguments\": "
                                           "{\"a\": 1}}</tool_call>", &content);
    struct hr_api_usage u = {10, 5, 0};
    char *s = hr_api_chat_completion_tools_json("chatcmpl-1", 1, "m", NULL, 40, calls, &u);
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    json_t *c = json_array_get(json_object_get(j, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "finish_reason")), "tool_calls");
    json_t *msg = json_object_get(c, "message");
    assert_true(json_is_null(json_object_get(msg, "content")));
    json_t *tc = json_array_get(json_object_get(msg, "tool_calls"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(tc, "function"),
                                                          "arguments")), "{\"a\":1}");
    json_decref(j);
    free(s);
    free(content);
    calls = parse(HR_TOOLS_HERMES, "<tool_call>{\"name\": \"add\", \"arguments\": {}}"
                                   "</tool_call>", &content);
    s = hr_api_chat_tool_chunk_json("chatcmpl-1", 1, "m", 0, calls, true);
    j = json_loads(s, 0, NULL);
    json_t *d = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta");
    json_t *t0 = json_array_get(json_object_get(d, "tool_calls"), 0);
    assert_int_equal(json_integer_value(json_object_get(t0, "index")), 0);
    assert_true(json_is_null(json_object_get(j, "usage")));
    json_decref(j);
    json_decref(calls);
    free(s);
    free(content);
}

static int setup(void **state)
{
    (void)state;
    tools = json_loads("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                       "\"parameters\":{\"type\":\"object\"}}},{\"type\":\"function\","
                       "\"function\":{\"name\":\"add\"}}]", 0, NULL);
    return tools ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(tools);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hermes),
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_mistral),
        cmocka_unit_test(test_formats_of_real_templates),
        cmocka_unit_test(test_response_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
