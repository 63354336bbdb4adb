/* POST /tokenize, /detokenize and /apply-template: the body is parsed on the loop, the
 * tokenizer or chat template runs on libuv's worker pool (model work never runs on the loop;
 * the model is immutable once serving), and the connection, suspended meanwhile, is resumed
 * with the answer. Loop thread, except work_fn on a pool thread. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_int.h"

enum text_kind { TK_TOKENIZE, TK_DETOKENIZE, TK_TEMPLATE };

struct hr_text_job {
    uv_work_t work;
    struct hr_http_req *r;
    const struct hr_model *model;
    enum text_kind kind;
    struct hr_api_tokenize_req tok;
    int32_t *ids;
    size_t n_ids;
    struct hr_jval *messages, *tools;
    /* result */
    int status;
    char *json;
    struct hr_api_error err;
};

static void job_free(struct hr_text_job *j)
{
    hr_api_tokenize_req_deinit(&j->tok);
    free(j->ids);
    hr_jval_unref(j->messages);
    hr_jval_unref(j->tools);
    free(j->json);
    free(j);
}

static void do_tokenize(struct hr_text_job *j)
{
    const struct hr_tok *t = j->model->tok;
    size_t cap = hr_tok_max_tokens(j->tok.content_len), n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids || hr_tok_encode(t, j->tok.content, j->tok.content_len, j->tok.add_special,
                              j->tok.parse_special, ids, cap, &n) != 0) {
        free(ids);
        hr_api_error_set(&j->err, 500, "server_error", NULL, NULL, "tokenization failed");
        return;
    }
    const char **pieces = NULL;
    size_t *lens = NULL;
    char *store = NULL;
    if (j->tok.with_pieces) {
        /* llama.cpp reports each token's text as it decodes (bytes, spaces restored) */
        pieces = calloc(n ? n : 1, sizeof *pieces);
        lens = calloc(n ? n : 1, sizeof *lens);
        store = malloc((n ? n : 1) * (HR_TOK_MAX_PIECE + 1));
        for (size_t i = 0; pieces && lens && store && i < n; i++) {
            char *p = store + i * (HR_TOK_MAX_PIECE + 1);
            size_t len = hr_tok_token_bytes(t, ids[i], true, p, HR_TOK_MAX_PIECE);
            pieces[i] = p;
            lens[i] = len <= HR_TOK_MAX_PIECE ? len : 0;
        }
    }
    j->json = hr_api_tokens_json(ids, n, pieces && lens && store ? pieces : NULL, lens);
    j->status = 200;
    free(pieces);
    free(lens);
    free(store);
    free(ids);
}

static void do_detokenize(struct hr_text_job *j)
{
    const struct hr_tok *t = j->model->tok;
    char *out = malloc(j->n_ids * (HR_TOK_MAX_PIECE + 1) + 1);
    size_t o = 0;
    for (size_t i = 0; out && i < j->n_ids; i++) {
        size_t len = hr_tok_token_bytes(t, j->ids[i], false, out + o, HR_TOK_MAX_PIECE);
        o += len <= HR_TOK_MAX_PIECE ? len : 0;
    }
    j->json = out ? hr_api_text_json("content", out, o) : NULL;
    j->status = 200;
    free(out);
}

static void do_template(struct hr_text_job *j)
{
    char *prompt = NULL;
    struct hr_diag d = {{0}};
    int rc = hr_model_apply_chat(j->model, j->messages, j->tools, true, (int64_t)time(NULL),
                                 &prompt, &d);
    if (rc) {
        hr_api_error_set(&j->err, 400, "invalid_request_error", NULL, "messages",
                         "The chat template refused the conversation: %s", d.msg);
        return;
    }
    j->json = hr_api_text_json("prompt", prompt, strlen(prompt));
    j->status = 200;
    free(prompt);
}

static void work_fn(uv_work_t *w)
{
    struct hr_text_job *j = w->data;
    if (j->kind == TK_TOKENIZE)
        do_tokenize(j);
    else if (j->kind == TK_DETOKENIZE)
        do_detokenize(j);
    else
        do_template(j);
}

static void after_work(uv_work_t *w, int status)
{
    struct hr_text_job *j = w->data;
    (void)status;
    hr_work_finished(j->r);
}

enum MHD_Result hr_text_start(struct hr_http_req *r, int which)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    enum MHD_Result ret;
    char name[256];
    const char *body0 = r->body.ptr ? r->body.ptr : "";
    if (hr_api_body_model(body0, r->body.len, name, sizeof name, &e) != 0)
        return hr_respond_error(r, &e);
    if (!hr_model_acquire(r, name[0] ? name : hr_model_default_id(s), &ret))
        return ret;
    struct hr_text_job *j = calloc(1, sizeof *j);
    if (!j)
        return MHD_NO;
    j->r = r;
    j->model = hr_engine_model(r->model->engine);
    j->kind = (enum text_kind)which;
    const char *body = r->body.ptr ? r->body.ptr : "";
    int rc;
    if (which == TK_TOKENIZE)
        rc = hr_api_tokenize_parse(body, r->body.len, &j->tok, &e);
    else if (which == TK_DETOKENIZE)
        rc = hr_api_detokenize_parse(body, r->body.len, hr_tok_n_vocab(j->model->tok), &j->ids,
                                     &j->n_ids, &e);
    else
        rc = hr_api_template_parse(body, r->body.len, &j->messages, &j->tools, &e);
    if (rc) {
        job_free(j);
        return hr_respond_error(r, &e);
    }
    j->work.data = j;
    r->job = j;
    if (!hr_server_queue_work(r, &j->work, work_fn, after_work)) {
        r->job = NULL;
        job_free(j);
        return hr_respond_no_pool(r);
    }
    return MHD_YES;
}

enum MHD_Result hr_text_resume(struct hr_http_req *r)
{
    struct hr_text_job *j = r->job;
    enum MHD_Result ret;
    if (j->status == 200 && j->json) {
        ret = hr_respond_json(r, 200, j->json);
        j->json = NULL;
    } else if (j->err.status) {
        ret = hr_respond_error(r, &j->err);
    } else {
        struct hr_api_error e;
        ret = hr_respond_error(r, hr_api_error_set(&e, 500, "server_error", NULL, NULL,
                                                   "out of memory"));
    }
    return ret;
}

void hr_text_job_free(struct hr_http_req *r)
{
    if (r->job)
        job_free(r->job);
    r->job = NULL;
}
