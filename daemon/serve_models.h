/* Which models `hearth serve` serves, from its configuration: --model (preloaded, id
 * --model-id or its file name), the config file's "models" list, and every *.gguf in
 * --models-dir (loaded on use); with none of them, the demo model in the data directory.
 * Main thread at start-up. */
#ifndef HR_SERVE_MODELS_H
#define HR_SERVE_MODELS_H

#include "daemon/config.h"
#include "daemon/server.h"

struct hr_model_list {
    struct hr_model_spec *specs; /* n of them; strings owned by the list */
    size_t n;
    bool is_demo; /* the demo model (specs[0].path may not exist yet) */
};

/* HR_EINVAL with d naming the flag, file or directory: an unreadable directory, two models
 * with one id, a directory without models when nothing else is configured. */
int hr_serve_models_collect(const struct hr_config *c, const char *data_dir,
                            struct hr_model_list *out, struct hr_diag *d);
void hr_serve_models_free(struct hr_model_list *l);

#endif
