/* Opening one served model: its GGUF loaded, a chat template override applied, the facts
 * /v1/models reports read off it, and an engine started on it (or, to check the file at
 * start-up, freed again). Any thread: the worker pool for models loaded on use, the main
 * thread before listening for the rest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/small_file.h"
#include "server_int.h"

static int apply_template(struct hr_model *model, const char *tmpl, struct hr_diag *d)
{
    size_t len = 0;
    char *src = hr_read_small_file(tmpl, HR_JINJA_MAX_SOURCE, &len);
    if (!src) {
        hr_diag_set(d, "%s: cannot read the chat template: %s", tmpl, strerror(errno));
        return HR_EINVAL;
    }
    struct hr_diag td = {{0}};
    int rc = hr_model_set_chat_template(model, src, len, &td);
    free(src);
    if (rc)
        hr_diag_set(d, "%s: %s", tmpl, td.msg);
    return rc ? HR_EINVAL : 0; /* a configuration problem, whatever the template's fault */
}

int hr_model_open(const char *path, const char *tmpl, const struct hr_engine_params *ep,
                  void *notify_ud, struct hr_engine **out, struct hr_model_facts *facts,
                  struct hr_diag *d)
{
    memset(facts, 0, sizeof *facts);
    struct stat st;
    if (stat(path, &st) != 0) {
        hr_diag_set(d, "%s: %s", path, strerror(errno));
        return HR_EIO;
    }
    facts->created = (int64_t)st.st_mtime;
    struct hr_model *model = NULL;
    int rc = hr_model_load(&model, path, d);
    if (rc != 0)
        return rc;
    if (tmpl && tmpl[0] && (rc = apply_template(model, tmpl, d)) != 0) {
        hr_model_free(model);
        return rc;
    }
    const struct hr_dtype_info *ti = hr_dtype_get(model->file_type);
    snprintf(facts->quant, sizeof facts->quant, "%s", ti ? ti->name : "unknown");
    facts->n_ctx_train = model->n_ctx_train;
    /* A model make-model wrote is random noise whatever its path: say so to clients too. */
    bool synthetic = false;
    facts->is_demo =
        hr_gguf_get_bool(model->gguf, "hearth.synthetic", &synthetic, NULL) == 0 && synthetic;
    facts->tool_format = hr_api_tool_format(hr_chat_template_source(model->chat));
    facts->default_template = hr_chat_template_is_default(model->chat);
    if (!out) {
        hr_model_free(model);
        return 0;
    }
    return hr_engine_new(out, model, ep, hr_server_notify, notify_ud, d);
}
