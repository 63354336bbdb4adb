/* The models the server serves, looked up by the id a request names. Loop thread. */
#include "server_int.h"

#include <string.h>

static struct hr_served *find_model(struct hr_server *s, const char *name)
{
    for (size_t i = 0; i < s->n_models; i++)
        if (strcmp(s->models[i].id, name) == 0)
            return &s->models[i];
    return NULL;
}

const char *hr_model_default_id(const struct hr_server *s)
{
    return s->n_models ? s->models[0].id : "";
}

bool hr_model_acquire(struct hr_http_req *r, const char *name, enum MHD_Result *ret)
{
    struct hr_api_error e;
    if (r->model)
        return true;
    struct hr_served *m = find_model(r->srv, name ? name : "");
    if (!m) {
        *ret = hr_respond_error(
            r, hr_api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                                "The model '%.128s' does not exist or you do not have access "
                                "to it.", name ? name : ""));
        return false;
    }
    if (!m->engine) {
        *ret = hr_respond_shutting_down(r);
        return false;
    }
    r->model = m;
    m->n_users++;
    return true;
}

void hr_model_release(struct hr_http_req *r)
{
    if (r->model)
        r->model->n_users--;
    r->model = NULL;
}
