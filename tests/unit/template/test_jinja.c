/* The Jinja interpreter on small templates whose expected output was checked against Python's
 * jinja2 (trim_blocks, lstrip_blocks): statements, whitespace control, expressions, filters,
 * tests, macros, namespaces, loop variables, Markup escaping; plus errors that name the line
 * and the caps on hostile templates. The real templates are compared with jinja2 itself in
 * tests/scripts/test_template_oracle.py. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static struct hr_jval *vars(void)
{
    struct hr_jval *v = hr_jval_dict();
    struct hr_jval *msgs = hr_jval_list();
    const char *roles[] = {"system", "user", "assistant"};
    const char *texts[] = {"Be brief.", "Hi <there>", "Hello!"};
    for (int i = 0; i < 3; i++) {
        struct hr_jval *m = hr_jval_dict();
        hr_jval_dict_set(m, "role", 4, hr_jval_str(roles[i], strlen(roles[i])));
        hr_jval_dict_set(m, "content", 7, hr_jval_str(texts[i], strlen(texts[i])));
        hr_jval_list_push(msgs, m);
    }
    hr_jval_dict_set(v, "messages", 8, msgs);
    hr_jval_dict_set(v, "n", 1, hr_jval_int(7));
    hr_jval_dict_set(v, "x", 1, hr_jval_float(2.5));
    hr_jval_dict_set(v, "flag", 4, hr_jval_bool(true));
    hr_jval_dict_set(v, "nothing", 7, hr_jval_none());
    return v;
}

static void expect(const char *src, const char *want)
{
    struct hr_jinja *t = NULL;
    struct hr_diag d = {{0}};
    if (hr_jinja_compile(&t, src, strlen(src), &d) != 0)
        fail_msg("compile '%s': %s", src, d.msg);
    struct hr_jval *v = vars();
    char *out = NULL;
    if (hr_jinja_render(t, v, 1700000000, &out, NULL, &d) != 0)
        fail_msg("render '%s': %s", src, d.msg);
    if (strcmp(out, want) != 0)
        fail_msg("'%s'\n got  '%s'\n want '%s'", src, out, want);
    free(out);
    hr_jval_unref(v);
    hr_jinja_free(t);
}

static void expect_error(const char *src, const char *substr)
{
    struct hr_jinja *t = NULL;
    struct hr_diag d = {{0}};
    int rc = hr_jinja_compile(&t, src, strlen(src), &d);
    if (rc == 0) {
        struct hr_jval *v = vars();
        char *out = NULL;
        rc = hr_jinja_render(t, v, 0, &out, NULL, &d);
        free(out);
        hr_jval_unref(v);
        hr_jinja_free(t);
    }
    assert_true(rc != 0);
    if (!strstr(d.msg, substr))
        fail_msg("'%.60s': diag '%s' lacks '%s'", src, d.msg, substr);
}

static void test_statements_and_whitespace(void **state)
{
    (void)state;
    expect("{% for m in messages %}{{ m.role }}:{{ m['content'] }}|{% endfor %}",
           "system:Be brief.|user:Hi <there>|assistant:Hello!|");
    expect("{% if n > 5 %}big{% elif n > 2 %}mid{% else %}small{% endif %}", "big");
    expect("a\n  {% if flag %}\n  b\n  {% endif %}\nc", "a\n  b\nc"); /* trim + lstrip */
    expect("a  {%- if flag -%}  b  {%- endif %}", "ab");
    expect("{{ 'x' }}\n{{ 'y' }}", "x\ny"); /* no trim after }} */
    expect("{# note #}\nx", "x");
    expect("{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'user' %}"
           "{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
           "True");
    expect("{% set y = 1 %}{% for i in range(3) %}{% set y = i %}{% endfor %}{{ y }}", "1");
    expect("{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}"
           "{% continue %}{% endif %}{{ i }}{% endfor %}",
           "02");
    expect("{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }}"
           "{{ '' if loop.last else ',' }}{% endfor %}",
           "1/2,2/2");
    expect("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;");
    expect("{% for x in [] %}x{% else %}empty{% endfor %}", "empty");
    expect("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
           "{{ greet('A') }} {{ greet('B', punct='?') }}",
           "Hi A! Hi B?");
    expect("{% set block %}in{{ n }}{% endset %}[{{ block }}]", "[in7]");
    expect("{% filter upper %}abc{% endfilter %}", "ABC");
}

