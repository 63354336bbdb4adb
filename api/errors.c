/* Error answers: the one table mapping engine codes to HTTP status and OpenAI error type/code,
 * and the JSON envelope every error response uses. Loop thread. */
#include "api.h"
#include "json_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct hr_api_error *hr_api_error_set(struct hr_api_error *e, int status, const char *type,
                                      const char *code, const char *param, const char *fmt,
                                      ...)
{
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return e;
}

static const struct {
    int err;
    int status;
    const char *type;
    const char *code;
} engine_errors[] = {
    {HR_EINVAL, 400, "invalid_request_error", NULL},
    {HR_ECONTEXT, 400, "invalid_request_error", "context_length_exceeded"},
    {HR_ERANGE, 400, "invalid_request_error", NULL},
    {HR_ENOTFOUND, 404, "invalid_request_error", "not_found"},
    {HR_EFULL, 503, "server_error", "server_overloaded"},
    {HR_ESHUTDOWN, 503, "server_error", "server_shutting_down"},
    {HR_ETIMEDOUT, 504, "server_error", "request_timeout"},
    {HR_ENOMEM, 500, "server_error", NULL},
};

void hr_api_error_from_engine(struct hr_api_error *e, int err, const char *msg)
{
    int status = 500;
    const char *type = "server_error";
    const char *code = NULL;
    for (size_t i = 0; i < sizeof engine_errors / sizeof engine_errors[0]; i++) {
        if (engine_errors[i].err == err) {
            status = engine_errors[i].status;
            type = engine_errors[i].type;
            code = engine_errors[i].code;
            break;
        }
    }
    const char *param = err == HR_ECONTEXT ? "messages" : NULL;
    hr_api_error_set(e, status, type, code, param, "%s",
                     msg && *msg ? msg : hr_err_str(err));
}

char *hr_api_error_json(const struct hr_api_error *e)
{
    json_t *inner = json_object();
    json_t *root = json_object();
    if (!inner || !root) {
        json_decref(inner);
        json_decref(root);
        return NULL;
    }
    json_object_set_new(inner, "message", hr_api_json_text(e->message, strlen(e->message)));
    json_object_set_new(inner, "type", json_string(e->type ? e->type : "server_error"));
    json_object_set_new(inner, "param", e->param[0] ? json_string(e->param) : json_null());
    json_object_set_new(inner, "code", e->code ? json_string(e->code) : json_null());
    json_object_set_new(root, "error", inner);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

const char *hr_api_system_fingerprint(void)
{
    return "fp_hearth_" HEARTH_VERSION;
}
