/* The JSON Schema compiler: each supported construct accepts the documents the schema allows
 * and refuses the ones it forbids (checked through the matcher), recursion through $ref, and
 * every refusal names its keyword and where it is. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/grammar/grammar.h"

static struct hr_grammar *compile_ok(const char *schema, bool strict)
{
    struct hr_grammar *g = NULL;
    struct hr_diag d = {{0}};
    int rc = hr_grammar_from_schema(&g, schema, strlen(schema), strict, &d);
    if (rc) {
        char *gbnf = NULL;
        fprintf(stderr, "schema %s: %s\n", schema, d.msg);
        if (hr_grammar_schema_to_gbnf(schema, strlen(schema), strict, &gbnf, NULL) == 0)
            fprintf(stderr, "%s\n", gbnf);
        free(gbnf);
    }
    assert_int_equal(rc, 0);
    return g;
}

static bool accepts(struct hr_grammar *g, const char *s)
{
    struct hr_grammar_state *st = NULL;
    assert_int_equal(hr_grammar_state_new(&st, g, NULL), 0);
    bool ok = hr_grammar_accept_bytes(st, s, strlen(s)) == 0 && hr_grammar_is_accepting(st);
    hr_grammar_state_free(st);
    return ok;
}

static void compile_err(const char *schema, bool strict, int want_rc, const char *want)
{
    struct hr_grammar *g = NULL;
    struct hr_diag d = {{0}};
    int rc = hr_grammar_from_schema(&g, schema, strlen(schema), strict, &d);
    if (rc != want_rc || !strstr(d.msg, want))
        fprintf(stderr, "schema %s\n  got %d '%s', want %d '%s'\n", schema, rc, d.msg, want_rc,
                want);
    assert_int_equal(rc, want_rc);
    assert_null(g);
    assert_non_null(strstr(d.msg, want));
}

static void test_primitives(void **state)
{
    (void)state;
    struct hr_grammar *g = compile_ok("{\"type\": \"integer\"}", false);
    assert_true(accepts(g, "0"));
    assert_true(accepts(g, "-42"));
    assert_false(accepts(g, "4.2"));
    assert_false(accepts(g, "01"));
    assert_false(accepts(g, "\"1\""));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\": \"number\"}", false);
    assert_true(accepts(g, "-4.25e+10"));
    assert_false(accepts(g, "1."));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\": [\"string\", \"null\"], \"maxLength\": 3}", false);
    assert_true(accepts(g, "null"));
    assert_true(accepts(g, "\"ab\\n\""));
    assert_true(accepts(g, "\"\xC3\xA9t\xC3\xA9\""));
    assert_false(accepts(g, "\"abcd\""));
    assert_false(accepts(g, "true"));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 2}", false);
    assert_true(accepts(g, "\"ab\""));
    assert_false(accepts(g, "\"a\""));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\": \"boolean\", \"description\": \"annotations are fine\"}", false);
    assert_true(accepts(g, "true"));
    assert_false(accepts(g, "1"));
    hr_grammar_unref(g);
    g = compile_ok("{\"enum\": [\"red\", 1.50, null, {\"a\": [true]}, \"q\\\"\"]}", false);
    assert_true(accepts(g, "\"red\""));
    assert_true(accepts(g, "1.50"));
    assert_true(accepts(g, "null"));
    assert_true(accepts(g, "{\"a\":[true]}"));
    assert_true(accepts(g, "\"q\\\"\""));
    assert_false(accepts(g, "\"blue\""));
    assert_false(accepts(g, "1.5"));
    hr_grammar_unref(g);
    g = compile_ok("{\"const\": \"x\"}", false);
    assert_true(accepts(g, "\"x\""));
    assert_false(accepts(g, "\"y\""));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\": \"string\", \"format\": \"date-time\"}", false);
    assert_true(accepts(g, "\"2024-06-30T12:34:56Z\""));
    assert_true(accepts(g, "\"2024-06-30T12:34:56.123+02:00\""));
    assert_false(accepts(g, "\"2024-13-30T12:34:56Z\""));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\": \"string\", \"format\": \"date\"}", false);
    assert_true(accepts(g, "\"2024-02-29\""));
    assert_true(accepts(g, "\"2000-02-29\""));
    assert_true(accepts(g, "\"0001-12-31\""));
    assert_false(accepts(g, "\"1900-02-29\""));
    assert_false(accepts(g, "\"2023-02-29\""));
    assert_false(accepts(g, "\"2023-04-31\""));
    assert_false(accepts(g, "\"0000-01-01\""));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\": \"string\", \"format\": \"uuid\"}", false);
    assert_true(accepts(g, "\"123e4567-e89b-12d3-a456-426614174000\""));
    assert_false(accepts(g, "\"123e4567\""));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\": \"string\", \"format\": \"email\"}", false); /* annotation */
    assert_true(accepts(g, "\"anything\""));
    hr_grammar_unref(g);
    g = compile_ok("{}", false);
    assert_true(accepts(g, "[1, {\"a\": null}]"));
    hr_grammar_unref(g);
}

