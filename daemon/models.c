/* The models the server serves, by the id a request names. Preloaded models are opened
 * before the server listens and stay; the others load on first use, on the worker pool, while
 * the requests that want them wait (suspended), and unload after keep_alive_s idle or when
 * another needs their slot (at most max_loaded at once, the least recently used idle one
 * going first). Each file's SHA-256 is computed once in the background. Loop thread, except
 * the work functions. */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include "sha256.h"

struct model_work {
    uv_work_t work;
    struct hr_served *m;
    struct hr_engine *engine; /* load: the result; unload: the engine to stop */
    struct hr_model_facts facts;
    int rc;
    char msg[512];
};

struct hash_work {
    uv_work_t work;
    struct hr_server *s;
    char (*hex)[65]; /* one per model; "" when it could not be read */
};

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

const char *hr_served_status(const struct hr_served *m)
{
    return m->state == HR_SERVED_LOADED    ? "loaded"
           : m->state == HR_SERVED_LOADING ? "loading"
                                           : "unloaded";
}

static struct hr_engine_params engine_params(const struct hr_served *m)
{
    struct hr_engine_params ep = m->srv->p.engine;
    if (m->n_ctx)
        ep.n_ctx = m->n_ctx;
    if (m->n_parallel)
        ep.n_parallel = m->n_parallel;
    return ep;
}

static void work_ended(struct hr_server *s)
{
    s->n_model_work--;
    if (s->stopping && s->n_model_work == 0 && s->models_stopped) {
        void (*done)(struct hr_server *) = s->models_stopped;
        s->models_stopped = NULL;
        done(s);
    }
}

static void take_facts(struct hr_served *m, const struct hr_model_facts *f)
{
    m->created = f->created;
    m->is_demo = f->is_demo;
    snprintf(m->quant, sizeof m->quant, "%s", f->quant);
    m->n_ctx_train = f->n_ctx_train;
    m->tool_format = f->tool_format;
}

/* Resumes every waiter of m; with err, each is answered with it when it runs again. */
static void wake_waiters(struct hr_served *m, const char *err)
{
    struct hr_http_req *r = m->waiters;
    m->waiters = NULL;
    while (r) {
        struct hr_http_req *next = r->wait_next;
        r->wait_next = NULL;
        r->wait_model = NULL;
        if (err)
            snprintf(r->wait_err, sizeof r->wait_err, "%.255s", err);
        if (r->suspended) {
            r->suspended = false;
            MHD_resume_connection(r->conn);
        }
        r = next;
    }
    hr_server_kick(m->srv);
}

static void pump(struct hr_server *s);

static void load_fn(uv_work_t *w)
{
    struct model_work *mw = w->data;
    struct hr_served *m = mw->m;
    struct hr_engine_params ep = engine_params(m);
    struct hr_diag d = {{0}};
    mw->rc = hr_model_open(m->path, m->chat_template, &ep, &m->srv->async, &mw->engine,
                           &mw->facts, &d);
    snprintf(mw->msg, sizeof mw->msg, "%s", d.msg[0] ? d.msg : hr_err_str(mw->rc));
}

static void load_done(uv_work_t *w, int status)
{
    struct model_work *mw = w->data;
    struct hr_served *m = mw->m;
    struct hr_server *s = m->srv;
    (void)status;
    if (mw->rc == 0 && s->stopping) {
        hr_engine_free(mw->engine); /* nobody will use it now */
        m->state = HR_SERVED_UNLOADED;
    } else if (mw->rc == 0) {
        take_facts(m, &mw->facts);
        m->engine = mw->engine;
        m->state = HR_SERVED_LOADED;
        m->last_used_ms = hr_now_ms();
        hr_log(HR_LOG_INFO, "models", "%s: loaded (context %u, %u parallel)", m->id,
               hr_engine_n_ctx(m->engine), engine_params(m).n_parallel);
        wake_waiters(m, NULL);
    } else {
        m->state = HR_SERVED_UNLOADED;
        hr_log(HR_LOG_ERROR, "models", "%s: cannot load: %s", m->id, mw->msg);
        char err[300];
        snprintf(err, sizeof err, "The model '%.64s' could not be loaded: %.150s", m->id,
                 mw->msg);
        wake_waiters(m, err);
    }
    free(mw);
    work_ended(s);
    if (!s->stopping)
        pump(s);
}

