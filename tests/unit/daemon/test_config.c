/* The settings table: defaults, file over defaults, flags over the file whatever their order,
 * and every error naming the file (or flag) and the key, without clamping. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "engine/base/err.h"

static const char *write_cfg(const char *name, const char *json)
{
    static char path[512];
    tu_tmpfile(name, path, sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    return path;
}

static int parse(struct hr_config *c, struct hr_diag *d, int argc, char **argv)
{
    hr_config_defaults(c);
    hr_diag_clear(d);
    return hr_config_parse_args(c, argc, argv, d);
}

static void test_defaults(void **state)
{
    (void)state;
    struct hr_config c;
    hr_config_defaults(&c);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.model, "");
    assert_int_equal(c.parallel, 4);
    assert_int_equal(c.max_body, 16777216);
    assert_int_equal(c.idle_timeout, 60);
    assert_int_equal(c.read_timeout, 30);
    assert_string_equal(c.cors_origins, ""); /* no CORS unless asked for */
    assert_int_equal(c.log_level, HR_LOG_INFO);
    assert_true(c.prefix_cache);
}

static void test_repo_config_equals_defaults(void **state)
{
    (void)state;
    struct hr_config a, b;
    hr_config_defaults(&a);
    hr_config_defaults(&b);
    struct hr_diag d = {{0}};
    if (hr_config_load_file(&b, "config/hearth.json", &d) != 0)
        fail_msg("%s", d.msg);
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_precedence(void **state)
{
    (void)state;
    const char *path = write_cfg("prec.json", "{\"port\": 9000, \"host\": \"::1\", "
                                              "\"threads\": 3, \"log_level\": \"debug\"}");
    struct hr_config c;
    struct hr_diag d = {{0}};
    char *a1[] = {"serve", "--config", (char *)path};
    assert_int_equal(parse(&c, &d, 3, a1), 0);
    assert_int_equal(c.port, 9000);
    assert_string_equal(c.host, "::1");
    assert_int_equal(c.threads, 3);
    assert_int_equal(c.log_level, HR_LOG_DEBUG);
    /* a flag wins whether it comes before or after --config */
    char *a2[] = {"serve", "--port", "9001", "--config", (char *)path};
    assert_int_equal(parse(&c, &d, 5, a2), 0);
    assert_int_equal(c.port, 9001);
    char *a3[] = {"serve", "--config", (char *)path, "--port=9002", "--model", "m.gguf"};
    assert_int_equal(parse(&c, &d, 6, a3), 0);
    assert_int_equal(c.port, 9002);
    assert_string_equal(c.model, "m.gguf");
    assert_int_equal(c.threads, 3);
    /* booleans: true/false flags, JSON booleans */
    char *a4[] = {"serve", "--prefix-cache", "false"};
    assert_int_equal(parse(&c, &d, 3, a4), 0);
    assert_false(c.prefix_cache);
    path = write_cfg("bool.json", "{\"prefix_cache\": false}");
    char *a5[] = {"serve", "--config", (char *)path, "--prefix-cache=true"};
    assert_int_equal(parse(&c, &d, 4, a5), 0);
    assert_true(c.prefix_cache);
    char *a6[] = {"serve", "--config", (char *)path};
    assert_int_equal(parse(&c, &d, 3, a6), 0);
    assert_false(c.prefix_cache);
}

static void file_error(const char *json, const char *key, const char *what)
{
    const char *path = write_cfg("bad.json", json);
    struct hr_config c;
    hr_config_defaults(&c);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_config_load_file(&c, path, &d), HR_EINVAL);
    if (!strstr(d.msg, path) || !strstr(d.msg, key) || (what && !strstr(d.msg, what)))
        fail_msg("diag '%s' should name %s, %s and %s", d.msg, path, key, what ? what : "");
    assert_null(strchr(d.msg, '\n'));
}

static void test_file_errors(void **state)
{
    (void)state;
    file_error("{\"prot\": 80}", "prot", "unknown key");
    file_error("{\"port\": \"80\"}", "port", "integer");
    file_error("{\"port\": 80.5}", "port", "integer");
    file_error("{\"port\": 70000}", "port", "0..65535");
    file_error("{\"port\": -1}", "port", "0..65535");
    file_error("{\"parallel\": 0}", "parallel", "1..256");
    file_error("{\"max_body\": 1}", "max_body", NULL);
    file_error("{\"read_timeout\": 0}", "read_timeout", "1..86400");
    file_error("{\"idle_timeout\": 90000}", "idle_timeout", "1..86400");
    file_error("{\"cors_origins\": [\"*\"]}", "cors_origins", "string");
    file_error("{\"host\": 5}", "host", "string");
    file_error("{\"log_level\": \"loud\"}", "log_level", NULL);
    file_error("{\"kv_type\": \"q4\"}", "kv_type", "f16, f32, q8_0");
    file_error("{\"prefix_cache\": 1}", "prefix_cache", "true or false");
    file_error("[1, 2]", "bad.json", "object");
    file_error("{\"port\": 80,", "bad.json", "invalid JSON");
    file_error("{\"port\": 80, \"port\": 81}", "bad.json", NULL);
    struct hr_config c;
    struct hr_diag d = {{0}};
    assert_int_equal(hr_config_load_file(&c, "/nonexistent/hearth.json", &d), HR_EINVAL);
    assert_non_null(strstr(d.msg, "/nonexistent/hearth.json"));
}

