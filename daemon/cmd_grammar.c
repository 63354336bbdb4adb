/* `hearth grammar`: what a schema or grammar becomes, without a model. --print writes the
 * GBNF a JSON Schema compiles to (or checks a GBNF file and writes it back); --check reads
 * NUL-terminated outputs from stdin (outputs may span lines) and answers 1 or 0 for each:
 * whether it is a complete output the grammar allows (the tests' oracle comparisons use it). Also the grammar loading shared with
 * `hearth run`. Main thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/commands.h"
#include "engine/engine.h"

static const char usage_text[] =
    "usage: hearth grammar (--grammar FILE | --json-schema FILE [--strict] | --json)\n"
    "                      [--print | --check]\n"
    "  --grammar FILE      a GBNF grammar (llama.cpp's syntax)\n"
    "  --json-schema FILE  a JSON Schema (--strict: OpenAI's strict mode)\n"
    "  --json              any JSON object (response_format json_object)\n"
    "  --print             write the grammar as GBNF (default)\n"
    "  --check             for each NUL-terminated output on stdin print a line: 1 if the\n"
    "                      grammar accepts it, else 0\n";

#define MAX_CHECK_INPUT (256u << 20)

/* The whole file, at most HR_GRAMMAR_MAX_SOURCE bytes, NUL-terminated (caller frees). */
static char *read_source(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *src = malloc(HR_GRAMMAR_MAX_SOURCE + 2);
    *n = f && src ? fread(src, 1, HR_GRAMMAR_MAX_SOURCE + 1, f) : 0;
    bool ok = f && src && !ferror(f);
    if (f)
        fclose(f);
    if (!ok) {
        fprintf(stderr, "hearth: %s: cannot read the file\n", path);
    } else if (*n > HR_GRAMMAR_MAX_SOURCE) {
        fprintf(stderr, "hearth: %s: longer than %u bytes\n", path, HR_GRAMMAR_MAX_SOURCE);
        ok = false;
    }
    if (!ok) {
        free(src);
        return NULL;
    }
    src[*n] = '\0';
    return src;
}

int hr_cmd_load_grammar(const char *gbnf_file, const char *schema_file, bool strict, bool json,
                        struct hr_grammar **g, char **gbnf)
{
    *g = NULL;
    if (gbnf)
        *gbnf = NULL;
    int n_set = (gbnf_file != NULL) + (schema_file != NULL) + json;
    if (n_set == 0)
        return 0;
    if (n_set > 1) {
        fprintf(stderr, "hearth: give one of --grammar, --json-schema and --json\n");
        return 2;
    }
    struct hr_diag d = {{0}};
    const char *path = gbnf_file ? gbnf_file : schema_file;
    char *text = NULL;
    size_t n = 0;
    int rc = 0;
    if (json) {
        text = strdup(hr_grammar_json_object_gbnf());
        path = "json_object";
    } else if (!(text = read_source(path, &n))) {
        return 2;
    } else if (schema_file) {
        char *compiled = NULL;
        rc = hr_grammar_schema_to_gbnf(text, n, strict, &compiled, &d);
        free(text);
        text = compiled;
    }
    if (rc == 0 && !text)
        rc = HR_ENOMEM;
    if (rc == 0)
        rc = hr_grammar_parse(g, text, strlen(text), &d);
    if (rc) {
        fprintf(stderr, "hearth: %s: %s\n", path, d.msg[0] ? d.msg : hr_err_str(rc));
        free(text);
        return 2;
    }
    if (gbnf)
        *gbnf = text;
    else
        free(text);
    return 0;
}

int hr_cmd_grammar(int argc, char **argv)
{
    const char *gfile = NULL, *sfile = NULL;
    bool strict = false, json = false, check = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_v = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--strict") == 0) {
            strict = true;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--check") == 0) {
            check = true;
        } else if (strcmp(a, "--print") == 0) {
            check = false;
        } else if (strcmp(a, "--grammar") == 0 && has_v) {
            gfile = argv[++i];
        } else if (strcmp(a, "--json-schema") == 0 && has_v) {
            sfile = argv[++i];
        } else {
            fprintf(stderr, "hearth: grammar: unknown option or missing value '%s'\n%s", a,
                    usage_text);
            return 2;
        }
    }
    if (!gfile && !sfile && !json) {
        fputs(usage_text, stderr);
        return 2;
    }
    struct hr_grammar *g = NULL;
    char *gbnf = NULL;
    int rc = hr_cmd_load_grammar(gfile, sfile, strict, json, &g, &gbnf);
    if (rc)
        return rc;
    if (!check) {
        fputs(gbnf, stdout);
    } else {
        size_t cap = 1u << 20, n = 0;
        char *in = malloc(cap);
        while (in) {
            if (n == cap) {
                char *p = cap < MAX_CHECK_INPUT ? realloc(in, cap * 2) : NULL;
                if (!p) {
                    fprintf(stderr, "hearth: grammar: stdin: more than %u bytes\n",
                            MAX_CHECK_INPUT);
                    free(in);
                    hr_grammar_unref(g);
                    free(gbnf);
                    return 1;
                }
                in = p;
                cap *= 2;
            }
            size_t got = fread(in + n, 1, cap - n, stdin);
            n += got;
            if (got == 0)
                break;
        }
        for (size_t at = 0; in && at < n;) {
            const char *end = memchr(in + at, '\0', n - at);
            size_t len = end ? (size_t)(end - (in + at)) : n - at;
            struct hr_grammar_state *s = NULL;
            bool ok = hr_grammar_state_new(&s, g, NULL) == 0 &&
                      hr_grammar_accept_bytes(s, in + at, len) == 0 &&
                      hr_grammar_is_accepting(s);
            hr_grammar_state_free(s);
            fputs(ok ? "1\n" : "0\n", stdout);
            at += len + 1;
        }
        free(in);
    }
    free(gbnf);
    hr_grammar_unref(g);
    return fflush(stdout) == 0 ? 0 : 1;
}
