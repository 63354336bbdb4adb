/* The chat page: GET / (index.html), /chat.js and /chat.css, compiled into the binary from
 * daemon/web/ (cmake/embed.cmake), so it works with no network beyond this server. Open like
 * /health: the page holds no secret, and its API calls carry the key the user types. A
 * Content-Security-Policy lets it load and talk to this origin only, run no inline script and
 * be framed by no one. Loop thread. */
#include <string.h>

#include "server_int.h"

extern const unsigned char hr_web_index_html[], hr_web_chat_js[], hr_web_chat_css[];
extern const size_t hr_web_index_html_len, hr_web_chat_js_len, hr_web_chat_css_len;

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'";

static enum MHD_Result asset(struct hr_http_req *r, const unsigned char *data, size_t len,
                             const char *type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return hr_queue(r, 200, resp);
}

enum MHD_Result hr_web_route(struct hr_http_req *r)
{
    if (strcmp(r->path, "/chat.js") == 0)
        return asset(r, hr_web_chat_js, hr_web_chat_js_len, "text/javascript; charset=utf-8");
    if (strcmp(r->path, "/chat.css") == 0)
        return asset(r, hr_web_chat_css, hr_web_chat_css_len, "text/css; charset=utf-8");
    return asset(r, hr_web_index_html, hr_web_index_html_len, "text/html; charset=utf-8");
}