/* The "models" list: every field read; every problem names the entry and the key. */
static void test_models_list(void **state)
{
    (void)state;
    const char *path = write_cfg("models.json",
                                 "{\"models\": [{\"id\": \"a\", \"path\": \"/m/a.gguf\"},"
                                 " {\"id\": \"b\", \"path\": \"b.gguf\", \"ctx\": 256,"
                                 " \"parallel\": 2, \"chat_template\": \"t.jinja\","
                                 " \"preload\": true}], \"port\": 9}");
    struct hr_config c;
    hr_config_defaults(&c);
    struct hr_diag d = {{0}};
    assert_int_equal(hr_config_load_file(&c, path, &d), 0);
    assert_int_equal(c.n_models, 2);
    assert_string_equal(c.models[0].id, "a");
    assert_string_equal(c.models[0].path, "/m/a.gguf");
    assert_int_equal(c.models[0].ctx, 0);
    assert_false(c.models[0].preload);
    assert_string_equal(c.models[1].chat_template, "t.jinja");
    assert_int_equal(c.models[1].ctx, 256);
    assert_int_equal(c.models[1].parallel, 2);
    assert_true(c.models[1].preload);
    assert_int_equal(c.port, 9);
    hr_config_deinit(&c);
    assert_null(c.models);
    file_error("{\"models\": {}}", "models", "array");
    file_error("{\"models\": [5]}", "models[0]", "object");
    file_error("{\"models\": [{\"path\": \"p\"}]}", "models[0].id", "missing");
    file_error("{\"models\": [{\"id\": \"a\", \"path\": \"\"}]}", "models[0].path", NULL);
    file_error("{\"models\": [{\"id\": \"a\", \"path\": \"p\", \"size\": 1}]}", "models[0]",
               "unknown key 'size'");
    file_error("{\"models\": [{\"id\": \"a\", \"path\": \"p\", \"parallel\": 999}]}",
               "models[0].parallel", "0..256");
    file_error("{\"models\": [{\"id\": \"a\", \"path\": \"p\", \"preload\": 1}]}",
               "models[0].preload", "true or false");
    file_error("{\"models\": [{\"id\": \"a\", \"path\": \"p\"}, {\"id\": \"a\", \"path\": \"q\"}]}",
               "models[1].id", "models[0]");
}

static void test_flag_errors(void **state)
{
    (void)state;
    struct hr_config c;
    struct hr_diag d = {{0}};
    char *a1[] = {"serve", "--port", "abc"};
    assert_int_equal(parse(&c, &d, 3, a1), HR_EINVAL);
    assert_non_null(strstr(d.msg, "--port"));
    char *a2[] = {"serve", "--threads", "999"};
    assert_int_equal(parse(&c, &d, 3, a2), HR_EINVAL);
    assert_non_null(strstr(d.msg, "0..256"));
    char *a3[] = {"serve", "--bogus", "1"};
    assert_int_equal(parse(&c, &d, 3, a3), HR_EINVAL);
    assert_non_null(strstr(d.msg, "--bogus"));
    char *a4[] = {"serve", "--model"};
    assert_int_equal(parse(&c, &d, 2, a4), HR_EINVAL);
    assert_non_null(strstr(d.msg, "missing value"));
    char *a5[] = {"serve", "--config"};
    assert_int_equal(parse(&c, &d, 2, a5), HR_EINVAL);
    char *a6[] = {"serve", "--prefix-cache", "yes"};
    assert_int_equal(parse(&c, &d, 3, a6), HR_EINVAL);
    assert_non_null(strstr(d.msg, "true or false"));
}

/* A boolean flag alone, last or before another flag, means true; a value still works. */
static void test_bare_boolean_flags(void **state)
{
    (void)state;
    struct hr_config c;
    struct hr_diag d = {{0}};
    char *a1[] = {"serve", "--insecure-no-auth", "--port", "81", "--log-content"};
    assert_int_equal(parse(&c, &d, 5, a1), 0);
    assert_true(c.insecure_no_auth);
    assert_true(c.log_content);
    assert_int_equal(c.port, 81);
    char *a2[] = {"serve", "--log-content", "false", "--prefix-cache=false"};
    assert_int_equal(parse(&c, &d, 4, a2), 0);
    assert_false(c.log_content);
    assert_false(c.prefix_cache);
    assert_false(c.insecure_no_auth);
}

static void test_data_dir_resolution(void **state)
{
    (void)state;
    struct hr_config c;
    hr_config_defaults(&c);
    char buf[512];
    setenv("HEARTH_DATA_DIR", "/srv/hearth", 1);
    assert_string_equal(hr_config_data_dir(&c, buf, sizeof buf), "/srv/hearth");
    unsetenv("HEARTH_DATA_DIR");
    setenv("XDG_DATA_HOME", "/x", 1);
    assert_string_equal(hr_config_data_dir(&c, buf, sizeof buf), "/x/hearth");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/u", 1);
    assert_string_equal(hr_config_data_dir(&c, buf, sizeof buf), "/home/u/.local/share/hearth");
    snprintf(c.data_dir, sizeof c.data_dir, "/given");
    assert_string_equal(hr_config_data_dir(&c, buf, sizeof buf), "/given");
}

static void test_help_lists_every_flag(void **state)
{
    (void)state;
    char path[512];
    tu_tmpfile("help.txt", path, sizeof path);
    FILE *f = fopen(path, "w");
    hr_config_print_help(f);
    fclose(f);
    char *text = tu_read_file(path, NULL);
    const char *flags[] = {"--model", "--model-id", "--host", "--port", "--config", "--db",
                           "--data-dir", "--threads", "--ctx", "--parallel", "--max-queue",
                           "--max-body", "--log-level", "--kv-type"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        assert_non_null(strstr(text, flags[i]));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_repo_config_equals_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_models_list),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_bare_boolean_flags),
        cmocka_unit_test(test_data_dir_resolution),
        cmocka_unit_test(test_help_lists_every_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
