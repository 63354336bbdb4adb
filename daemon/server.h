/* The HTTP server: one libuv loop owns the process; libmicrohttpd parses HTTP in its
 * external-polling mode on that loop (its epoll fd under uv_poll, its timeout on a uv_timer);
 * the engine thread's events arrive through uv_async. SIGTERM/SIGINT drain and stop it (a
 * second one stops it at once); SIGHUP re-reads the keys and the reloadable settings.
 * Loop thread (the caller's). */
#ifndef HR_SERVER_H
#define HR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

struct hr_store;
struct hr_keyring;

/* One model to serve, known to clients by id. */
struct hr_model_spec {
    const char *id;
    const char *path;          /* GGUF file */
    const char *chat_template; /* NULL/"": the model's own; else a Jinja file to use instead */
    uint32_t n_ctx;            /* 0: the server's engine.n_ctx */
    uint32_t n_parallel;       /* 0: the server's engine.n_parallel */
    bool preload;              /* loaded before listening and never unloaded; others load on
                                  first use and unload after keep_alive_s idle */
    bool optional;             /* found in a directory: a file that does not load is logged
                                  and left out instead of stopping the start */
};

/* The settings SIGHUP can change without a restart. */
struct hr_server_reload {
    uint64_t max_body;
    uint32_t request_timeout_ms;
    uint32_t read_timeout_s;
    char cors_origins[4096];
    int log_level; /* enum hr_log_level */
};

struct hr_server_params {
    const char *host;      /* numeric address or name, e.g. "127.0.0.1", "::1", "0.0.0.0" */
    uint16_t port;         /* 0: any free port (logged) */
    uint64_t max_body;     /* request body limit in bytes (413 beyond) */
    const struct hr_model_spec *models; /* n_models, at least one, ids unique */
    size_t n_models;
    uint32_t keep_alive_s; /* an idle on-demand model unloads after this; 0: never */
    uint32_t max_loaded;   /* on-demand models loaded at once */
    uint32_t request_timeout_ms; /* chat requests end with a 504 after this long; 0: never */
    uint32_t idle_timeout_s; /* idle keep-alive connections close after this long; 0: never */
    uint32_t read_timeout_s; /* headers and body must arrive within this (408); 0: no limit */
    const char *cors_origins; /* "": no CORS headers; "*"; or comma-separated origins */
    struct hr_engine_params engine;
    struct hr_store *store; /* usage rows go here; may be NULL */
    const char *db_path;    /* the store's file, read by GET /v1/usage; NULL: no reports */
    struct hr_keyring *keyring; /* API keys from the store; NULL: no auth */
    bool log_content;       /* usage rows carry the request body and the answer text */
    const char *tls_cert_pem; /* HTTPS with this certificate chain and key (PEM text, valid */
    const char *tls_key_pem;  /* while the server runs); NULL: plain HTTP */
    uint32_t drain_timeout_s; /* SIGTERM: running requests may finish for this long while no
                                 new ones are taken (a second SIGTERM stops at once); 0: stop
                                 at once */
    /* SIGHUP: called on libuv's pool to re-read the configuration; fills *out (the caller's
       reloadable settings) or returns an error with a diag. NULL: SIGHUP reloads keys only. */
    int (*reload)(void *ud, struct hr_server_reload *out, struct hr_diag *d);
    void *reload_ud;
};

/* Checks every model (preloaded ones are loaded and their engines started), binds, serves
 * until a signal, then stops cleanly: engines stopped, connections closed, every finished
 * request's usage row handed to the store. Returns 0, or an error with diag naming the model
 * file or the address. */
int hr_server_run(const struct hr_server_params *p, struct hr_diag *d);

#endif
