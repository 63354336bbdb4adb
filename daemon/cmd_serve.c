/* `hearth serve`: resolve the configuration (defaults < file < flags), prepare the data
 * directory, make the demo model on first start when no --model is given, load the model,
 * open the usage store (which reads the API keys), refuse to listen beyond loopback while no
 * key exists (unless --insecure-no-auth), and run the server until a signal. Every start-up
 * failure is one line on stderr: exit 2 for configuration, 1 for run time. Main thread
 * (becomes the loop). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/keyring.h"
#include "daemon/log_sink.h"
#include "daemon/serve_models.h"
#include "daemon/server.h"
#include "daemon/service_notify.h"
#include "daemon/tls.h"
#include "daemon/store/store.h"
#include "engine/engine.h"

#define DEMO_ID "hearth-demo"

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

/* Whether every address host names is a loopback one (127.0.0.0/8, ::1, or v4-mapped
 * 127/8): only such a server is safe to run without keys. Start-up only (may ask DNS). */
static bool host_is_loopback(const char *host)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, "0", &hints, &res) != 0 || !res)
        return false; /* the bind will fail and say why */
    bool all = true;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *v4 = (const struct sockaddr_in *)(void *)a->ai_addr;
            all = all && (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            const struct in6_addr *v6 =
                &((const struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr;
            all = all && (IN6_IS_ADDR_LOOPBACK(v6) ||
                          (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127));
        } else {
            all = false;
        }
    }
    freeaddrinfo(res);
    return all;
}

/* What SIGHUP re-reads: the command line again (defaults < --config file < flags), of which
 * the reloadable settings are taken. Runs on libuv's pool. */
struct reload_args {
    int argc;
    char **argv;
};

static int reload_settings(void *ud, struct hr_server_reload *out, struct hr_diag *d)
{
    const struct reload_args *ra = ud;
    struct hr_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return HR_ENOMEM;
    hr_config_defaults(cfg);
    int rc = hr_config_parse_args(cfg, ra->argc, ra->argv, d);
    if (rc == 0) {
        out->max_body = (uint64_t)cfg->max_body;
        out->request_timeout_ms = (uint32_t)cfg->request_timeout * 1000;
        out->read_timeout_s = (uint32_t)cfg->read_timeout;
        snprintf(out->cors_origins, sizeof out->cors_origins, "%s", cfg->cors_origins);
        out->log_level = (int)cfg->log_level;
    }
    hr_config_deinit(cfg);
    free(cfg);
    return rc;
}