static void test_integer_ranges(void **state)
{
    (void)state;
    struct hr_grammar *g = compile_ok("{\"type\":\"integer\",\"minimum\":-5,\"maximum\":5}",
                                      false);
    for (int i = -30; i <= 30; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        assert_int_equal(accepts(g, buf), i >= -5 && i <= 5);
    }
    assert_false(accepts(g, "-0"));
    assert_false(accepts(g, "05"));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\":\"integer\",\"exclusiveMinimum\":2.5,\"exclusiveMaximum\":1000}",
                   false);
    for (int i = -10; i <= 1200; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        assert_int_equal(accepts(g, buf), i >= 3 && i <= 999);
    }
    hr_grammar_unref(g);
    g = compile_ok("{\"type\":\"integer\",\"minimum\":100}", false);
    assert_true(accepts(g, "100"));
    assert_true(accepts(g, "1234567890123456789"));
    assert_false(accepts(g, "99"));
    assert_false(accepts(g, "-100"));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\":\"number\",\"minimum\":0}", false);
    assert_true(accepts(g, "0.5e-3"));
    assert_false(accepts(g, "-1"));
    hr_grammar_unref(g);
    compile_err("{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}", false, HR_EINVAL,
                "no integer lies within the bounds");
    compile_err("{\"type\":\"number\",\"maximum\":4}", false, HR_EUNSUPPORTED,
                "bounds on a \"number\"");
    compile_err("{\"type\":\"integer\",\"minimum\":1e19}", false, HR_EUNSUPPORTED,
                "beyond 18 digits");
    compile_err("{\"type\":\"string\",\"minimum\":1}", false, HR_EUNSUPPORTED,
                "keyword 'minimum' without");
}

static void test_objects(void **state)
{
    (void)state;
    const char *s = "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, "
                    "\"age\": {\"type\": \"integer\"}, \"tags\": {\"type\": \"array\", "
                    "\"items\": {\"type\": \"string\"}, \"maxItems\": 2}}, "
                    "\"required\": [\"name\"], \"additionalProperties\": false}";
    struct hr_grammar *g = compile_ok(s, false);
    assert_true(accepts(g, "{\"name\": \"a\"}"));
    assert_true(accepts(g, "{\"name\":\"a\",\"age\":3}"));
    assert_true(accepts(g, "{ \"name\" : \"a\" , \"tags\" : [ \"x\" , \"y\" ] }"));
    assert_true(accepts(g, "{\"name\":\"a\",\"age\":3,\"tags\":[]}"));
    assert_false(accepts(g, "{\"age\":3}"));                    /* required */
    assert_false(accepts(g, "{\"name\":\"a\",}"));               /* trailing comma */
    assert_false(accepts(g, "{\"name\":\"a\",\"other\":1}"));    /* additional */
    assert_false(accepts(g, "{\"name\":\"a\",\"tags\":[\"1\",\"2\",\"3\"]}"));
    assert_false(accepts(g, "{\"name\":1}"));
    hr_grammar_unref(g);
    /* strict: every property is required */
    g = compile_ok(s, true);
    assert_false(accepts(g, "{\"name\": \"a\"}"));
    assert_true(accepts(g, "{\"name\":\"a\",\"age\":3,\"tags\":[\"t\"]}"));
    hr_grammar_unref(g);
    /* all optional: the empty object too */
    g = compile_ok("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"null\"},"
                   "\"b\":{\"type\":\"null\"}}}", false);
    assert_true(accepts(g, "{}"));
    assert_true(accepts(g, "{\"b\":null}"));
    assert_true(accepts(g, "{\"a\":null,\"b\":null}"));
    assert_false(accepts(g, "{\"b\":null,\"a\":null}")); /* declared order */
    hr_grammar_unref(g);
    /* a map, and arrays with bounds */
    g = compile_ok("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}", false);
    assert_true(accepts(g, "{\"x\":1,\"y\":2}"));
    assert_false(accepts(g, "{\"x\":\"1\"}"));
    hr_grammar_unref(g);
    g = compile_ok("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":2,"
                   "\"maxItems\":3}", false);
    assert_false(accepts(g, "[1]"));
    assert_true(accepts(g, "[1,2]"));
    assert_true(accepts(g, "[1,2,3]"));
    assert_false(accepts(g, "[1,2,3,4]"));
    hr_grammar_unref(g);
}

