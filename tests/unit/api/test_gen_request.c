/* api/: legacy completion and Responses API bodies (prompt shapes, defaults, refusals with
 * their params, the Responses conversation rewritten as chat messages and tools), and the
 * legacy logprobs and response object shapes. */
#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static int cmpl(const char *body, struct hr_api_completion_req *r, struct hr_api_error *e)
{
    memset(e, 0, sizeof *e);
    return hr_api_completion_parse(body, strlen(body), r, e);
}

static int resp(const char *body, struct hr_api_responses_req *r, struct hr_api_error *e)
{
    memset(e, 0, sizeof *e);
    return hr_api_responses_parse(body, strlen(body), r, e);
}

static void cmpl_refused(const char *body, const char *param, const char *code)
{
    struct hr_api_completion_req r;
    struct hr_api_error e;
    if (cmpl(body, &r, &e) == 0)
        fail_msg("accepted: %s", body);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, param);
    if (code)
        assert_string_equal(e.code, code);
    hr_api_completion_req_deinit(&r);
}

static void resp_refused(const char *body, const char *param, const char *code)
{
    struct hr_api_responses_req r;
    struct hr_api_error e;
    if (resp(body, &r, &e) == 0)
        fail_msg("accepted: %s", body);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, param);
    if (code)
        assert_string_equal(e.code, code);
    hr_api_responses_req_deinit(&r);
}

static void test_completion_prompts(void **state)
{
    (void)state;
    struct hr_api_completion_req r;
    struct hr_api_error e;
    assert_int_equal(cmpl("{\"model\":\"m\",\"prompt\":\"hi\"}", &r, &e), 0);
    assert_int_equal(r.n_prompts, 1);
    assert_int_equal(r.prompts[0].len, 2);
    assert_int_equal(r.base.max_tokens, 16); /* the legacy default */
    assert_int_equal(r.base.n, 1);
    assert_false(r.base.logprobs);
    hr_api_completion_req_deinit(&r);

    assert_int_equal(cmpl("{\"model\":\"m\",\"prompt\":[\"a\",\"bc\"],\"n\":3,\"echo\":true,"
                          "\"logprobs\":null,\"max_tokens\":4}", &r, &e), 0);
    assert_int_equal(r.n_prompts, 2);
    assert_int_equal(r.prompts[1].len, 2);
    assert_int_equal(r.base.n, 3);
    assert_true(r.echo);
    assert_int_equal(r.base.max_tokens, 4);
    hr_api_completion_req_deinit(&r);

    assert_int_equal(cmpl("{\"model\":\"m\",\"prompt\":[5,6,7],\"logprobs\":2}", &r, &e), 0);
    assert_int_equal(r.n_prompts, 1);
    assert_null(r.prompts[0].text);
    assert_int_equal(r.prompts[0].n_ids, 3);
    assert_int_equal(r.prompts[0].ids[2], 7);
    assert_true(r.base.logprobs);
    assert_int_equal(r.base.top_logprobs, 2);
    assert_int_equal(hr_api_completion_check_vocab(&r, 8, &e), 0);
    assert_int_not_equal(hr_api_completion_check_vocab(&r, 7, &e), 0);
    assert_string_equal(e.param, "prompt");
    hr_api_completion_req_deinit(&r);

    assert_int_equal(cmpl("{\"model\":\"m\",\"prompt\":[[1],[2,3]],\"best_of\":1}", &r, &e), 0);
    assert_int_equal(r.n_prompts, 2);
    assert_int_equal(r.prompts[1].n_ids, 2);
    assert_int_not_equal(hr_api_completion_check_vocab(&r, 3, &e), 0);
    assert_string_equal(e.param, "prompt[1]");
    hr_api_completion_req_deinit(&r);
}

