/* Deadlines on reading requests, which MHD's own timeout cannot give (it restarts at every
 * byte, so one byte a second could hold a connection for hours): each connection is tracked
 * as idle (--idle-timeout), reading (--read-timeout: 408) or busy (MHD's timeout only), by
 * MHD's notices and the access handler, and a timer enforces both. Loop thread.
 *
 * MHD takes an answer only right after the headers, not while a body arrives or headers are
 * still coming; then the 408 is written to the socket directly (safe: MHD writes nothing
 * while it reads a request) and the socket is shut down, so MHD closes the connection. */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TICK_MS 500

static struct hr_http_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void set_phase(struct hr_http_conn *c, enum hr_conn_phase phase)
{
    c->phase = phase;
    c->t_phase_ms = hr_now_ms();
}

void hr_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe)
{
    struct hr_server *s = cls;
    struct hr_http_conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        c = calloc(1, sizeof *c);
        if (!c)
            return; /* untracked: only MHD's own timeout applies to it */
        c->srv = s;
        c->conn = conn;
        set_phase(c, HR_CONN_IDLE);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        *socket_context = c;
        return;
    }
    if (!c)
        return;
    if (c->req)
        c->req->hconn = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    *socket_context = NULL;
    free(c);
}

void *hr_conn_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)uri;
    struct hr_http_conn *c = conn_of(conn);
    if (c)
        set_phase(c, HR_CONN_READING);
    return NULL; /* the access handler makes the request on its first call */
}

void hr_conn_attach(struct hr_http_req *r)
{
    struct hr_http_conn *c = conn_of(r->conn);
    if (!c)
        return;
    r->hconn = c;
    c->req = r;
    if (c->phase != HR_CONN_READING) /* no request line seen: count from now */
        set_phase(c, HR_CONN_READING);
}

void hr_conn_busy(struct hr_http_req *r)
{
    if (r->hconn && r->hconn->phase == HR_CONN_READING)
        set_phase(r->hconn, HR_CONN_BUSY);
}

void hr_conn_detach(struct hr_http_req *r)
{
    struct hr_http_conn *c = r->hconn;
    if (!c)
        return;
    r->hconn = NULL;
    c->req = NULL;
    set_phase(c, HR_CONN_IDLE); /* keep-alive: the next request line may follow */
}

bool hr_conn_read_expired(const struct hr_http_req *r)
{
    double since = r->hconn && r->hconn->phase == HR_CONN_READING ? r->hconn->t_phase_ms
                                                                  : r->t_start_ms;
    return r->srv->p.read_timeout_s && hr_now_ms() - since > r->srv->p.read_timeout_s * 1e3;
}

/* The 408 for a request whose handler cannot be reached: written to the socket directly. */
static void write_timeout(struct hr_http_conn *c, int fd)
{
    struct hr_api_error e;
    hr_api_error_set(&e, 408, "invalid_request_error", "request_timeout", NULL,
                     "The request was not received within %u seconds.",
                     c->srv->p.read_timeout_s);
    char *json = hr_api_error_json(&e);
    if (!json)
        return;
    char cors[512] = "";
    if (c->req && hr_cors_header_lines(c->req, cors, sizeof cors) >= (int)sizeof cors)
        cors[0] = '\0'; /* an origin too long to repeat: no CORS headers then */
    char msg[2048];
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s%s\r\n%s",
                     strlen(json), c->req ? "x-request-id: " : "",
                     c->req ? c->req->request_id : "", c->req ? "\r\n" : "", cors, json);
    free(json);
    /* Best effort: the socket's buffer is empty (nothing is written while a request is read),
     * so it fits; a client that cannot take it loses nothing it was owed. */
    if (n > 0 && (size_t)n < sizeof msg)
        (void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void expire(struct hr_http_conn *c, bool answer)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    if (answer) {
        write_timeout(c, ci->connect_fd);
        if (c->req) { /* its completion callback logs and records it as a 408 */
            c->req->status = 408;
            c->req->responded = true;
            c->req->endpoint = hr_route_endpoint(c->req->path);
        } else {
            hr_metrics_count(&c->srv->metrics, "other", 408);
        }
        hr_log(HR_LOG_INFO, "http", "%s: request not read within %u s; 408, closing",
               c->req ? c->req->request_id : "-", c->srv->p.read_timeout_s);
    }
    set_phase(c, HR_CONN_BUSY); /* once */
    /* MHD reads end of stream next and closes the connection itself. */
    shutdown(ci->connect_fd, SHUT_RDWR);
}

bool hr_conn_expire(struct hr_http_req *r)
{
    if (!r->hconn)
        return false;
    expire(r->hconn, true);
    return true;
}

static void on_tick(uv_timer_t *t)
{
    struct hr_server *s = t->data;
    double now = hr_now_ms();
    bool any = false;
    for (struct hr_http_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        double age = now - c->t_phase_ms;
        if (c->phase == HR_CONN_READING && s->p.read_timeout_s &&
            age > s->p.read_timeout_s * 1e3) {
            expire(c, true);
            any = true;
        } else if (c->phase == HR_CONN_IDLE && s->p.idle_timeout_s &&
                   age > s->p.idle_timeout_s * 1e3) {
            expire(c, false);
            any = true;
        }
    }
    if (any)
        hr_server_kick(s);
}

void hr_conn_timer_start(struct hr_server *s)
{
    uv_timer_init(s->loop, &s->deadline_timer);
    s->deadline_timer.data = s;
    uv_timer_start(&s->deadline_timer, on_tick, TICK_MS, TICK_MS);
}

void hr_conn_timer_stop(struct hr_server *s)
{
    uv_timer_stop(&s->deadline_timer);
    uv_close((uv_handle_t *)&s->deadline_timer, NULL);
}