static void unload_fn(uv_work_t *w)
{
    struct model_work *mw = w->data;
    hr_engine_free(mw->engine); /* joins the engine thread: never on the loop */
}

static void unload_done(uv_work_t *w, int status)
{
    struct model_work *mw = w->data;
    struct hr_server *s = mw->m->srv;
    (void)status;
    mw->m->state = HR_SERVED_UNLOADED;
    hr_log(HR_LOG_INFO, "models", "%s: unloaded", mw->m->id);
    free(mw);
    work_ended(s);
    if (!s->stopping)
        pump(s);
}

static void queue_model_work(struct hr_served *m, struct hr_engine *engine, uv_work_cb fn,
                             uv_after_work_cb after)
{
    struct model_work *mw = calloc(1, sizeof *mw);
    if (!mw) {
        hr_log(HR_LOG_ERROR, "models", "%s: out of memory", m->id);
        return;
    }
    mw->m = m;
    mw->engine = engine;
    mw->work.data = mw;
    if (uv_queue_work(m->srv->loop, &mw->work, fn, after) != 0) {
        free(mw);
        hr_log(HR_LOG_ERROR, "models", "%s: cannot queue work", m->id);
        return;
    }
    m->srv->n_model_work++;
}

static void start_load(struct hr_served *m)
{
    hr_log(HR_LOG_INFO, "models", "%s: loading %s", m->id, m->path);
    m->state = HR_SERVED_LOADING;
    queue_model_work(m, NULL, load_fn, load_done);
}

/* Its engine is taken out of service at once (events are no longer read from it: it has no
 * users, so none are owed) and stopped on the pool. */
static void start_unload(struct hr_served *m, const char *why)
{
    hr_log(HR_LOG_INFO, "models", "%s: unloading (%s)", m->id, why);
    hr_embed_stop(m); /* its embedder reads the model the engine owns (no job: no users) */
    struct hr_engine *e = m->engine;
    m->engine = NULL;
    m->state = HR_SERVED_UNLOADING;
    queue_model_work(m, e, unload_fn, unload_done);
}

static bool evictable(const struct hr_served *m)
{
    return !m->pinned && m->state == HR_SERVED_LOADED && m->n_users == 0 && !m->waiters;
}

/* Starts the loads that waiting requests need, making room by unloading idle models. */
static void pump(struct hr_server *s)
{
    for (size_t i = 0; i < s->n_models; i++) {
        struct hr_served *m = &s->models[i];
        if (!m->waiters || m->state != HR_SERVED_UNLOADED)
            continue;
        uint32_t n_busy = 0;
        struct hr_served *lru = NULL;
        for (size_t j = 0; j < s->n_models; j++) {
            struct hr_served *o = &s->models[j];
            if (o->pinned || o->state == HR_SERVED_UNLOADED)
                continue;
            n_busy++;
            if (evictable(o) && (!lru || o->last_used_ms < lru->last_used_ms))
                lru = o;
        }
        if (n_busy < s->p.max_loaded)
            start_load(m);
        else if (lru)
            start_unload(lru, "room for another model");
        /* else: every slot is in use; the next release pumps again */
    }
}

