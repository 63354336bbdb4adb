/* The loop and lifecycle of `hearth serve`: libuv owns the thread; MHD runs in external epoll
 * mode (its epoll fd watched by uv_poll, its timeout by a uv_timer), over TLS when given a
 * certificate; the engine thread wakes the loop with uv_async. Signals arrive by uv_signal:
 * SIGTERM/SIGINT close the listening socket and let running requests finish up to the drain
 * timeout, then stop everything in order (a second one stops at once); SIGHUP re-reads the
 * keys and the reloadable settings. systemd hears READY, STOPPING and the watchdog from here.
 * Routing lives in routes.c, chat completions in chat_route.c. Loop thread only. */
#include "server_int.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/keyring.h"
#include "daemon/service_notify.h"
#include "daemon/store/store.h"

double hr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int hr_buf_append(struct hr_buf *b, const void *data, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return HR_ERANGE;
    if (n == 0 && b->ptr)
        return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->ptr, cap);
        if (!p)
            return HR_ENOMEM;
        b->ptr = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

void hr_buf_free(struct hr_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void hr_server_unlink(struct hr_server *s, struct hr_http_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (s->active == r)
        s->active = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void on_timer(uv_timer_t *t)
{
    hr_server_kick(t->data);
}

void hr_server_kick(struct hr_server *s)
{
    if (!s->mhd)
        return;
    MHD_run(s->mhd);
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
        uv_timer_start(&s->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&s->timer);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    hr_server_kick(p->data);
}

static struct hr_http_req *find_active(struct hr_server *s, uint64_t id)
{
    for (struct hr_http_req *r = s->active; r; r = r->next)
        if (hr_chat_owns(r, id))
            return r;
    return NULL;
}

/* The engine's events: text and final results for the requests it holds. */
static void on_async(uv_async_t *a)
{
    struct hr_server *s = a->data;
    for (size_t i = 0; i < s->n_models; i++) {
        if (!s->models[i].engine)
            continue;
        struct hr_event *events = hr_engine_take_events(s->models[i].engine);
        for (struct hr_event *ev = events; ev; ev = ev->next) {
            struct hr_http_req *r = find_active(s, ev->req_id);
            if (r)
                hr_chat_on_event(r, ev);
        }
        hr_event_free_list(events);
    }
    hr_server_kick(s);
}

static void on_keys(uv_async_t *a)
{
    hr_auth_refresh(a->data);
}

void hr_server_notify(void *ud)
{
    uv_async_send(ud);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    hr_log(HR_LOG_WARN, "http", "%s", msg);
}

/* Once no model work is left on the pool (an engine being made or stopped there still holds
 * the async handle). */
static void close_handles(struct hr_server *s)
{
    uv_close((uv_handle_t *)&s->async, NULL);
    uv_close((uv_handle_t *)&s->keys_async, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
}

/* The last step: MHD and the handles it runs on. */
static void finish_stop(struct hr_server *s)
{
    uv_poll_stop(&s->poll);
    uv_timer_stop(&s->timer);
    hr_conn_timer_stop(s);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    uv_close((uv_handle_t *)&s->poll, NULL);
    uv_close((uv_handle_t *)&s->timer, NULL);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
    uv_close((uv_handle_t *)&s->watchdog_timer, NULL);
    hr_metrics_rate_close(s);
}

/* Closes the listening socket (once): requests on open connections then get 503 and a close
 * (routes.c) while the running ones go on. */
static void stop_listening(struct hr_server *s)
{
    if (s->draining)
        return;
    s->draining = true;
    hr_service_notify("STOPPING=1");
    MHD_socket fd = s->mhd ? MHD_quiesce_daemon(s->mhd) : MHD_INVALID_SOCKET;
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

static void on_flush_timer(uv_timer_t *t)
{
    finish_stop(t->data);
}

/* Stops in order: the engines (running requests end canceled), then every request still
 * waiting on one is completed with a shutdown error, which MHD gets up to FLUSH_MS to write
 * (a stream's client then reads why it ended), then MHD, then the handles. */
#define FLUSH_MS 1000

void hr_server_stop(struct hr_server *s)
{
    if (s->stopping)
        return;
    /* Work on the pool reads the model an engine owns, and MHD aborts if it is stopped with
     * that work's connection suspended: the stop waits for the work, whose end calls here
     * again (hr_work_finished, embed_route.c). Waiting embedding jobs fail at once. */
    bool embedding = hr_embed_defer_stop(s);
    if (embedding || s->n_req_work) {
        hr_log(HR_LOG_INFO, "server", "stopping once the work on the pool ends");
        return;
    }
    s->stopping = true;
    hr_log(HR_LOG_INFO, "server", "stopping");
    stop_listening(s); /* no new connections while the last answers are written */
    if (s->p.keyring) /* the store thread outlives the loop: no more wake-ups from it */
        hr_keyring_set_wake(s->p.keyring, NULL, NULL);
    hr_models_stop(s, close_handles); /* the engines first: no event comes after this */
    while (s->active) {
        struct hr_http_req *r = s->active;
        struct hr_event ev = {0};
        ev.req_id = r->id;
        ev.kind = HR_EV_DONE;
        ev.finish = HR_FINISH_ERROR;
        ev.err = HR_ESHUTDOWN;
        snprintf(ev.err_msg, sizeof ev.err_msg, "the server is shutting down");
        hr_chat_on_event(r, &ev); /* unlinks r from active */
    }
    hr_server_kick(s);
    uv_timer_start(&s->drain_timer, on_flush_timer, s->metrics.in_flight > 0 ? FLUSH_MS : 0, 0);
}

static void on_drain_timer(uv_timer_t *t)
{
    struct hr_server *s = t->data;
    if (s->metrics.in_flight > 0)
        hr_log(HR_LOG_WARN, "server", "drain timeout: ending %" PRId64 " requests still running",
               s->metrics.in_flight);
    hr_server_stop(s);
}

void hr_server_drain_check(struct hr_server *s)
{
    if (s->metrics.in_flight > 0 || !s->draining || !s->mhd)
        return;
    /* draining: nothing runs any more, so stop; stopping: every last answer is written */
    uv_timer_start(&s->drain_timer, s->stopping ? on_flush_timer : on_drain_timer, 0, 0);
}

/* The first SIGTERM: the listening socket closes (a load balancer's next connection goes to
 * another replica), requests on open connections get 503 and a close, and the running ones
 * go on until they end or the drain timeout does. */
static void begin_drain(struct hr_server *s)
{
    stop_listening(s);
    hr_service_notify("STATUS=draining");
    hr_log(HR_LOG_INFO, "server", "draining: no new connections; %" PRId64 " requests running "
           "may finish within %u s (send the signal again to stop now)", s->metrics.in_flight,
           s->p.drain_timeout_s);
    uv_timer_start(&s->drain_timer, on_drain_timer, (uint64_t)s->p.drain_timeout_s * 1000, 0);
    hr_server_drain_check(s);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct hr_server *s = h->data;
    hr_log(HR_LOG_INFO, "server", "received %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    if (s->draining || s->stopping || s->p.drain_timeout_s == 0 || !s->mhd)
        hr_server_stop(s);
    else
        begin_drain(s);
}

/* SIGHUP's re-read of the configuration file, on libuv's pool (it reads the disk). */
struct reload_work {
    uv_work_t w;
    struct hr_server *s;
    struct hr_server_reload out;
    struct hr_diag d;
    int rc;
};

static void reload_run(uv_work_t *w)
{
    struct reload_work *rw = w->data;
    rw->rc = rw->s->p.reload(rw->s->p.reload_ud, &rw->out, &rw->d);
}

static void reload_done(uv_work_t *w, int status)
{
    struct reload_work *rw = w->data;
    struct hr_server *s = rw->s;
    s->reloading = false; /* the loop outlives the work: uv_run waits for it */
    if (status != 0 || rw->rc != 0) {
        hr_log(HR_LOG_ERROR, "server", "SIGHUP: configuration not reloaded, the old one stays: "
               "%s", status != 0 ? "canceled" : hr_diag_msg(&rw->d));
    } else {
        s->p.max_body = rw->out.max_body;
        s->p.request_timeout_ms = rw->out.request_timeout_ms;
        s->p.read_timeout_s = rw->out.read_timeout_s;
        snprintf(s->cors_origins, sizeof s->cors_origins, "%s", rw->out.cors_origins);
        hr_log_set_level((enum hr_log_level)rw->out.log_level);
        hr_log(HR_LOG_INFO, "server", "SIGHUP: settings reloaded (max_body %" PRIu64
               ", request_timeout %u s, read_timeout %u s, cors_origins '%s')",
               s->p.max_body, s->p.request_timeout_ms / 1000, s->p.read_timeout_s,
               s->cors_origins);
    }
    free(rw);
}

static void on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    struct hr_server *s = h->data;
    hr_log(HR_LOG_INFO, "server", "received SIGHUP: reloading keys%s",
           s->p.reload ? " and settings" : "");
    if (s->p.store)
        hr_store_reload_keys(s->p.store); /* the keyring's wake-up brings them to the loop */
    if (!s->p.reload || s->reloading || s->stopping)
        return;
    struct reload_work *rw = calloc(1, sizeof *rw);
    if (!rw)
        return;
    rw->w.data = rw;
    rw->s = s;
    if (uv_queue_work(s->loop, &rw->w, reload_run, reload_done) != 0) {
        free(rw);
        return;
    }
    s->reloading = true;
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    hr_service_notify("WATCHDOG=1");
}

/* Resolves host:port into a socket address MHD can bind. Start-up only (may block on DNS). */
static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, bool *is_v6,
                   struct hr_diag *d)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res) {
        hr_diag_set(d, "host '%s': %s", host, gai_strerror(rc));
        return HR_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *is_v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

static int start_http(struct hr_server *s, struct hr_diag *d)
{
    struct sockaddr_storage ss;
    bool is_v6 = false;
    int rc = resolve(s->p.host, s->p.port, &ss, &is_v6, d);
    if (rc != 0)
        return rc;
    unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (is_v6)
        flags |= MHD_USE_IPv6;
    bool tls = s->p.tls_cert_pem && s->p.tls_key_pem;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)s->p.tls_key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)s->p.tls_cert_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            hr_diag_set(d, "--tls-cert: this libmicrohttpd was built without TLS");
            return HR_EINVAL;
        }
        flags |= MHD_USE_TLS;
    } else {
        tls_opts[0].option = MHD_OPTION_END;
    }
    /* The logger must come first, or MHD prints earlier messages its own way. */
    s->mhd = MHD_start_daemon(
        flags, s->p.port, NULL, NULL, hr_route_access, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED,
        hr_route_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->p.idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HR_HTTP_CONN_MEMORY, MHD_OPTION_NOTIFY_CONNECTION, hr_conn_notify, s,
        MHD_OPTION_URI_LOG_CALLBACK, hr_conn_uri_log, s, MHD_OPTION_UNESCAPE_CALLBACK,
        hr_http_unescape, s, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!s->mhd) {
        hr_diag_set(d, "cannot listen on %s port %u (address in use, or not permitted%s)",
                    s->p.host, s->p.port, tls ? ", or the TLS setup failed: see the log" : "");
        return HR_EIO;
    }
    const union MHD_DaemonInfo *fdinfo = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *portinfo = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (!fdinfo) {
        hr_diag_set(d, "libmicrohttpd gave no epoll descriptor");
        return HR_EINTERNAL;
    }
    uint16_t port = portinfo ? portinfo->port : s->p.port;
    uv_poll_init(s->loop, &s->poll, fdinfo->epoll_fd);
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    uv_timer_init(s->loop, &s->timer);
    s->timer.data = s;
    char shown[300];
    snprintf(shown, sizeof shown, is_v6 ? "[%s]" : "%s", s->p.host);
    hr_log(HR_LOG_INFO, "server", "listening on %s://%s:%u", tls ? "https" : "http", shown, port);
    char state[400];
    snprintf(state, sizeof state, "READY=1\nSTATUS=listening on %s://%s:%u",
             tls ? "https" : "http", shown, port);
    hr_service_notify(state);
    return 0;
}