static void test_completion_refusals(void **state)
{
    (void)state;
    cmpl_refused("{\"model\":\"m\"}", "prompt", "missing_required_parameter");
    cmpl_refused("{\"model\":\"m\",\"prompt\":[]}", "prompt", "empty_array");
    cmpl_refused("{\"model\":\"m\",\"prompt\":true}", "prompt", "invalid_type");
    cmpl_refused("{\"model\":\"m\",\"prompt\":[\"a\",[1]]}", "prompt[1]", "invalid_type");
    cmpl_refused("{\"model\":\"m\",\"prompt\":[1,-2]}", "prompt[1]", "invalid_value");
    cmpl_refused("{\"model\":\"m\",\"prompt\":[[1],[]]}", "prompt[1]", "invalid_value");
    cmpl_refused("{\"model\":\"m\",\"prompt\":\"x\",\"suffix\":\"y\"}", "suffix",
                 "unsupported_parameter");
    cmpl_refused("{\"model\":\"m\",\"prompt\":\"x\",\"best_of\":2}", "best_of",
                 "unsupported_parameter");
    cmpl_refused("{\"model\":\"m\",\"prompt\":\"x\",\"echo\":true,\"logprobs\":0}", "echo",
                 "invalid_value");
    cmpl_refused("{\"model\":\"m\",\"prompt\":\"x\",\"logprobs\":6}", "logprobs",
                 "integer_above_max_value");
    cmpl_refused("{\"model\":\"m\",\"prompt\":[\"a\",\"b\"],\"n\":65}", "prompt",
                 "invalid_value");
    cmpl_refused("{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":0}", "max_tokens", NULL);
    cmpl_refused("{\"model\":\"m\",\"prompt\":\"x\",\"stop\":\"\"}", "stop", NULL);
    /* an empty suffix asks for nothing */
    struct hr_api_completion_req r;
    struct hr_api_error e;
    assert_int_equal(cmpl("{\"model\":\"m\",\"prompt\":\"x\",\"suffix\":\"\"}", &r, &e), 0);
    hr_api_completion_req_deinit(&r);
}

static void test_responses_conversation(void **state)
{
    (void)state;
    struct hr_api_responses_req r;
    struct hr_api_error e;
    assert_int_equal(resp("{\"model\":\"m\",\"input\":\"hi\",\"instructions\":\"S\","
                          "\"max_output_tokens\":9,\"temperature\":0.5}", &r, &e), 0);
    assert_int_equal(r.base.n_msgs, 2);
    assert_string_equal(r.base.msgs[0].role, "system");
    assert_string_equal(r.base.msgs[0].content, "S");
    assert_string_equal(r.base.msgs[1].role, "user");
    assert_string_equal(r.base.msgs[1].content, "hi");
    assert_int_equal(r.base.max_tokens, 9);
    assert_int_equal(r.base.n, 1);
    assert_string_equal(json_string_value(json_object_get(r.echo, "instructions")), "S");
    assert_int_equal(json_integer_value(json_object_get(r.echo, "max_output_tokens")), 9);
    hr_api_responses_req_deinit(&r);

    const char *body =
        "{\"model\":\"m\",\"input\":[{\"role\":\"developer\",\"content\":\"D\"},"
        "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
        "\"text\":\"a\"},{\"type\":\"input_text\",\"text\":\"b\"}]},"
        "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},"
        "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"f\",\"arguments\":\"{}\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"ok\"}],"
        "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}],"
        "\"tool_choice\":{\"type\":\"function\",\"name\":\"f\"}}";
    assert_int_equal(resp(body, &r, &e), 0);
    /* developer, user, one assistant turn holding both calls, the tool result */
    assert_int_equal(r.base.n_msgs, 4);
    assert_string_equal(r.base.msgs[0].role, "system");
    assert_string_equal(r.base.msgs[1].content, "ab");
    assert_string_equal(r.base.msgs[2].role, "assistant");
    assert_string_equal(r.base.msgs[3].role, "tool");
    assert_string_equal(r.base.msgs[3].content, "ok");
    json_t *msgs = json_object_get(r.base.root, "messages");
    assert_int_equal(json_array_size(json_object_get(json_array_get(msgs, 2), "tool_calls")), 2);
    assert_non_null(r.base.tools);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(r.base.tools, 0), "function"),
                            "name")),
                        "f");
    assert_int_equal(r.base.tool_choice, HR_TOOL_CHOICE_NAMED);
    assert_string_equal(r.base.tool_choice_name, "f");
    /* the response repeats the tools as they were sent */
    json_t *t0 = json_array_get(json_object_get(r.echo, "tools"), 0);
    assert_string_equal(json_string_value(json_object_get(t0, "name")), "f");
    hr_api_responses_req_deinit(&r);

    assert_int_equal(resp("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":"
                          "\"json_schema\",\"name\":\"t\",\"schema\":{\"type\":\"object\"},"
                          "\"strict\":true}}}", &r, &e), 0);
    assert_int_equal(r.base.grammar_kind, HR_API_GRAMMAR_SCHEMA);
    assert_true(r.base.grammar_strict);
    assert_string_equal(r.base.grammar_param, "text.format.schema");
    hr_api_responses_req_deinit(&r);
}