bool hr_model_acquire(struct hr_http_req *r, const char *name, enum MHD_Result *ret)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    if (r->model)
        return true;
    struct hr_served *m = find_model(s, name ? name : "");
    if (!m) {
        *ret = hr_respond_error(
            r, hr_api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                                "The model '%.128s' does not exist or you do not have access "
                                "to it.", name ? name : ""));
        return false;
    }
    if (!hr_auth_model_allowed(r, m->id)) {
        *ret = hr_respond_error(r, hr_api_error_set(&e, 403, "permission_error",
                                                    "model_not_allowed", "model",
                                                    "This API key may not use the model "
                                                    "'%.128s'.", m->id));
        return false;
    }
    if (r->wait_err[0]) {
        *ret = hr_respond_error(r, hr_api_error_set(&e, s->stopping ? 503 : 500,
                                                    "server_error", s->stopping
                                                        ? "server_shutting_down"
                                                        : "model_load_failed",
                                                    NULL, "%s", r->wait_err));
        return false;
    }
    if (s->stopping) {
        *ret = hr_respond_shutting_down(r);
        return false;
    }
    if (m->state == HR_SERVED_LOADED) {
        r->model = m;
        m->n_users++;
        m->last_used_ms = hr_now_ms();
        return true;
    }
    /* Wait for it: the handler runs again from the start once it has loaded. */
    r->model_wait = true;
    r->wait_model = m;
    r->wait_next = m->waiters;
    m->waiters = r;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    pump(s);
    *ret = MHD_YES;
    return false;
}

void hr_model_release(struct hr_http_req *r)
{
    struct hr_served *w = r->wait_model;
    if (w) { /* freed while waiting (the server stops) */
        for (struct hr_http_req **p = &w->waiters; *p; p = &(*p)->wait_next)
            if (*p == r) {
                *p = r->wait_next;
                break;
            }
        r->wait_model = NULL;
    }
    struct hr_served *m = r->model;
    r->model = NULL;
    if (!m)
        return;
    m->n_users--;
    m->last_used_ms = hr_now_ms();
    if (m->n_users == 0 && !m->srv->stopping)
        pump(m->srv);
}

static void on_idle_timer(uv_timer_t *t)
{
    struct hr_server *s = t->data;
    double now = hr_now_ms();
    for (size_t i = 0; i < s->n_models; i++) {
        struct hr_served *m = &s->models[i];
        if (evictable(m) && now - m->last_used_ms >= (double)s->p.keep_alive_s * 1000.0)
            start_unload(m, "idle");
    }
}

static void hash_fn(uv_work_t *w)
{
    struct hash_work *hw = w->data;
    for (size_t i = 0; i < hw->s->n_models && !atomic_load(&hw->s->stop_hashing); i++)
        if (hr_sha256_file(hw->s->models[i].path, &hw->s->stop_hashing, hw->hex[i]) != 0)
            hw->hex[i][0] = '\0';
}

static void hash_done(uv_work_t *w, int status)
{
    struct hash_work *hw = w->data;
    struct hr_server *s = hw->s;
    (void)status;
    for (size_t i = 0; i < s->n_models; i++) {
        if (!hw->hex[i][0])
            continue;
        memcpy(s->models[i].sha256, hw->hex[i], sizeof hw->hex[i]);
        hr_log(HR_LOG_INFO, "models", "%s: sha256 %s", s->models[i].id, hw->hex[i]);
    }
    free(hw->hex);
    free(hw);
    work_ended(s);
}

static void start_hashing(struct hr_server *s)
{
    struct hash_work *hw = calloc(1, sizeof *hw);
    if (hw)
        hw->hex = calloc(s->n_models, sizeof *hw->hex);
    if (!hw || !hw->hex) {
        free(hw);
        return;
    }
    hw->s = s;
    hw->work.data = hw;
    if (uv_queue_work(s->loop, &hw->work, hash_fn, hash_done) != 0) {
        free(hw->hex);
        free(hw);
        return;
    }
    s->n_model_work++;
}