static void test_refs_and_alternatives(void **state)
{
    (void)state;
    /* a recursive tree through $defs, and anyOf */
    const char *s = "{\"$ref\": \"#/$defs/node\", \"$defs\": {\"node\": {\"type\": \"object\", "
                    "\"properties\": {\"v\": {\"anyOf\": [{\"type\": \"integer\"}, {\"type\": "
                    "\"string\", \"maxLength\": 1}]}, \"kids\": {\"type\": \"array\", \"items\": "
                    "{\"$ref\": \"#/$defs/node\"}}}, \"required\": [\"v\", \"kids\"], "
                    "\"additionalProperties\": false}}}";
    struct hr_grammar *g = compile_ok(s, true);
    assert_true(accepts(g, "{\"v\":1,\"kids\":[]}"));
    assert_true(accepts(g, "{\"v\":\"a\",\"kids\":[{\"v\":2,\"kids\":[{\"v\":3,\"kids\":[]}]}]}"));
    assert_false(accepts(g, "{\"v\":\"ab\",\"kids\":[]}"));
    assert_false(accepts(g, "{\"v\":1,\"kids\":[{\"v\":2}]}"));
    hr_grammar_unref(g);
    g = compile_ok("{\"definitions\": {\"a\": {\"oneOf\": [{\"const\": 1}, {\"const\": 2}]}}, "
                   "\"allOf\": [{\"$ref\": \"#/definitions/a\"}]}", false);
    assert_true(accepts(g, "2"));
    assert_false(accepts(g, "3"));
    hr_grammar_unref(g);
}

static void test_refusals(void **state)
{
    (void)state;
    compile_err("{\"type\":\"string\",\"pattern\":\"^a$\"}", false, HR_EUNSUPPORTED,
                "keyword 'pattern' is not supported (at the schema root)");
    compile_err("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\","
                "\"multipleOf\":2}}}", false, HR_EUNSUPPORTED,
                "keyword 'multipleOf' is not supported (at /properties/n)");
    compile_err("{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"date\","
                "\"maxLength\":3}}", false, HR_EUNSUPPORTED, "at /items");
    compile_err("{\"type\":\"array\",\"uniqueItems\":true}", false, HR_EUNSUPPORTED,
                "keyword 'uniqueItems'");
    compile_err("{\"$ref\":\"#/$defs/missing\"}", false, HR_EINVAL, "names no definition");
    compile_err("{\"$ref\":\"http://x/y\"}", false, HR_EUNSUPPORTED, "only #/$defs/");
    compile_err("{\"type\":\"object\",\"properties\":{},\"required\":[\"a\"]}", false,
                HR_EINVAL, "required property 'a' is not in 'properties'");
    compile_err("{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":true}",
                true, HR_EINVAL, "strict mode needs 'additionalProperties': false");
    compile_err("{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":true}",
                false, HR_EUNSUPPORTED, "'additionalProperties' together with 'properties'");
    compile_err("{\"type\":\"strang\"}", false, HR_EINVAL, "unknown type 'strang'");
    compile_err("{\"type\":\"string\",\"maxLength\":-1}", false, HR_EINVAL,
                "'maxLength' must be a non-negative integer");
    compile_err("{\"type\":\"string\",\"minLength\":5,\"maxLength\":2}", false, HR_EINVAL,
                "maximum is below the minimum");
    compile_err("{\"maxLength\":2}", false, HR_EUNSUPPORTED, "keyword 'maxLength' without");
    compile_err("{\"enum\":[]}", false, HR_EINVAL, "'enum' must be a non-empty array");
    compile_err("{\"anyOf\":[{\"type\":\"integer\"},{\"oneOf\":5}]}", false, HR_EINVAL,
                "at /anyOf/1");
    compile_err("false", false, HR_EUNSUPPORTED, "matches nothing");
    compile_err("[1]", false, HR_EINVAL, "a schema must be an object or a boolean");
    compile_err("{\"type\": \"string\",}", false, HR_EINVAL, "JSON line 1 column 19: expected a string key");
    compile_err("{\"a\":1,\"a\":2}", false, HR_EINVAL, "duplicate key");
    char deep[1024] = "";
    for (int i = 0; i < 70; i++)
        strcat(deep, "{\"items\":");
    strcat(deep, "{}");
    for (int i = 0; i < 70; i++)
        strcat(deep, "}");
    compile_err(deep, false, HR_EINVAL, "deeper than 64");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primitives),
        cmocka_unit_test(test_integer_ranges),
        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_refs_and_alternatives),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