static void test_responses_refusals(void **state)
{
    (void)state;
    resp_refused("{\"model\":\"m\"}", "input", "missing_required_parameter");
    resp_refused("{\"model\":\"m\",\"input\":[]}", "input", "empty_array");
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"previous_response_id\":\"r\"}",
                 "previous_response_id", "unsupported_parameter");
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"conversation\":\"c\"}", "conversation",
                 "unsupported_parameter");
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"background\":true}", "background",
                 "unsupported_parameter");
    resp_refused("{\"model\":\"m\",\"input\":[{\"type\":\"reasoning\"}]}", "input[0].type",
                 "unsupported_parameter");
    resp_refused("{\"model\":\"m\",\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
                 "input[0].role", "invalid_value");
    resp_refused("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
                 "\"input_image\"}]}]}", "input[0].content[0].type", "unsupported_parameter");
    resp_refused("{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"name\":\"f\","
                 "\"arguments\":\"{}\"}]}", "input[0].call_id", "missing_required_parameter");
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"file_search\"}]}",
                 "tools[0].type", "unsupported_parameter");
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
                 "\"name\":\"f\",\"strict\":1}]}", "tools[0].strict", "invalid_type");
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"xml\"}}}",
                 "text.format.type", "invalid_value");
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":"
                 "\"json_schema\",\"name\":\"t\"}}}", "text.format.schema",
                 "missing_required_parameter");
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":0}",
                 "max_output_tokens", NULL);
    resp_refused("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\","
                 "\"name\":\"f\"}],\"tool_choice\":\"required\",\"text\":{\"format\":"
                 "{\"type\":\"json_object\"}}}", "tool_choice", "invalid_value");
}

static void test_shapes(void **state)
{
    (void)state;
    /* legacy logprobs from chat-style entries: offsets count characters */
    json_t *entries = json_loads(
        "[{\"token\":\"ab\",\"logprob\":-1.0,\"bytes\":[97,98],\"top_logprobs\":"
        "[{\"token\":\"ab\",\"logprob\":-1.0},{\"token\":\"x\",\"logprob\":-2.0}]},"
        "{\"token\":\"\\u00e9\",\"logprob\":-0.5,\"bytes\":[195,169],\"top_logprobs\":[]}]",
        0, NULL);
    assert_non_null(entries);
    size_t off = 3;
    json_t *lp = hr_api_completion_logprobs_json(entries, &off);
    char *s = json_dumps(lp, JSON_COMPACT);
    assert_string_equal(s, "{\"tokens\":[\"ab\",\"\xc3\xa9\"],\"token_logprobs\":[-1.0,-0.5],"
                           "\"top_logprobs\":[{\"ab\":-1.0,\"x\":-2.0},{}],"
                           "\"text_offset\":[3,5]}");
    assert_int_equal(off, 6);
    free(s);
    json_decref(lp);
    json_decref(entries);

    json_t *calls = json_loads("[{\"id\":\"call_9\",\"type\":\"function\",\"function\":"
                               "{\"name\":\"f\",\"arguments\":\"{}\"}}]", 0, NULL);
    struct hr_api_usage u = {5, 2, 0};
    struct hr_api_response_info ri = {.id = "resp_1", .created_at = 7, .model = "m",
                                      .status = "incomplete", .msg_id = "msg_1", .text = NULL,
                                      .calls = calls, .u = &u, .echo = NULL};
    json_t *o = hr_api_response_obj(&ri);
    s = json_dumps(o, JSON_COMPACT);
    assert_string_equal(s, "{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":7,"
                           "\"status\":\"incomplete\",\"error\":null,\"incomplete_details\":"
                           "{\"reason\":\"max_output_tokens\"},\"model\":\"m\",\"output\":"
                           "[{\"type\":\"function_call\",\"id\":\"fc_9\",\"call_id\":\"call_9\","
                           "\"name\":\"f\",\"arguments\":\"{}\",\"status\":\"incomplete\"}],"
                           "\"usage\":{\"input_tokens\":5,\"input_tokens_details\":"
                           "{\"cached_tokens\":0},\"output_tokens\":2,\"output_tokens_details\":"
                           "{\"reasoning_tokens\":0},\"total_tokens\":7}}");
    free(s);
    json_decref(o);
    json_decref(calls);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_prompts),
        cmocka_unit_test(test_completion_refusals),
        cmocka_unit_test(test_responses_conversation),
        cmocka_unit_test(test_responses_refusals),
        cmocka_unit_test(test_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
