/* A chat request between validation and the engine: its grammar (response_format, grammar)
 * is compiled, its template rendered and its prompt tokenized on libuv's worker pool (model
 * and compiler work never runs on the loop, and the engine thread never stalls on a long
 * prompt), so a bad schema or a prompt that cannot fit the context is refused with a 400
 * before it ever queues, and the engine receives tokens. Loop thread, except work_fn. */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

struct hr_chat_prep {
    uv_work_t work;
    struct hr_http_req *r;
    const struct hr_model *model;
    uint32_t n_ctx;
    enum hr_api_tool_format tool_format;
    struct hr_api_chat_req req;
    /* result */
    int rc;
    int32_t *tokens;
    size_t n_tokens;
    char msg[512];
    bool grammar_failed; /* gerr holds the 400 */
    struct hr_api_error gerr;
};

void hr_chat_prep_free(struct hr_http_req *r)
{
    struct hr_chat_prep *p = r->prep;
    if (!p)
        return;
    hr_api_chat_req_deinit(&p->req);
    free(p->tokens);
    free(p);
    r->prep = NULL;
}

static void work_fn(uv_work_t *w)
{
    struct hr_chat_prep *p = w->data;
    struct hr_diag d = {{0}};
    bool forced = p->req.tool_choice == HR_TOOL_CHOICE_REQUIRED ||
                  p->req.tool_choice == HR_TOOL_CHOICE_NAMED;
    if (forced ? hr_api_tool_grammar(&p->req, p->tool_format, &p->req.grammar, &p->gerr) != 0
               : hr_api_chat_compile_grammar(&p->req, &p->gerr) != 0) {
        p->grammar_failed = true;
        return;
    }
    struct hr_jval *msgs = hr_api_chat_template_messages(&p->req);
    struct hr_jval *tools = hr_api_chat_template_tools(&p->req);
    p->rc = hr_engine_prepare_chat(p->model, p->n_ctx, msgs, tools, p->req.max_tokens,
                                   &p->tokens, &p->n_tokens, &d);
    hr_jval_unref(msgs);
    hr_jval_unref(tools);
    snprintf(p->msg, sizeof p->msg, "%s", d.msg);
}

static void after_work(uv_work_t *w, int status)
{
    struct hr_chat_prep *p = w->data;
    (void)status;
    hr_work_finished(p->r);
}

enum MHD_Result hr_chat_prep_start(struct hr_http_req *r, struct hr_api_chat_req *take_req)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    struct hr_chat_prep *p = calloc(1, sizeof *p);
    if (!p) {
        hr_api_chat_req_deinit(take_req);
        return MHD_NO;
    }
    p->req = *take_req;
    memset(take_req, 0, sizeof *take_req);
    p->r = r;
    p->model = hr_engine_model(r->model->engine);
    p->n_ctx = hr_engine_n_ctx(r->model->engine);
    p->tool_format = r->model->tool_format;
    p->work.data = p;
    r->prep = p;
    r->in_work = true;
    r->work_done = false;
    if (uv_queue_work(s->loop, &p->work, work_fn, after_work) != 0) {
        r->in_work = false;
        hr_chat_prep_free(r);
        return hr_respond_error(r, hr_api_error_set(&e, 500, "server_error", NULL, NULL,
                                                    "cannot queue the work"));
    }
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    return MHD_YES;
}

enum MHD_Result hr_chat_prep_done(struct hr_http_req *r)
{
    struct hr_chat_prep *p = r->prep;
    enum MHD_Result ret;
    r->n_prompt = (uint32_t)p->n_tokens;
    if (p->grammar_failed) {
        ret = hr_respond_error(r, &p->gerr);
    } else if (p->rc != 0) {
        struct hr_api_error e;
        hr_api_error_from_engine(&e, p->rc, p->msg[0] ? p->msg : NULL);
        ret = hr_respond_error(r, &e);
    } else {
        ret = hr_chat_submit(r, &p->req, p->tokens, p->n_tokens);
    }
    hr_chat_prep_free(r);
    return ret;
}
