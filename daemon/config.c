/* The settings table and everything it drives (see config.h): JSON file loading with jansson,
 * flag parsing, help text and the README table. Wrong types, out-of-range values and unknown
 * keys are errors naming the file (or flag) and key, never silently clamped. Main thread. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/err.h"

enum kind { K_STR, K_INT, K_BOOL, K_LEVEL };

struct setting {
    const char *name; /* JSON key */
    const char *flag;
    enum kind kind;
    size_t offset;
    size_t size; /* K_STR: buffer size */
    const char *def_str;
    int64_t def_int, min, max;
    const char *help;
};

#define STR(field, flag, def, help) \
    {#field, flag, K_STR, offsetof(struct hr_config, field), \
     sizeof(((struct hr_config *)0)->field), def, 0, 0, 0, help}
#define INT(field, flag, def, lo, hi, help) \
    {#field, flag, K_INT, offsetof(struct hr_config, field), 0, NULL, def, lo, hi, help}
#define BOOL(field, flag, def, help) \
    {#field, flag, K_BOOL, offsetof(struct hr_config, field), 0, NULL, def, 0, 1, help}

static const struct setting settings[] = {
    STR(model, "--model", "", "GGUF model file to serve; empty: a random-weight demo model "
                              "written to the data directory on first start"),
    STR(model_id, "--model-id", "", "id clients use in \"model\"; empty: the file name "
                                    "without .gguf (hearth-demo for the demo)"),
    STR(chat_template, "--chat-template", "", "Jinja chat template file to use instead of the "
                                              "model's own (a model without one gets ChatML)"),
    STR(host, "--host", "127.0.0.1", "address to listen on (IPv4, IPv6 or a host name)"),
    INT(port, "--port", 8080, 0, 65535, "TCP port; 0 picks a free port (logged)"),
    STR(db, "--db", "", "SQLite usage database; empty: DATA_DIR/hearth.db"),
    STR(data_dir, "--data-dir", "", "state directory; empty: $HEARTH_DATA_DIR, else "
                                    "$XDG_DATA_HOME/hearth, else ~/.local/share/hearth"),
    INT(threads, "--threads", 0, 0, 256, "compute threads; 0: one per CPU"),
    INT(ctx, "--ctx", 0, 0, 1048576, "context per sequence in tokens; 0: the model's, at most "
                                     "4096"),
    INT(parallel, "--parallel", 4, 1, 256, "sequences generated at once; more wait in the "
                                           "queue"),
    INT(kv_tokens, "--kv-tokens", 0, 0, 67108864, "KV cache size in token positions shared "
                                                "by all sequences (at least ctx); 0: parallel x "
                                                "ctx, never preempting. Smaller: sequences "
                                                "grow into it and the newest is preempted and "
                                                "recomputed when it is full"),
    INT(batch_tokens, "--batch-tokens", 512, 16, 65536, "tokens evaluated in one engine step "
                                                        "(decode tokens plus prefill chunks)"),
    STR(kv_type, "--kv-type", "f16", "KV cache element type: f16, q8_0 (half the memory again, "
                                     "heads a multiple of 32 wide) or f32 (exact)"),
    BOOL(prefix_cache, "--prefix-cache", 1, "reuse the KV cache of identical prompt prefixes "
                                            "across requests (answers are bit-identical either "
                                            "way; see Privacy)"),
    STR(models_dir, "--models-dir", "", "directory whose *.gguf files are all served, each "
                                        "under its file name without .gguf, loaded on first "
                                        "use"),
    INT(keep_alive, "--keep-alive", 300, 0, 31536000, "seconds a model loaded on use stays "
                                                      "loaded while idle; 0: until stopped"),
    INT(max_loaded, "--max-loaded", 2, 1, 64, "models loaded on use held at once (the least "
                                              "recently used idle one is unloaded for "
                                              "another)"),
    INT(max_queue, "--max-queue", 256, 0, 100000, "waiting requests beyond which the API "
                                                  "answers 503 with Retry-After"),
    INT(request_timeout, "--request-timeout", 0, 0, 86400, "seconds a chat request may run "
                                                           "from submission (queue included) "
                                                           "before it ends with a 504 and "
                                                           "its KV is freed; 0: no limit"),
    INT(max_body, "--max-body", 16777216, 1024, 1073741824, "largest request body in bytes "
                                                            "(413 beyond)"),
    INT(idle_timeout, "--idle-timeout", 60, 1, 86400, "seconds an idle keep-alive connection "
                                                     "(or one that stops reading its answer) "
                                                     "stays open"),
    INT(read_timeout, "--read-timeout", 30, 1, 86400, "seconds a request's headers and body may "
                                                     "take to arrive (408 and close beyond)"),
    STR(tls_cert, "--tls-cert", "", "PEM certificate (with any intermediates) to serve HTTPS "
                                    "with; needs --tls-key"),
    STR(tls_key, "--tls-key", "", "PEM private key of --tls-cert"),
    INT(drain_timeout, "--drain-timeout", 30, 0, 86400, "seconds running requests may go on "
                                                        "after SIGTERM while no new ones are "
                                                        "taken; those left then end with an "
                                                        "error. 0: stop at once"),
    BOOL(insecure_no_auth, "--insecure-no-auth", 0, "allow listening on a non-loopback "
                                                    "address while no API key exists (anyone "
                                                    "who can reach the port may use it)"),
    BOOL(log_content, "--log-content", 0, "store each request's body and answer text in the "
                                          "usage ledger (off: counts and timings only; see "
                                          "Privacy)"),
    INT(usage_retention_days, "--usage-retention-days", 0, 0, 36500, "days usage rows are "
                                                                     "kept (older ones are "
                                                                     "deleted hourly); 0: "
                                                                     "forever"),
    STR(cors_origins, "--cors-origins", "", "browser origins allowed by CORS, comma-separated "
                                            "(e.g. https://app.example.com), or *; empty: no "
                                            "CORS headers"),
    {"log_level", "--log-level", K_LEVEL, offsetof(struct hr_config, log_level), 0, "info", 0,
     0, 0, "debug, info, warn or error"},
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

static const char *levels[] = {"debug", "info", "warn", "error"};

void hr_config_defaults(struct hr_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        char *base = (char *)c + s->offset;
        if (s->kind == K_STR)
            snprintf(base, s->size, "%s", s->def_str);
        else if (s->kind == K_INT)
            *(int64_t *)(void *)base = s->def_int;
        else if (s->kind == K_BOOL)
            *(bool *)(void *)base = s->def_int != 0;
    }
    c->log_level = HR_LOG_INFO;
}

/* Sets setting s from text (flags) or a JSON value; where names the file or flag. */
static int set_value(struct hr_config *c, const struct setting *s, const char *text,
                     json_t *jv, const char *where, const char *key, struct hr_diag *d)
{
    char *base = (char *)c + s->offset;
    if (s->kind == K_STR) {
        if (jv && !json_is_string(jv)) {
            hr_diag_set(d, "%s: %s: expected a string", where, key);
            return HR_EINVAL;
        }
        const char *v = jv ? json_string_value(jv) : text;
        if (strlen(v) >= s->size) {
            hr_diag_set(d, "%s: %s: longer than %zu bytes", where, key, s->size - 1);
            return HR_EINVAL;
        }
        if (s->offset == offsetof(struct hr_config, kv_type) && strcmp(v, "f16") &&
            strcmp(v, "f32") && strcmp(v, "q8_0")) {
            hr_diag_set(d, "%s: %s: expected one of f16, f32, q8_0, got '%.16s'", where, key, v);
            return HR_EINVAL;
        }
        snprintf(base, s->size, "%s", v);
        return 0;
    }
    if (s->kind == K_LEVEL) {
        const char *v = jv ? (json_is_string(jv) ? json_string_value(jv) : NULL) : text;
        for (int i = 0; v && i < 4; i++)
            if (strcmp(v, levels[i]) == 0) {
                *(enum hr_log_level *)(void *)base = (enum hr_log_level)i;
                return 0;
            }
        hr_diag_set(d, "%s: %s: expected one of debug, info, warn, error", where, key);
        return HR_EINVAL;
    }
    if (s->kind == K_BOOL) {
        bool on = false;
        if (jv ? !json_is_boolean(jv)
               : !((on = strcmp(text, "true") == 0) || strcmp(text, "false") == 0)) {
            hr_diag_set(d, "%s: %s: expected true or false", where, key);
            return HR_EINVAL;
        }
        *(bool *)(void *)base = jv ? json_is_true(jv) : on;
        return 0;
    }
    long long v;
    if (jv) {
        if (!json_is_integer(jv)) {
            hr_diag_set(d, "%s: %s: expected an integer, got %s", where, key,
                        json_is_string(jv) ? "a string" : json_is_real(jv) ? "a decimal"
                                                                           : "another type");
            return HR_EINVAL;
        }
        v = json_integer_value(jv);
    } else {
        char *end = NULL;
        errno = 0;
        v = strtoll(text, &end, 10);
        if (!*text || errno || *end) {
            hr_diag_set(d, "%s: expected an integer in %lld..%lld, got '%.64s'", where,
                        (long long)s->min, (long long)s->max, text);
            return HR_EINVAL;
        }
    }
    if (v < s->min || v > s->max) {
        hr_diag_set(d, "%s: %s: expected an integer in %lld..%lld, got %lld", where, key,
                    (long long)s->min, (long long)s->max, v);
        return HR_EINVAL;
    }
    *(int64_t *)(void *)base = v;
    return 0;
}

int hr_config_load_file(struct hr_config *c, const char *path, struct hr_diag *d)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        hr_diag_set(d, "%s: cannot read: %s", path, strerror(errno));
        return HR_EINVAL;
    }
    if (st.st_size > 1024 * 1024) {
        hr_diag_set(d, "%s: larger than 1 MiB; not a config file", path);
        return HR_EINVAL;
    }
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        hr_diag_set(d, "%s: line %d column %d: invalid JSON (%s)", path, err.line, err.column,
                    err.text);
        return HR_EINVAL;
    }
    if (!json_is_object(root)) {
        hr_diag_set(d, "%s: expected a JSON object of settings", path);
        json_decref(root);
        return HR_EINVAL;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "models") == 0) {
            rc = hr_config_models_parse(c, v, path, d);
            if (rc)
                break;
            continue;
        }
        const struct setting *s = NULL;
        for (size_t i = 0; i < N_SETTINGS; i++)
            if (strcmp(settings[i].name, key) == 0)
                s = &settings[i];
        if (!s) {
            hr_diag_set(d, "%s: unknown key '%.64s'", path, key);
            rc = HR_EINVAL;
            break;
        }
        rc = set_value(c, s, NULL, v, path, key, d);
        if (rc)
            break;
    }
    json_decref(root);
    return rc;
}

