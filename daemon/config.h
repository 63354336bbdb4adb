/* `hearth serve` settings. One table (config.c) of name, flag, type, default, range and help
 * drives the JSON config loader, the command-line flags, --help and the README's table.
 * Precedence: defaults < the file given with --config < flags. The loaded struct is
 * immutable. Main thread at start-up. */
#ifndef HR_CONFIG_H
#define HR_CONFIG_H

#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "engine/base/diag.h"
#include "engine/base/log.h"

#define HR_CONFIG_STR 4096

#define HR_CONFIG_MAX_MODELS 64

/* One entry of the config file's "models" list. */
struct hr_config_model {
    char id[256];
    char path[HR_CONFIG_STR];
    char chat_template[HR_CONFIG_STR]; /* "" = the model's own */
    int64_t ctx;      /* 0 = the server's --ctx */
    int64_t parallel; /* 0 = the server's --parallel */
    bool preload;     /* loaded at start and never unloaded */
};

struct hr_config {
    char model[HR_CONFIG_STR];    /* GGUF path; "" = the demo model */
    char model_id[256];           /* "" = the file's base name without .gguf */
    char chat_template[HR_CONFIG_STR]; /* Jinja file overriding the model's; "" = its own */
    char host[256];
    int64_t port;
    char db[HR_CONFIG_STR];       /* "" = <data_dir>/hearth.db */
    char data_dir[HR_CONFIG_STR]; /* "" = $HEARTH_DATA_DIR, $XDG_DATA_HOME/hearth, or
                                     ~/.local/share/hearth */
    int64_t threads;              /* 0 = number of CPUs */
    int64_t ctx;                  /* 0 = the model's training context, at most 4096 */
    int64_t parallel;
    int64_t kv_tokens;            /* 0 = parallel x ctx */
    int64_t batch_tokens;
    int64_t max_queue;
    int64_t max_body;
    int64_t request_timeout;      /* seconds; 0 = no limit */
    int64_t idle_timeout;         /* seconds */
    int64_t read_timeout;         /* seconds */
    char cors_origins[HR_CONFIG_STR]; /* "" = no CORS; "*"; or comma-separated origins */
    char tls_cert[HR_CONFIG_STR]; /* PEM certificate (chain); "" = plain HTTP */
    char tls_key[HR_CONFIG_STR];  /* its PEM private key */
    int64_t drain_timeout;        /* seconds running requests may finish after SIGTERM */
    char kv_type[8];              /* "f16" (default), "f32" or "q8_0" */
    bool prefix_cache;
    bool insecure_no_auth;        /* may listen beyond loopback without any API key */
    bool log_content;             /* usage rows keep request bodies and answer text */
    int64_t usage_retention_days; /* 0 = keep usage rows forever */
    char models_dir[HR_CONFIG_STR]; /* "" = none; else every *.gguf there, loaded on use */
    int64_t keep_alive;           /* seconds an on-demand model stays loaded idle; 0 = ever */
    int64_t max_loaded;           /* on-demand models loaded at once */
    enum hr_log_level log_level;
    struct hr_config_model *models; /* the file's "models" list (n_models), malloc'd */
    size_t n_models;
};

void hr_config_defaults(struct hr_config *c);
/* Frees the models list. */
void hr_config_deinit(struct hr_config *c);
/* Applies a JSON config file on top of c. HR_EINVAL with a diag "FILE: KEY: problem". */
int hr_config_load_file(struct hr_config *c, const char *path, struct hr_diag *d);
/* Applies argv[1..argc) on top of c: first the file named by --config (anywhere on the line),
 * then every --flag VALUE / --flag=VALUE. HR_EINVAL with a diag naming the flag or file. */
int hr_config_parse_args(struct hr_config *c, int argc, char **argv, struct hr_diag *d);
/* config_models.c: reads the file's "models" list (an array of objects) into c, replacing
 * any earlier one. HR_EINVAL with "FILE: models[i].KEY: problem". */
int hr_config_models_parse(struct hr_config *c, json_t *list, const char *path,
                           struct hr_diag *d);

/* The data directory: the setting, else the environment's defaults. */
const char *hr_config_data_dir(const struct hr_config *c, char *buf, size_t cap);
void hr_config_print_help(FILE *out);
void hr_config_print_markdown(FILE *out);

#endif
