/* `hearth serve`: resolve the configuration (defaults < file < flags), prepare the data
 * directory, make the demo model on first start when no --model is given, load the model,
 * open the usage store, and run the server until a signal. Every start-up failure is one line
 * on stderr: exit 2 for configuration, 1 for run time. Main thread (becomes the loop). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/log_sink.h"
#include "daemon/server.h"
#include "daemon/store/store.h"
#include "engine/engine.h"

#define DEMO_FILE "demo-tiny.gguf"
#define DEMO_ID "hearth-demo"

/* mkdir -p with mode 0700 for the directories we create (they will hold usage data). */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* The id clients use: the file's base name without ".gguf". */
static void id_from_path(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".gguf") == 0)
        n -= 5;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

/* A whole small file (templates are < 1 MiB) into a malloc'd buffer. */
static char *read_small_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(HR_JINJA_MAX_SOURCE + 1);
    size_t n = buf ? fread(buf, 1, HR_JINJA_MAX_SOURCE + 1, f) : 0;
    fclose(f);
    if (!buf || n > HR_JINJA_MAX_SOURCE) {
        free(buf);
        errno = EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int ensure_demo_model(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return 0;
    hr_log(HR_LOG_WARN, "serve",
           "no --model given: writing a RANDOM-WEIGHT demo model to %s (hearth make-model "
           "--preset tiny). It checks the plumbing; its answers are noise.", path);
    struct hr_synth_params sp = {0};
    sp.preset = "tiny";
    sp.type = HR_TYPE_F16;
    sp.out_path = path;
    sp.seed = 42;
    sp.name = DEMO_ID;
    struct hr_diag d = {{0}};
    int rc = hr_synth_write(&sp, &d);
    if (rc != 0)
        fprintf(stderr, "hearth: %s: %s\n", path, d.msg[0] ? d.msg : hr_err_str(rc));
    return rc;
}

int hr_cmd_serve(int argc, char **argv)
{
    struct hr_config cfg;
    hr_config_defaults(&cfg);
    struct hr_diag d = {{0}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs("usage: hearth serve [OPTIONS]\n\nServes the OpenAI API over HTTP.\n\n",
                  stdout);
            hr_config_print_help(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--help-markdown") == 0) {
            hr_config_print_markdown(stdout);
            return 0;
        }
    }
    if (hr_config_parse_args(&cfg, argc, argv, &d) != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg);
        return 2;
    }
    hr_log_sink_install();
    hr_log_set_level(cfg.log_level);

    char data_dir[4096];
    hr_config_data_dir(&cfg, data_dir, sizeof data_dir);
    if (make_dirs(data_dir) != 0) {
        fprintf(stderr, "hearth: %s: cannot create the data directory: %s\n", data_dir,
                strerror(errno));
        return 1;
    }
    char model_path[HR_CONFIG_STR + 64], db_path[HR_CONFIG_STR + 64], model_id[256];
    bool is_demo = cfg.model[0] == '\0';
    if (is_demo)
        snprintf(model_path, sizeof model_path, "%s/%s", data_dir, DEMO_FILE);
    else
        snprintf(model_path, sizeof model_path, "%s", cfg.model);
    if (cfg.db[0])
        snprintf(db_path, sizeof db_path, "%s", cfg.db);
    else
        snprintf(db_path, sizeof db_path, "%s/hearth.db", data_dir);
    if (cfg.model_id[0])
        snprintf(model_id, sizeof model_id, "%s", cfg.model_id);
    else if (is_demo)
        snprintf(model_id, sizeof model_id, "%s", DEMO_ID);
    else
        id_from_path(model_path, model_id, sizeof model_id);

    if (is_demo && ensure_demo_model(model_path) != 0)
        return 1;
    struct hr_model *model = NULL;
    int rc = hr_model_load(&model, model_path, &d);
    if (rc != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        return 1;
    }
    if (cfg.chat_template[0]) {
        size_t len = 0;
        char *src = read_small_file(cfg.chat_template, &len);
        struct hr_diag td = {{0}};
        if (!src) {
            fprintf(stderr, "hearth: %s: cannot read the chat template: %s\n", cfg.chat_template,
                    strerror(errno));
            hr_model_free(model);
            return 2;
        }
        rc = hr_model_set_chat_template(model, src, len, &td);
        free(src);
        if (rc) {
            fprintf(stderr, "hearth: %s: %s\n", cfg.chat_template, td.msg);
            hr_model_free(model);
            return 2;
        }
        hr_log(HR_LOG_INFO, "serve", "chat template: %s (--chat-template)", cfg.chat_template);
    } else if (hr_chat_template_is_default(model->chat)) {
        hr_log(HR_LOG_INFO, "serve", "chat template: the model has none; using the ChatML "
                                     "default");
    } else {
        hr_log(HR_LOG_INFO, "serve", "chat template: the model's own (tokenizer.chat_template)");
    }
    /* A model make-model wrote is random noise whatever its path: say so to clients too. */
    bool synthetic = false;
    if (hr_gguf_get_bool(model->gguf, "hearth.synthetic", &synthetic, NULL) == 0 && synthetic)
        is_demo = true;
    struct stat st;
    int64_t created = stat(model_path, &st) == 0 ? (int64_t)st.st_mtime : 0;

    struct hr_store *store = NULL;
    rc = hr_store_open(&store, db_path, &d);
    if (rc != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        hr_model_free(model);
        return 1;
    }
    hr_log(HR_LOG_INFO, "serve", "usage database %s", db_path);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    struct hr_server_params sp = {0};
    sp.host = cfg.host;
    sp.port = (uint16_t)cfg.port;
    sp.max_body = (uint64_t)cfg.max_body;
    sp.request_timeout_ms = (uint32_t)cfg.request_timeout * 1000;
    sp.idle_timeout_s = (uint32_t)cfg.idle_timeout;
    sp.read_timeout_s = (uint32_t)cfg.read_timeout;
    sp.cors_origins = cfg.cors_origins;
    sp.model_id = model_id;
    sp.model_created = created;
    sp.is_demo = is_demo;
    sp.engine.n_threads = cfg.threads ? (uint32_t)cfg.threads : (uint32_t)(ncpu > 0 ? ncpu : 1);
    sp.engine.n_ctx = (uint32_t)cfg.ctx;
    sp.engine.n_parallel = (uint32_t)cfg.parallel;
    sp.engine.max_queue = (uint32_t)cfg.max_queue;
    sp.engine.prefix_cache = cfg.prefix_cache;
    sp.engine.kv_tokens = (uint32_t)cfg.kv_tokens;
    sp.engine.batch_tokens = (uint32_t)cfg.batch_tokens;
    sp.engine.kv_type = !strcmp(cfg.kv_type, "f32")    ? HR_KV_F32
                        : !strcmp(cfg.kv_type, "q8_0") ? HR_KV_Q8_0
                                                       : HR_KV_F16;
    sp.store = store;
    rc = hr_server_run(&sp, model, &d);
    hr_store_close(store);
    if (rc != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        return 1;
    }
    hr_log(HR_LOG_INFO, "serve", "stopped");
    return 0;
}
