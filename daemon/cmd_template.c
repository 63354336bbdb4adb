/* `hearth template`: renders a chat template the way the server does, for checking what
 * prompt a model really gets. Input: a JSON file with messages, and optionally tools,
 * add_generation_prompt, bos_token, eos_token and now (unix seconds for strftime_now).
 * Main thread. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "daemon/commands.h"
#include "daemon/small_file.h"
#include "engine/engine.h"

int hr_cmd_template(int argc, char **argv)
{
    const char *tpath = NULL, *ipath = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: hearth template --template FILE.jinja --input CONVERSATION.json\n\n"
                 "Renders a chat template as the server would and prints the prompt.\n"
                 "The input JSON holds \"messages\" and optionally \"tools\",\n"
                 "\"add_generation_prompt\" (default true), \"bos_token\", \"eos_token\" and\n"
                 "\"now\" (unix seconds for strftime_now).");
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hearth: template: %s: missing value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--template"))
            tpath = argv[++i];
        else if (!strcmp(argv[i], "--input"))
            ipath = argv[++i];
        else {
            fprintf(stderr, "hearth: template: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!tpath || !ipath) {
        fprintf(stderr, "hearth: template: --template and --input are required\n");
        return 2;
    }
    size_t tlen = 0;
    char *src = hr_read_small_file(tpath, HR_JINJA_MAX_SOURCE, &tlen);
    if (!src) {
        fprintf(stderr, "hearth: %s: cannot read: %s\n", tpath, strerror(errno));
        return 2;
    }
    json_error_t jerr;
    json_t *in = json_load_file(ipath, 0, &jerr);
    if (!in || !json_is_object(in)) {
        fprintf(stderr, "hearth: %s: line %d: %s\n", ipath, jerr.line,
                in ? "expected an object" : jerr.text);
        free(src);
        json_decref(in);
        return 2;
    }
    struct hr_diag d = {{0}};
    struct hr_jinja *t = NULL;
    int status = 1;
    struct hr_jval *vars = NULL;
    if (hr_jinja_compile(&t, src, tlen, &d) != 0) {
        fprintf(stderr, "hearth: %s: %s\n", tpath, d.msg);
        goto done;
    }
    vars = hr_api_jval_from_json(in);
    if (!json_object_get(in, "add_generation_prompt"))
        hr_jval_dict_set(vars, "add_generation_prompt", 21, hr_jval_bool(true));
    json_t *now_j = json_object_get(in, "now");
    int64_t now = json_is_integer(now_j) ? json_integer_value(now_j) : (int64_t)time(NULL);
    char *out = NULL;
    size_t n = 0;
    if (hr_jinja_render(t, vars, now, &out, &n, &d) != 0) {
        fprintf(stderr, "hearth: %s: %s\n", tpath, d.msg);
        goto done;
    }
    fwrite(out, 1, n, stdout);
    free(out);
    status = 0;
done:
    hr_jval_unref(vars);
    hr_jinja_free(t);
    json_decref(in);
    free(src);
    return status;
}