int hr_config_parse_args(struct hr_config *c, int argc, char **argv, struct hr_diag *d)
{
    /* The file first, wherever --config stands, so flags always win over it. */
    for (int i = 1; i < argc; i++) {
        const char *file = NULL;
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                hr_diag_set(d, "--config: missing value");
                return HR_EINVAL;
            }
            file = argv[i + 1];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            file = argv[i] + 9;
        }
        if (file) {
            int rc = hr_config_load_file(c, file, d);
            if (rc)
                return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t flag_len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (strncmp(arg, "--config", flag_len) == 0 && flag_len == 8) {
            i += eq ? 0 : 1;
            continue;
        }
        const struct setting *s = NULL;
        for (size_t k = 0; k < N_SETTINGS; k++)
            if (strlen(settings[k].flag) == flag_len &&
                strncmp(settings[k].flag, arg, flag_len) == 0)
                s = &settings[k];
        if (!s) {
            hr_diag_set(d, "serve: unknown option '%.64s' (see hearth serve --help)", arg);
            return HR_EINVAL;
        }
        /* A boolean flag alone means true: `--log-content` as well as `--log-content true`. */
        bool bare = s->kind == K_BOOL && !eq && (i + 1 >= argc || argv[i + 1][0] == '-');
        const char *value = bare ? "true" : eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value) {
            hr_diag_set(d, "%s: missing value", s->flag);
            return HR_EINVAL;
        }
        int rc = set_value(c, s, value, NULL, s->flag, s->name, d);
        if (rc)
            return rc;
    }
    return 0;
}

