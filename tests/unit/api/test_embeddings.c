/* api/: POST /v1/embeddings bodies (input in its four shapes, encoding_format, dimensions,
 * pooling, limits; every refusal a 400 naming its param), the model checks, base64 against
 * RFC 4648's vectors, and the answer's exact shape in both encodings. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

static int parse(const char *body, struct hr_api_embed_req *r, struct hr_api_error *e)
{
    memset(e, 0, sizeof *e);
    return hr_api_embed_parse(body, strlen(body), r, e);
}

/* body must be refused with status and param (NULL: param null), code (NULL: any). */
static void refused(const char *body, int status, const char *param, const char *code)
{
    struct hr_api_embed_req r;
    struct hr_api_error e;
    if (parse(body, &r, &e) == 0)
        fail_msg("accepted: %s", body);
    assert_int_equal(e.status, status);
    assert_string_equal(e.param, param ? param : "");
    if (code && (!e.code || strcmp(e.code, code) != 0))
        fail_msg("code %s, want %s: %s", e.code ? e.code : "null", code, body);
    assert_true(strlen(e.message) > 0);
    hr_api_embed_req_deinit(&r);
}

static void test_input_shapes(void **state)
{
    (void)state;
    struct hr_api_embed_req r;
    struct hr_api_error e;
    assert_int_equal(parse("{\"model\":\"m\",\"input\":\"hello\"}", &r, &e), 0);
    assert_string_equal(r.model, "m");
    assert_int_equal(r.n_inputs, 1);
    assert_string_equal(r.inputs[0].text, "hello");
    assert_int_equal(r.inputs[0].text_len, 5);
    assert_null(r.inputs[0].tokens);
    assert_int_equal(r.format, HR_API_EMBED_FLOAT);
    assert_int_equal(r.dimensions, 0);
    assert_int_equal(r.pooling, HR_POOLING_UNSPECIFIED);
    hr_api_embed_req_deinit(&r);

    assert_int_equal(parse("{\"model\":\"m\",\"input\":[\"a\",\"bc\",\"d\"],\"user\":\"u\"}",
                           &r, &e), 0);
    assert_int_equal(r.n_inputs, 3);
    assert_string_equal(r.inputs[1].text, "bc");
    assert_string_equal(r.inputs[2].text, "d");
    assert_string_equal(r.user, "u");
    hr_api_embed_req_deinit(&r);

    /* an array of ids is ONE input */
    assert_int_equal(parse("{\"model\":\"m\",\"input\":[1,2,3]}", &r, &e), 0);
    assert_int_equal(r.n_inputs, 1);
    assert_int_equal(r.inputs[0].n_tokens, 3);
    assert_null(r.inputs[0].text);
    assert_int_equal(r.inputs[0].tokens[0], 1);
    assert_int_equal(r.inputs[0].tokens[2], 3);
    hr_api_embed_req_deinit(&r);

    assert_int_equal(parse("{\"model\":\"m\",\"input\":[[5],[6,7,8]],\"encoding_format\":"
                           "\"base64\",\"dimensions\":64,\"pooling\":\"last\"}", &r, &e), 0);
    assert_int_equal(r.n_inputs, 2);
    assert_int_equal(r.n_ids, 4);
    assert_int_equal(r.inputs[0].n_tokens, 1);
    assert_int_equal(r.inputs[0].tokens[0], 5);
    assert_int_equal(r.inputs[1].n_tokens, 3);
    assert_int_equal(r.inputs[1].tokens[2], 8);
    assert_int_equal(r.format, HR_API_EMBED_BASE64);
    assert_int_equal(r.dimensions, 64);
    assert_int_equal(r.pooling, HR_POOLING_LAST);
    hr_api_embed_req_deinit(&r);

    /* null means absent; unknown fields are ignored */
    assert_int_equal(parse("{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":null,"
                           "\"dimensions\":null,\"pooling\":null,\"user\":null,\"extra\":1}",
                           &r, &e), 0);
    assert_int_equal(r.format, HR_API_EMBED_FLOAT);
    hr_api_embed_req_deinit(&r);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("not json", 400, NULL, NULL);
    refused("[1]", 400, NULL, NULL);
    refused("{\"input\":\"x\"}", 400, "model", "missing_required_parameter");
    refused("{\"model\":5,\"input\":\"x\"}", 400, "model", "invalid_type");
    refused("{\"model\":\"m\"}", 400, "input", "missing_required_parameter");
    refused("{\"model\":\"m\",\"input\":null}", 400, "input", "missing_required_parameter");
    refused("{\"model\":\"m\",\"input\":5}", 400, "input", "invalid_type");
    refused("{\"model\":\"m\",\"input\":{}}", 400, "input", "invalid_type");
    refused("{\"model\":\"m\",\"input\":\"\"}", 400, "input", "invalid_value");
    refused("{\"model\":\"m\",\"input\":[]}", 400, "input", "empty_array");
    refused("{\"model\":\"m\",\"input\":[\"a\",\"\"]}", 400, "input", "invalid_value");
    refused("{\"model\":\"m\",\"input\":[[]]}", 400, "input", "empty_array");
    refused("{\"model\":\"m\",\"input\":[[1],[]]}", 400, "input", "empty_array");
    /* mixed shapes */
    refused("{\"model\":\"m\",\"input\":[\"a\",1]}", 400, "input", "invalid_type");
    refused("{\"model\":\"m\",\"input\":[1,\"a\"]}", 400, "input", "invalid_type");
    refused("{\"model\":\"m\",\"input\":[[1],2]}", 400, "input", "invalid_type");
    refused("{\"model\":\"m\",\"input\":[[1,\"a\"]]}", 400, "input", "invalid_type");
    refused("{\"model\":\"m\",\"input\":[null]}", 400, "input", "invalid_type");
    refused("{\"model\":\"m\",\"input\":[1.5]}", 400, "input", "invalid_type");
    /* token ids */
    refused("{\"model\":\"m\",\"input\":[-1]}", 400, "input", "invalid_value");
    refused("{\"model\":\"m\",\"input\":[[2147483648]]}", 400, "input", "invalid_value");
    /* options */
    refused("{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"bogus\"}", 400,
            "encoding_format", "invalid_value");
    refused("{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":1}", 400, "encoding_format",
            "invalid_type");
    refused("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":\"8\"}", 400, "dimensions",
            "invalid_type");
    refused("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}", 400, "dimensions",
            "integer_below_min_value");
    refused("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":1e3}", 400, "dimensions",
            "invalid_type");
    refused("{\"model\":\"m\",\"input\":\"x\",\"pooling\":\"none\"}", 400, "pooling",
            "invalid_value");
    refused("{\"model\":\"m\",\"input\":\"x\",\"pooling\":\"rank\"}", 400, "pooling",
            "invalid_value");
    refused("{\"model\":\"m\",\"input\":\"x\",\"pooling\":2}", 400, "pooling", "invalid_type");
    refused("{\"model\":\"m\",\"input\":\"x\",\"user\":7}", 400, "user", "invalid_type");
}

