/* A chat request between validation and the engine: its grammar (response_format, grammar)
 * is compiled, its template rendered and its prompt tokenized on libuv's worker pool (model
 * and compiler work never runs on the loop, and the engine thread never stalls on a long
 * prompt), so a bad schema or a prompt that cannot fit the context is refused with a 400
 * before it ever queues, and the engine receives tokens. A legacy completion's raw prompts
 * (no template) and their echo text take the same way. Loop thread, except work_fn. */
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"

struct hr_chat_prep {
    uv_work_t work;
    struct hr_http_req *r;
    const struct hr_model *model;
    uint32_t n_ctx;
    enum hr_api_tool_format tool_format;
    struct hr_api_chat_req req;
    /* a completion: req is creq.base; the result has one token list per prompt */
    bool raw;
    struct hr_api_completion_req creq;
    int32_t **ptokens;
    size_t *pn_tokens;
    char **echo;
    size_t *echo_len;
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
    for (size_t i = 0; p->raw && i < p->creq.n_prompts; i++) {
        free(p->ptokens ? p->ptokens[i] : NULL);
        free(p->echo ? p->echo[i] : NULL);
    }
    free(p->ptokens);
    free(p->pn_tokens);
    free(p->echo);
    free(p->echo_len);
    hr_api_completion_req_deinit(&p->creq);
    free(p->tokens);
    free(p);
    r->prep = NULL;
}

/* Prompt i's echo: its text as given, or its token ids as text. */
static char *echo_text(const struct hr_chat_prep *p, const struct hr_api_prompt *pr,
                       size_t *len)
{
    if (pr->text) {
        char *s = malloc(pr->len + 1);
        if (s) {
            memcpy(s, pr->text, pr->len);
            s[pr->len] = '\0';
        }
        *len = pr->len;
        return s;
    }
    char *s = malloc(pr->n_ids * (HR_TOK_MAX_PIECE + 1) + 1);
    size_t o = 0;
    for (size_t i = 0; s && i < pr->n_ids; i++) {
        size_t n = hr_tok_token_bytes(p->model->tok, pr->ids[i], false, s + o, HR_TOK_MAX_PIECE);
        o += n <= HR_TOK_MAX_PIECE ? n : 0;
    }
    if (s)
        s[o] = '\0';
    *len = o;
    return s;
}

/* A completion's prompts: each tokenized raw (or its ids taken as they are) and checked
 * against the context; the first failure ends the work. */
static void work_prompts(struct hr_chat_prep *p, struct hr_diag *d)
{
    struct hr_api_completion_req *c = &p->creq;
    if (hr_api_chat_compile_grammar(&c->base, &p->gerr) != 0) {
        p->grammar_failed = true;
        return;
    }
    for (size_t i = 0; i < c->n_prompts && p->rc == 0; i++) {
        const struct hr_api_prompt *pr = &c->prompts[i];
        if (pr->text) {
            p->rc = hr_engine_prepare_prompt(p->model, p->n_ctx, pr->text, pr->len,
                                             c->base.max_tokens, &p->ptokens[i],
                                             &p->pn_tokens[i], d);
        } else {
            p->pn_tokens[i] = pr->n_ids;
            p->rc = hr_engine_check_context(p->n_ctx, pr->n_ids, c->base.max_tokens, d);
            p->ptokens[i] = p->rc == 0 ? malloc(pr->n_ids * sizeof(int32_t)) : NULL;
            if (p->ptokens[i])
                memcpy(p->ptokens[i], pr->ids, pr->n_ids * sizeof(int32_t));
            else if (p->rc == 0)
                p->rc = HR_ENOMEM;
        }
        p->n_tokens += p->pn_tokens[i];
        if (p->rc == 0 && c->echo && !(p->echo[i] = echo_text(p, pr, &p->echo_len[i])))
            p->rc = HR_ENOMEM;
    }
}

static void work_fn(uv_work_t *w)
{
    struct hr_chat_prep *p = w->data;
    struct hr_diag d = {{0}};
    if (p->raw) {
        work_prompts(p, &d);
        snprintf(p->msg, sizeof p->msg, "%s", d.msg);
        return;
    }
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

static enum MHD_Result queue_prep(struct hr_http_req *r, struct hr_chat_prep *p);

enum MHD_Result hr_chat_prep_start(struct hr_http_req *r, struct hr_api_chat_req *take_req)
{
    struct hr_chat_prep *p = calloc(1, sizeof *p);
    if (!p) {
        hr_api_chat_req_deinit(take_req);
        return MHD_NO;
    }
    p->req = *take_req;
    memset(take_req, 0, sizeof *take_req);
    return queue_prep(r, p);
}

enum MHD_Result hr_gen_prep_prompts(struct hr_http_req *r, struct hr_api_completion_req *take_req)
{
    struct hr_chat_prep *p = calloc(1, sizeof *p);
    size_t n = take_req->n_prompts;
    if (p) {
        p->raw = true;
        p->creq = *take_req;
        memset(take_req, 0, sizeof *take_req);
        p->ptokens = calloc(n, sizeof *p->ptokens);
        p->pn_tokens = calloc(n, sizeof *p->pn_tokens);
        p->echo = calloc(n, sizeof *p->echo);
        p->echo_len = calloc(n, sizeof *p->echo_len);
    }
    if (!p || !p->ptokens || !p->pn_tokens || !p->echo || !p->echo_len) {
        if (p) {
            r->prep = p;
            hr_chat_prep_free(r);
        }
        hr_api_completion_req_deinit(take_req);
        return MHD_NO;
    }
    return queue_prep(r, p);
}

static enum MHD_Result queue_prep(struct hr_http_req *r, struct hr_chat_prep *p)
{
    p->r = r;
    p->model = hr_engine_model(r->model->engine);
    p->n_ctx = hr_engine_n_ctx(r->model->engine);
    p->tool_format = r->model->tool_format;
    p->work.data = p;
    r->prep = p;
    if (!hr_server_queue_work(r, &p->work, work_fn, after_work)) {
        hr_chat_prep_free(r);
        return hr_respond_no_pool(r);
    }
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
        if (r->fmt && strcmp(e.param, "messages") == 0) /* its own name for the prompt */
            snprintf(e.param, sizeof e.param, "%s", r->fmt->prompt_param);
        ret = hr_respond_error(r, &e);
    } else if (p->raw) {
        struct hr_gen_data *g = r->gen;
        /* the echo text moves to the request, which writes it into each choice */
        g->echo = p->creq.echo;
        g->n_prompts = p->creq.n_prompts;
        g->echo_text = p->echo;
        g->echo_len = p->echo_len;
        p->echo = NULL;
        p->echo_len = NULL;
        ret = hr_gen_submit_prompts(r, &p->creq.base, p->ptokens, p->pn_tokens,
                                    p->creq.n_prompts);
    } else {
        ret = hr_chat_submit(r, &p->req, p->tokens, p->n_tokens);
    }
    hr_chat_prep_free(r);
    return ret;
}
