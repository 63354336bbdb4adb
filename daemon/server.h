/* The HTTP server: one libuv loop owns the process; libmicrohttpd parses HTTP in its
 * external-polling mode on that loop (its epoll fd under uv_poll, its timeout on a uv_timer);
 * the engine thread's events arrive through uv_async. Returns when SIGINT/SIGTERM stop it.
 * Loop thread (the caller's). */
#ifndef HR_SERVER_H
#define HR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

struct hr_store;

struct hr_server_params {
    const char *host;      /* numeric address or name, e.g. "127.0.0.1", "::1", "0.0.0.0" */
    uint16_t port;         /* 0: any free port (logged) */
    uint64_t max_body;     /* request body limit in bytes (413 beyond) */
    const char *model_id;  /* the id clients use in "model" */
    int64_t model_created; /* unix seconds (the file's mtime) */
    bool is_demo;          /* random-weight demo model: owned_by "hearth-demo" */
    uint32_t request_timeout_ms; /* chat requests end with a 504 after this long; 0: never */
    uint32_t idle_timeout_s; /* idle keep-alive connections close after this long; 0: never */
    uint32_t read_timeout_s; /* headers and body must arrive within this (408); 0: no limit */
    const char *cors_origins; /* "": no CORS headers; "*"; or comma-separated origins */
    struct hr_engine_params engine;
    struct hr_store *store; /* usage rows go here; may be NULL */
};

/* Starts the engine on take_model (owned from here on, also on failure), binds, serves until
 * a signal, then stops cleanly: engine stopped, connections closed, every finished request's
 * usage row handed to the store. Returns 0, or an error with diag (bind failure...). */
int hr_server_run(const struct hr_server_params *p, struct hr_model *take_model,
                  struct hr_diag *d);

#endif