int hr_models_start(struct hr_server *s, struct hr_diag *d)
{
    const struct hr_server_params *p = &s->p;
    s->models = calloc(p->n_models, sizeof *s->models);
    if (!s->models)
        return HR_ENOMEM;
    uv_timer_init(s->loop, &s->idle_timer);
    s->idle_timer.data = s;
    for (size_t i = 0; i < p->n_models; i++) {
        const struct hr_model_spec *sp = &p->models[i];
        struct hr_served *m = &s->models[s->n_models];
        memset(m, 0, sizeof *m);
        m->srv = s;
        snprintf(m->id, sizeof m->id, "%s", sp->id);
        snprintf(m->path, sizeof m->path, "%s", sp->path);
        snprintf(m->chat_template, sizeof m->chat_template, "%s",
                 sp->chat_template ? sp->chat_template : "");
        m->n_ctx = sp->n_ctx;
        m->n_parallel = sp->n_parallel;
        m->pinned = sp->preload;
        /* Start-up, before the loop runs: reading the files here blocks nobody. */
        struct hr_engine_params ep = engine_params(m);
        struct hr_model_facts f;
        int rc = hr_model_open(m->path, m->chat_template, &ep, &s->async,
                               m->pinned ? &m->engine : NULL, &f, d);
        if (rc != 0 && sp->optional) {
            hr_log(HR_LOG_WARN, "models", "%s: left out: %s", m->path, d->msg);
            hr_diag_clear(d);
            continue;
        }
        if (rc != 0)
            return rc;
        s->n_models++;
        take_facts(m, &f);
        if (m->chat_template[0])
            hr_log(HR_LOG_INFO, "models", "%s: chat template: %s", m->id, m->chat_template);
        else if (f.default_template)
            hr_log(HR_LOG_INFO, "models", "%s: the model has no chat template; using the "
                                          "ChatML default", m->id);
        if (m->pinned) {
            m->state = HR_SERVED_LOADED;
            m->last_used_ms = hr_now_ms();
            hr_log(HR_LOG_INFO, "models", "%s: %s (%s, context %u, %u parallel)%s", m->id,
                   m->path, hr_model_type_name(hr_engine_model(m->engine)),
                   hr_engine_n_ctx(m->engine), ep.n_parallel,
                   m->is_demo ? " - a RANDOM-WEIGHT DEMO model for checking the plumbing: its "
                                "answers are noise; start with --model FILE.gguf to serve a "
                                "real model"
                              : "");
        } else {
            hr_log(HR_LOG_INFO, "models", "%s: %s (%s), loaded on first use", m->id, m->path,
                   m->quant);
        }
    }
    if (p->keep_alive_s)
        uv_timer_start(&s->idle_timer, on_idle_timer, 1000, 1000);
    if (s->n_models == 0) {
        hr_diag_set(d, "none of the models could be loaded (see the log)");
        return HR_EINVAL;
    }
    start_hashing(s);
    return 0;
}

void hr_models_stop(struct hr_server *s, void (*done)(struct hr_server *s))
{
    atomic_store(&s->stop_hashing, true);
    uv_timer_stop(&s->idle_timer);
    uv_close((uv_handle_t *)&s->idle_timer, NULL);
    for (size_t i = 0; i < s->n_models; i++) {
        struct hr_served *m = &s->models[i];
        hr_embed_stop(m);
        hr_engine_free(m->engine);
        m->engine = NULL;
        if (m->state == HR_SERVED_LOADED)
            m->state = HR_SERVED_UNLOADED;
        wake_waiters(m, "The server is shutting down.");
    }
    if (s->n_model_work == 0) {
        if (done)
            done(s);
    } else
        s->models_stopped = done;
}

enum MHD_Result hr_models_ready_route(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    const char *why = s->stopping || s->draining ? "the server is shutting down" : NULL;
    json_t *o = json_object();
    json_t *models = json_object();
    for (size_t i = 0; i < s->n_models; i++) {
        struct hr_served *m = &s->models[i];
        bool full = m->engine && hr_engine_queue_full(m->engine);
        json_object_set_new(models, m->id, json_string(full ? "queue_full"
                                                            : hr_served_status(m)));
        if (!why && m->pinned && m->state != HR_SERVED_LOADED)
            why = "a preloaded model is not loaded";
        if (!why && full)
            why = "a model's queue is full";
    }
    json_object_set_new(o, "status", json_string(why ? "not_ready" : "ready"));
    if (why)
        json_object_set_new(o, "reason", json_string(why));
    json_object_set_new(o, "models", models);
    char *json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (why)
        return hr_respond_json_hdr(r, 503, json, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return hr_respond_json(r, 200, json);
}
