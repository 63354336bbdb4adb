/* Rules every request meets whatever its route: CORS headers and preflights for the origins
 * --cors-origins allows (none by default, so browsers on other sites cannot read answers),
 * the media type a request body must declare, and how URLs are unescaped. Routing and the
 * answers themselves are routes.c's. Loop thread. */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Headers a browser may send cross-origin when its preflight names none we can echo: the
 * openai SDK's (it adds x-stainless-* telemetry headers to every request) and ours. */
#define FIXED_ALLOW_HEADERS                                                                   \
    "authorization, content-type, x-request-id, openai-organization, openai-project, "        \
    "openai-beta, x-stainless-arch, x-stainless-lang, x-stainless-os, "                       \
    "x-stainless-package-version, x-stainless-runtime, x-stainless-runtime-version, "         \
    "x-stainless-retry-count, x-stainless-timeout, x-stainless-async, "                       \
    "x-stainless-helper-method, x-stainless-poll-helper"
/* Preflight answers may be cached this long (Chromium caps it at 2 hours anyway). */
#define MAX_AGE_S "7200"
#define MAX_ECHO_HEADERS 2048

/* Whether origin is in the comma-separated list (case-insensitive: scheme and host are);
 * *any is set when the list holds "*". */
static bool origin_allowed(const char *list, const char *origin, bool *any)
{
    size_t n_origin = origin ? strlen(origin) : 0;
    bool found = false;
    *any = false;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        size_t n = (size_t)(last - p);
        if (n == 1 && *p == '*')
            *any = true;
        else if (n && n == n_origin && strncasecmp(p, origin, n) == 0)
            found = true;
        p = end;
    }
    return n_origin && (found || *any);
}

static const char *header(struct hr_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* What r's answer says about CORS: *vary when it depends on Origin (caches must keep one
 * answer per origin), and the Access-Control-Allow-Origin value, or NULL for none. */
static const char *allow_origin(struct hr_http_req *r, bool *vary)
{
    const char *list = r->srv->p.cors_origins;
    *vary = false;
    if (!list || !*list)
        return NULL;
    const char *origin = header(r, "Origin");
    bool any = false;
    bool ok = origin_allowed(list, origin, &any);
    *vary = !any;
    /* The origin is echoed only when it equals a configured one, so it is safe to send. */
    return ok ? (any ? "*" : origin) : NULL;
}

#define EXPOSE                                                                              \
    "x-request-id, retry-after, x-should-retry, x-ratelimit-limit-requests, "                  \
    "x-ratelimit-remaining-requests, x-ratelimit-reset-requests, x-ratelimit-limit-tokens, "   \
    "x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens"

void hr_cors_add_headers(struct hr_http_req *r, struct MHD_Response *resp)
{
    bool vary;
    const char *acao = allow_origin(r, &vary);
    if (vary)
        MHD_add_response_header(resp, "Vary", "Origin");
    if (!acao)
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", acao);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", EXPOSE);
}

int hr_cors_header_lines(struct hr_http_req *r, char *buf, size_t cap)
{
    bool vary;
    const char *acao = allow_origin(r, &vary);
    return snprintf(buf, cap, "%s%s%s%s", vary ? "Vary: Origin\r\n" : "",
                    acao ? "Access-Control-Allow-Origin: " : "", acao ? acao : "",
                    acao ? "\r\nAccess-Control-Expose-Headers: " EXPOSE "\r\n" : "");
}

/* Requested header names are echoed only when they are a plain list of tokens. */
static bool plain_header_list(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_ECHO_HEADERS)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == ',' || c == ' '))
            return false;
    }
    return true;
}

bool hr_cors_preflight(struct hr_http_req *r, const char *allow, enum MHD_Result *ret)
{
    const char *list = r->srv->p.cors_origins;
    bool any = false;
    if (!list || !*list || !header(r, "Access-Control-Request-Method") ||
        !origin_allowed(list, header(r, "Origin"), &any))
        return false;
    const char *want = header(r, "Access-Control-Request-Headers");
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                want && plain_header_list(want) ? want : FIXED_ALLOW_HEADERS);
        MHD_add_response_header(resp, "Access-Control-Max-Age", MAX_AGE_S);
    }
    *ret = hr_queue(r, 204, resp);
    return true;
}

bool hr_content_type_ok(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct)
        return true; /* curl -d aside, clients without one send JSON: take it as JSON */
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (!*ct)
        return true;
    static const char json[] = "application/json";
    if (strncasecmp(ct, json, sizeof json - 1) != 0)
        return false;
    ct += sizeof json - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t hr_http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        int hi = s[i] == '%' ? hex_value(s[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
        /* %00 stays as written: a NUL would end the path early ("/health%00x" is no route) */
        if (lo >= 0 && (hi | lo) != 0) {
            s[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return o;
}