/* A body with n inputs: strings ("a") or token arrays ([1]). */
static char *many(size_t n, bool ids)
{
    size_t cap = 64 + n * 6;
    char *s = malloc(cap);
    size_t o = (size_t)snprintf(s, cap, "{\"model\":\"m\",\"input\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s%s", i ? "," : "", ids ? "[1]" : "\"a\"");
    snprintf(s + o, cap - o, "]}");
    return s;
}

static void test_limits(void **state)
{
    (void)state;
    struct hr_api_embed_req r;
    struct hr_api_error e;
    char *body = many(HR_MAX_EMBED_INPUTS, false);
    assert_int_equal(parse(body, &r, &e), 0);
    assert_int_equal(r.n_inputs, HR_MAX_EMBED_INPUTS);
    hr_api_embed_req_deinit(&r);
    free(body);
    body = many(HR_MAX_EMBED_INPUTS + 1, false);
    refused(body, 400, "input", "array_above_max_length");
    free(body);
    body = many(HR_MAX_EMBED_INPUTS + 1, true);
    refused(body, 400, "input", "array_above_max_length");
    free(body);
    /* one token-id input of more than HR_MAX_EMBED_TOKENS ids */
    size_t n = HR_MAX_EMBED_TOKENS + 1, cap = 64 + n * 2;
    body = malloc(cap);
    size_t o = (size_t)snprintf(body, cap, "{\"model\":\"m\",\"input\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(body + o, cap - o, i ? ",1" : "1");
    snprintf(body + o, cap - o, "]}");
    refused(body, 400, "input", "invalid_value");
    free(body);
}

static void test_model_checks(void **state)
{
    (void)state;
    struct hr_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.arch, sizeof m.arch, "llama");
    m.n_vocab = 100;
    m.n_embd = 64;
    m.pooling = HR_POOLING_MEAN;
    struct hr_api_embed_req r;
    struct hr_api_error e;

    assert_int_equal(parse("{\"model\":\"m\",\"input\":[[0,99]],\"dimensions\":64}", &r, &e), 0);
    assert_int_equal(hr_api_embed_check_model(&r, &m, "m", &e), 0);
    hr_api_embed_req_deinit(&r);

    assert_int_equal(parse("{\"model\":\"m\",\"input\":[[0],[100]]}", &r, &e), 0);
    assert_int_equal(hr_api_embed_check_model(&r, &m, "m", &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, "input");
    hr_api_embed_req_deinit(&r);

    assert_int_equal(parse("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":32}", &r, &e), 0);
    assert_int_equal(hr_api_embed_check_model(&r, &m, "m", &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, "dimensions");
    assert_string_equal(e.code, "unsupported_parameter");
    hr_api_embed_req_deinit(&r);

    /* a model without pooling_type: a 400 that says how to ask, unless the request does */
    m.pooling = HR_POOLING_NONE;
    assert_int_equal(parse("{\"model\":\"m\",\"input\":\"x\"}", &r, &e), 0);
    assert_int_equal(hr_api_embed_check_model(&r, &m, "m", &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.param, "pooling");
    assert_non_null(strstr(e.message, "no pooling type"));
    assert_non_null(strstr(e.message, "\"pooling\""));
    hr_api_embed_req_deinit(&r);
    assert_int_equal(parse("{\"model\":\"m\",\"input\":\"x\",\"pooling\":\"cls\"}", &r, &e), 0);
    assert_int_equal(hr_api_embed_check_model(&r, &m, "m", &e), 0);
    hr_api_embed_req_deinit(&r);
    m.pooling = HR_POOLING_RANK;
    assert_int_equal(parse("{\"model\":\"m\",\"input\":\"x\"}", &r, &e), 0);
    assert_int_equal(hr_api_embed_check_model(&r, &m, "m", &e), -1);
    assert_int_equal(e.status, 400);
    hr_api_embed_req_deinit(&r);
}

static void test_base64(void **state)
{
    (void)state;
    /* RFC 4648 section 10 */
    static const char *const vec[][2] = {
        {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    char out[32];
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        size_t n = strlen(vec[i][0]);
        assert_int_equal(hr_api_base64_len(n), strlen(vec[i][1]));
        memset(out, 'X', sizeof out);
        hr_api_base64_encode(vec[i][0], n, out);
        assert_string_equal(out, vec[i][1]);
    }
    /* every byte value, every alphabet character */
    unsigned char all[3] = {0xfb, 0xff, 0xbf};
    hr_api_base64_encode(all, 3, out);
    assert_string_equal(out, "+/+/");
    /* 1.0f is 00 00 80 3f little-endian */
    unsigned char le[4] = {0x00, 0x00, 0x80, 0x3f};
    hr_api_base64_encode(le, 4, out);
    assert_string_equal(out, "AACAPw==");
}

static void test_answer_shape(void **state)
{
    (void)state;
    const float v[2][3] = {{1.0f, -0.5f, 0.1f}, {0.0f, 3.4028235e38f, -1.17549435e-38f}};
    char *s = hr_api_embed_json("my-model", &v[0][0], 2, 3, HR_API_EMBED_FLOAT, 7);
    assert_non_null(s);
    json_error_t jerr;
    json_t *j = json_loads(s, 0, &jerr);
    if (!j)
        fail_msg("not JSON: %s: %s", jerr.text, s);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "list");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "my-model");
    json_t *u = json_object_get(j, "usage");
    assert_int_equal(json_integer_value(json_object_get(u, "prompt_tokens")), 7);
    assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")), 7);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_array_size(data), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *d = json_array_get(data, i);
        assert_int_equal(json_object_size(d), 3);
        assert_string_equal(json_string_value(json_object_get(d, "object")), "embedding");
        assert_int_equal(json_integer_value(json_object_get(d, "index")), (json_int_t)i);
        json_t *emb = json_object_get(d, "embedding");
        assert_int_equal(json_array_size(emb), 3);
        for (size_t k = 0; k < 3; k++) /* 9 digits: the same float back */
            assert_true((float)json_number_value(json_array_get(emb, k)) == v[i][k]);
    }
    json_decref(j);
    free(s);

    s = hr_api_embed_json("m\"x", &v[0][0], 1, 3, HR_API_EMBED_BASE64, 1);
    assert_non_null(s);
    j = json_loads(s, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "m\"x");
    json_t *emb = json_object_get(json_array_get(json_object_get(j, "data"), 0), "embedding");
    /* 1.0, -0.5, 0.1f = 00 00 80 3f | 00 00 00 bf | cd cc cc 3d */
    assert_string_equal(json_string_value(emb), "AACAPwAAAL/NzMw9");
    json_decref(j);
    free(s);

    /* NaN cannot be sent as JSON */
    const float bad[2] = {0.0f, NAN};
    assert_null(hr_api_embed_json("m", bad, 1, 2, HR_API_EMBED_FLOAT, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_shapes), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),       cmocka_unit_test(test_model_checks),
        cmocka_unit_test(test_base64),       cmocka_unit_test(test_answer_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