static void test_expressions(void **state)
{
    (void)state;
    expect("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }} {{ 7 / 2 }}",
           "7 3 -4 1 8 3.5");
    expect("{{ x * 2 }} {{ 1.0 }} {{ 0.1 + 0.2 }}", "5.0 1.0 0.30000000000000004");
    expect("{{ 'a' ~ 1 ~ none ~ true }}", "a1NoneTrue");
    expect("{{ nothing }}|{{ missing }}|{{ missing is defined }}|{{ nothing is none }}",
           "None||False|True");
    expect("{{ 'ab' in 'cabd' }} {{ 3 in [1, 3] }} {{ 'k' not in {'k': 1} }}", "True True False");
    expect("{{ 'yes' if flag else 'no' }} {{ 'x' if not flag }}|", "yes |");
    expect("{{ messages[-1].content }} {{ messages[1:][0].role }} {{ 'hello'[1:4] }} "
           "{{ 'hello'[::-1] }}",
           "Hello! user ell olleh");
    expect("{{ [1, 2] + [3] }} {{ {'a': [1, 'b']} }} {{ (1, 2) }}",
           "[1, 2, 3] {'a': [1, 'b']} [1, 2]");
    expect("{{ flag and 'x' }} {{ nothing or 'y' }}", "x y");
}

static void test_filters_tests_methods(void **state)
{
    (void)state;
    expect("{{ '  a b  ' | trim }}|{{ messages | length }}|{{ 'h\xc3\xa9llo' | length }}",
           "a b|3|5");
    expect("{{ {'a': '\xc3\xa9', 'b': [1, 2.5, none, true]} | tojson }}",
           "{\"a\": \"\xc3\xa9\", \"b\": [1, 2.5, null, true]}");
    expect("{{ {'a': 1} | tojson(indent=2) }}", "{\n  \"a\": 1\n}");
    expect("{{ 'Ab' | upper }}{{ 'Ab' | lower }} {{ 'hello world' | title }} "
           "{{ 'aXa' | replace('a', 'b') }}",
           "ABab Hello World bXb");
    expect("{{ missing | default('d') }} {{ '' | default('e', true) }} {{ [1, 2] | join('-') }}",
           "d e 1-2");
    expect("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | "
           "list }}",
           "['Hi <there>']");
    expect("{{ messages | rejectattr('role', 'in', ['system', 'user']) | list | length }}", "1");
    expect("{{ [3, 1, 2] | sort | first }} {{ [1, 1, 2] | unique | list | last }} "
           "{{ '5' | int + 1 }} {{ 3 | string ~ 'x' }}",
           "1 2 6 3x");
    expect("{{ 'a,b,,c'.split(',') }} {{ ' x y '.split() }} {{ 'abc'.startswith('ab') }} "
           "{{ 'xyx'.strip('x') }} {{ {'k': 1}.get('z', 0) }}",
           "['a', 'b', '', 'c'] ['x', 'y'] True y 0");
    expect("{{ n is odd }} {{ n is divisibleby 7 }} {{ 'x' is string }} "
           "{{ messages is iterable }} {{ {} is mapping }} {{ 1 is number }}",
           "True True True True True True");
    expect("{{ '<b>' | e }} {{ 'a'|safe + '<b>' }}", "&lt;b&gt; a&lt;b&gt;");
    expect("{{ strftime_now('%d %b %Y') }} {{ strftime_now is defined }}", "14 Nov 2023 True");
}

static void test_errors_and_caps(void **state)
{
    (void)state;
    expect_error("{% if x %}", "endif");
    expect_error("line1\n{{ 1 + }}", "line 2");
    expect_error("{% frobnicate %}", "unknown tag 'frobnicate'");
    expect_error("{{ raise_exception('no system role') }}", "no system role");
    expect_error("{{ missing.attr }}", "undefined");
    expect_error("{{ 1 / 0 }}", "division by zero");
    expect_error("{{ [1] | nosuchfilter }}", "unknown filter");
    expect_error("{% for i in range(2000000) %}{% endfor %}", "iterations");
    expect_error("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "nesting");
    expect_error("{% set s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}"
                 "{% for i in range(400000) %}{{ s }}{% endfor %}",
                 "output exceeds");
    char deep[2000];
    size_t o = (size_t)snprintf(deep, sizeof deep, "{{ ");
    for (int i = 0; i < 300; i++)
        deep[o++] = '(';
    deep[o++] = '1';
    for (int i = 0; i < 300; i++)
        deep[o++] = ')';
    snprintf(deep + o, sizeof deep - o, " }}");
    expect_error(deep, "nested too deeply");
}

static void test_default_template_is_chatml(void **state)
{
    (void)state;
    struct hr_chat_template *t = NULL;
    assert_int_equal(hr_chat_template_new(&t, NULL, 0, NULL), 0);
    assert_true(hr_chat_template_is_default(t));
    struct hr_chat_msg msgs[2] = {{"system", "S"}, {"user", "U"}};
    struct hr_jval *list = hr_chat_messages(msgs, 2);
    char *out = NULL;
    assert_int_equal(hr_chat_template_apply(t, list, NULL, true, "<s>", "</s>", 0, &out, NULL),
                     0);
    assert_string_equal(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
                             "<|im_start|>assistant\n");
    free(out);
    hr_jval_unref(list);
    hr_chat_template_free(t);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_chat_template_new(&t, "{% for %}", 9, &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, "line 1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statements_and_whitespace),
        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_filters_tests_methods),
        cmocka_unit_test(test_errors_and_caps),
        cmocka_unit_test(test_default_template_is_chatml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
