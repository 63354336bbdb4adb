/* The loop and lifecycle of `hearth serve`: libuv owns the thread; MHD runs in external epoll
 * mode (its epoll fd watched by uv_poll, its timeout by a uv_timer); the engine thread wakes
 * the loop with uv_async; SIGINT/SIGTERM arrive by uv_signal and stop everything in order.
 * Routing lives in routes.c, chat completions in chat_route.c. Loop thread only. */
#include "server_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/keyring.h"
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

/* The last step of stopping, once no model work is left on the pool (an engine being made
 * or stopped there still holds the async handle). */
static void close_handles(struct hr_server *s)
{
    uv_close((uv_handle_t *)&s->async, NULL);
    uv_close((uv_handle_t *)&s->keys_async, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
}

/* Stops in order: the engines (running requests end canceled), then every request still
 * waiting on one is completed so MHD can close its connection, then MHD, then the handles. */
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
    uv_poll_stop(&s->poll);
    uv_timer_stop(&s->timer);
    hr_conn_timer_stop(s);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    uv_close((uv_handle_t *)&s->poll, NULL);
    uv_close((uv_handle_t *)&s->timer, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    hr_log(HR_LOG_INFO, "server", "received %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    hr_server_stop(h->data);
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
    /* The logger must come first, or MHD prints earlier messages its own way. */
    s->mhd = MHD_start_daemon(
        flags, s->p.port, NULL, NULL, hr_route_access, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED,
        hr_route_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->p.idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HR_HTTP_CONN_MEMORY, MHD_OPTION_NOTIFY_CONNECTION, hr_conn_notify, s,
        MHD_OPTION_URI_LOG_CALLBACK, hr_conn_uri_log, s, MHD_OPTION_UNESCAPE_CALLBACK,
        hr_http_unescape, s, MHD_OPTION_END);
    if (!s->mhd) {
        hr_diag_set(d, "cannot listen on %s port %u (address in use, or not permitted)",
                    s->p.host, s->p.port);
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
    hr_log(HR_LOG_INFO, "server", "listening on http://%s:%u", shown, port);
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
    s->sig_int.data = s->sig_term.data = s;
    uv_signal_start(&s->sig_int, on_signal, SIGINT);
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    hr_conn_timer_start(s);
    hr_server_kick(s);
    uv_run(s->loop, UV_RUN_DEFAULT);
    uv_loop_close(s->loop);
    hr_auth_free(s);
    free(s->models);
    free(s);
    return 0;
}