static size_t keys_in(struct hr_keyring *kr)
{
    pthread_mutex_lock(&kr->mu);
    size_t n = kr->n_pending;
    pthread_mutex_unlock(&kr->mu);
    return n;
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
        hr_config_deinit(&cfg);
        return 2;
    }
    hr_log_sink_install();
    hr_log_set_level(cfg.log_level);
    struct hr_tls tls;
    if (hr_tls_load(cfg.tls_cert, cfg.tls_key, &tls, &d) != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg);
        hr_tls_free(&tls);
        hr_config_deinit(&cfg);
        return 2;
    }
    if (getenv("NOTIFY_SOCKET") && !hr_service_notify_built())
        hr_log(HR_LOG_WARN, "serve", "NOTIFY_SOCKET is set but this build has no libsystemd: "
                                     "systemd will not hear READY (use Type=simple)");

    char data_dir[4096];
    hr_config_data_dir(&cfg, data_dir, sizeof data_dir);
    if (hr_cmd_make_dirs(data_dir) != 0) {
        fprintf(stderr, "hearth: %s: cannot create the data directory: %s\n", data_dir,
                strerror(errno));
        hr_tls_free(&tls);
        hr_config_deinit(&cfg);
        return 1;
    }
    char db_path[HR_CONFIG_STR + 64];
    if (cfg.db[0])
        snprintf(db_path, sizeof db_path, "%s", cfg.db);
    else
        snprintf(db_path, sizeof db_path, "%s/hearth.db", data_dir);
    struct hr_model_list list;
    int rc = hr_serve_models_collect(&cfg, data_dir, &list, &d);
    if (rc != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg);
        hr_tls_free(&tls);
        hr_config_deinit(&cfg);
        return 2;
    }
    if (list.is_demo && ensure_demo_model(list.specs[0].path) != 0) {
        hr_serve_models_free(&list);
        hr_tls_free(&tls);
        hr_config_deinit(&cfg);
        return 1;
    }
    static struct hr_keyring keyring; /* outlives the server; the store thread delivers */
    hr_keyring_init(&keyring);
    struct hr_store_options so = {0};
    so.retention_days = (uint32_t)cfg.usage_retention_days;
    so.keys_changed = hr_keyring_deliver;
    so.ud = &keyring;
    struct hr_store *store = NULL;
    rc = hr_store_open(&store, db_path, &so, &d);
    if (rc != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        hr_keyring_deinit(&keyring);
        hr_serve_models_free(&list);
        hr_tls_free(&tls);
        hr_config_deinit(&cfg);
        return 1;
    }
    hr_log(HR_LOG_INFO, "serve", "usage database %s", db_path);
    size_t n_keys = keys_in(&keyring);
    if (n_keys == 0 && !host_is_loopback(cfg.host) && !cfg.insecure_no_auth) {
        fprintf(stderr, "hearth: --host %s: refusing to listen beyond loopback with no API key; "
                        "create one with 'hearth keys create --name NAME' (or pass "
                        "--insecure-no-auth to serve anyone who can reach the port)\n",
                cfg.host);
        hr_store_close(store);
        hr_keyring_deinit(&keyring);
        hr_serve_models_free(&list);
        hr_tls_free(&tls);
        hr_config_deinit(&cfg);
        return 2;
    }
    if (n_keys == 0)
        hr_log(HR_LOG_WARN, "serve", "no API keys: the API is open to anyone who can reach "
                                     "%s (create one with 'hearth keys create')", cfg.host);
    if (cfg.log_content)
        hr_log(HR_LOG_WARN, "serve", "--log-content: request bodies and answers are stored in "
                                     "%s", db_path);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    struct hr_server_params sp = {0};
    sp.host = cfg.host;
    sp.port = (uint16_t)cfg.port;
    sp.max_body = (uint64_t)cfg.max_body;
    sp.request_timeout_ms = (uint32_t)cfg.request_timeout * 1000;
    sp.models = list.specs;
    sp.n_models = list.n;
    sp.keep_alive_s = (uint32_t)cfg.keep_alive;
    sp.max_loaded = (uint32_t)cfg.max_loaded;
    sp.idle_timeout_s = (uint32_t)cfg.idle_timeout;
    sp.read_timeout_s = (uint32_t)cfg.read_timeout;
    sp.cors_origins = cfg.cors_origins;
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
    sp.db_path = db_path;
    sp.keyring = &keyring;
    sp.log_content = cfg.log_content;
    sp.tls_cert_pem = tls.cert_pem;
    sp.tls_key_pem = tls.key_pem;
    sp.drain_timeout_s = (uint32_t)cfg.drain_timeout;
    struct reload_args ra = {argc, argv};
    sp.reload = reload_settings;
    sp.reload_ud = &ra;
    rc = hr_server_run(&sp, &d);
    hr_store_close(store);
    hr_keyring_deinit(&keyring);
    hr_serve_models_free(&list);
    hr_tls_free(&tls);
    hr_config_deinit(&cfg);
    if (rc != 0) {
        fprintf(stderr, "hearth: %s\n", d.msg[0] ? d.msg : hr_err_str(rc));
        return rc == HR_EINVAL ? 2 : 1; /* a template or setting the operator must fix */
    }
    hr_log(HR_LOG_INFO, "serve", "stopped");
    return 0;
}