int hr_server_run(const struct hr_server_params *p, struct hr_diag *d)
{
    struct hr_server *s = calloc(1, sizeof *s);
    if (!s)
        return HR_ENOMEM;
    s->p = *p;
    s->next_id = 1;
    s->loop = uv_default_loop();
    snprintf(s->cors_origins, sizeof s->cors_origins, "%s",
             p->cors_origins ? p->cors_origins : "");
    s->p.cors_origins = s->cors_origins;
    hr_metrics_init(&s->metrics);
    uv_async_init(s->loop, &s->async, on_async);
    s->async.data = s;
    uv_async_init(s->loop, &s->keys_async, on_keys);
    s->keys_async.data = s;
    hr_auth_refresh(s); /* the keys the store read at open */
    if (s->p.keyring)
        hr_keyring_set_wake(s->p.keyring, hr_server_notify, &s->keys_async);
    int rc = hr_models_start(s, d);
    if (rc == 0)
        rc = start_http(s, d);
    if (rc != 0) {
        if (s->mhd)
            MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        s->stopping = true;
        if (uv_is_active((uv_handle_t *)&s->poll))
            uv_close((uv_handle_t *)&s->poll, NULL);
        if (s->models)
            hr_models_stop(s, NULL);
        if (s->p.keyring)
            hr_keyring_set_wake(s->p.keyring, NULL, NULL);
        uv_close((uv_handle_t *)&s->async, NULL);
        uv_close((uv_handle_t *)&s->keys_async, NULL);
        uv_run(s->loop, UV_RUN_DEFAULT);
        hr_auth_free(s);
        free(s->models);
        free(s);
        return rc;
    }
    uv_signal_init(s->loop, &s->sig_int);
    uv_signal_init(s->loop, &s->sig_term);
    uv_signal_init(s->loop, &s->sig_hup);
    s->sig_int.data = s->sig_term.data = s->sig_hup.data = s;
    uv_signal_start(&s->sig_int, on_signal, SIGINT);
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    uv_signal_start(&s->sig_hup, on_hup, SIGHUP);
    uv_timer_init(s->loop, &s->drain_timer);
    s->drain_timer.data = s;
    uv_timer_init(s->loop, &s->watchdog_timer);
    s->watchdog_timer.data = s;
    hr_metrics_rate_start(s);
    uint64_t wd_ms = hr_service_watchdog_usec() / 2000;
    if (wd_ms) {
        hr_log(HR_LOG_INFO, "server", "systemd watchdog: a ping every %" PRIu64 " ms", wd_ms);
        uv_timer_start(&s->watchdog_timer, on_watchdog, 0, wd_ms);
    }
    hr_conn_timer_start(s);
    hr_server_kick(s);
    uv_run(s->loop, UV_RUN_DEFAULT);
    uv_loop_close(s->loop);
    hr_auth_free(s);
    free(s->models);
    free(s);
    return 0;
}
