/* GET /v1/usage: the ledger's totals for admin keys, grouped as `hearth usage` groups them
 * (?by=day|model|key|user, ?since=, ?until= as UTC days or times) and in the same JSON. The
 * database is read on libuv's pool through its own read-only connection, never on the loop.
 * Loop thread, but for the work function. */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/usage_format.h"
#include "daemon/utc_time.h"

struct hr_usage_job {
    uv_work_t work;
    struct hr_http_req *r;
    const char *db_path;
    struct hr_usage_query q;
    char *json;   /* the answer, or NULL with err set */
    struct hr_api_error err;
};

static void work_fn(uv_work_t *w)
{
    struct hr_usage_job *j = w->data;
    struct hr_usage_group *g = NULL;
    size_t n = 0;
    struct hr_diag d = {{0}};
    int rc = hr_store_usage_query(j->db_path, &j->q, &g, &n, &d);
    if (rc == HR_ENOTFOUND) /* the daemon's own store: no file only before the first row */
        rc = 0;
    if (rc == 0)
        j->json = hr_usage_json(&j->q, g, n);
    else
        hr_api_error_set(&j->err, 500, "server_error", NULL, NULL,
                         "The usage database could not be read: %s", d.msg);
    free(g);
}

static void after_work(uv_work_t *w, int status)
{
    struct hr_usage_job *j = w->data;
    (void)status;
    hr_work_finished(j->r);
}

/* A ?name=value bound: a UTC day or time; a day as until includes that whole day. */
static bool bound(struct hr_http_req *r, const char *name, bool until, int64_t *ms,
                  enum MHD_Result *ret)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    *ms = 0;
    if (!v || !*v)
        return true;
    if (hr_utc_parse_ms(v, until, ms) == 0)
        return true;
    struct hr_api_error e;
    *ret = hr_respond_error(r, hr_api_error_set(&e, 400, "invalid_request_error", NULL, name,
                                                "Invalid '%s': expected a UTC day "
                                                "(YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM:SSZ), "
                                                "got '%.40s'.", name, v));
    return false;
}

enum MHD_Result hr_usage_route(struct hr_http_req *r)
{
    struct hr_api_error e;
    enum MHD_Result ret;
    struct hr_usage_query q = {0};
    const char *by = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "by");
    static const enum hr_usage_by all[] = {HR_USAGE_BY_DAY, HR_USAGE_BY_MODEL, HR_USAGE_BY_KEY,
                                           HR_USAGE_BY_USER};
    q.by = HR_USAGE_BY_DAY;
    if (by && *by) {
        size_t i = 0;
        while (i < 4 && strcmp(by, hr_usage_by_name(all[i])) != 0)
            i++;
        if (i == 4)
            return hr_respond_error(r, hr_api_error_set(&e, 400, "invalid_request_error", NULL,
                                                        "by", "Invalid 'by': expected day, "
                                                        "model, key or user, got '%.40s'.",
                                                        by));
        q.by = all[i];
    }
    if (!bound(r, "since", false, &q.since_ms, &ret) || !bound(r, "until", true, &q.until_ms, &ret))
        return ret;
    if (!r->srv->p.db_path)
        return hr_respond_error(r, hr_api_error_set(&e, 404, "invalid_request_error", NULL,
                                                    NULL, "This server keeps no usage "
                                                    "ledger."));
    struct hr_usage_job *j = calloc(1, sizeof *j);
    if (!j)
        return MHD_NO;
    j->r = r;
    j->db_path = r->srv->p.db_path;
    j->q = q;
    j->work.data = j;
    r->usage = j;
    if (!hr_server_queue_work(r, &j->work, work_fn, after_work)) {
        r->usage = NULL;
        free(j);
        return hr_respond_no_pool(r);
    }
    return MHD_YES;
}

enum MHD_Result hr_usage_resume(struct hr_http_req *r)
{
    struct hr_usage_job *j = r->usage;
    if (j->json) {
        char *json = j->json;
        j->json = NULL;
        return hr_respond_json(r, 200, json);
    }
    if (!j->err.status)
        hr_api_error_set(&j->err, 500, "server_error", NULL, NULL, "out of memory");
    return hr_respond_error(r, &j->err);
}

void hr_usage_job_free(struct hr_http_req *r)
{
    struct hr_usage_job *j = r->usage;
    if (!j)
        return;
    free(j->json);
    free(j);
    r->usage = NULL;
}