const char *hr_config_data_dir(const struct hr_config *c, char *buf, size_t cap)
{
    const char *env;
    if (c->data_dir[0])
        snprintf(buf, cap, "%s", c->data_dir);
    else if ((env = getenv("HEARTH_DATA_DIR")) && *env)
        snprintf(buf, cap, "%s", env);
    else if ((env = getenv("XDG_DATA_HOME")) && *env)
        snprintf(buf, cap, "%s/hearth", env);
    else if ((env = getenv("HOME")) && *env)
        snprintf(buf, cap, "%s/.local/share/hearth", env);
    else
        snprintf(buf, cap, "/var/lib/hearth");
    return buf;
}

static void default_text(const struct setting *s, char *buf, size_t cap)
{
    if (s->kind == K_INT)
        snprintf(buf, cap, "%lld", (long long)s->def_int);
    else if (s->kind == K_BOOL)
        snprintf(buf, cap, "%s", s->def_int ? "true" : "false");
    else
        snprintf(buf, cap, "\"%s\"", s->def_str);
}

void hr_config_print_help(FILE *out)
{
    fprintf(out, "  --config FILE          JSON settings file (flags override it)\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char def[64], flag[48];
        default_text(&settings[i], def, sizeof def);
        snprintf(flag, sizeof flag, "%s %s", settings[i].flag,
                 settings[i].kind == K_INT    ? "N"
                 : settings[i].kind == K_BOOL ? "[true|false]"
                                              : "VALUE");
        fprintf(out, "  %-22s %s (default %s)\n", flag, settings[i].help, def);
    }
    fprintf(out, "  --help                 this text\n");
}

void hr_config_print_markdown(FILE *out)
{
    fprintf(out, "| key | flag | type | default | range | meaning |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        char def[64], range[64] = "";
        default_text(s, def, sizeof def);
        if (s->kind == K_INT)
            snprintf(range, sizeof range, "%lld..%lld", (long long)s->min, (long long)s->max);
        fprintf(out, "| `%s` | `%s` | %s | `%s` | %s | %s |\n", s->name, s->flag,
                s->kind == K_INT ? "integer" : s->kind == K_BOOL ? "boolean" : "string", def,
                range, s->help);
    }
}
