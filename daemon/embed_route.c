/* POST /v1/embeddings: the body is parsed and checked against the model on the loop (cheap);
 * tokenizing and the forward passes run on libuv's worker pool while the connection is
 * suspended, and the answer JSON is built there too. Each served model has one embedder (a
 * runner and KV cache for n_ctx positions: big, and not thread-safe), created by its first
 * job; the loop runs that model's jobs one at a time, keeping the others in a bounded FIFO and
 * queueing the next when one ends, so no pool thread ever waits on a lock while another
 * embeds. Loop thread, except work_fn on a pool thread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* A served model's embedding state (hr_served.embed). The loop owns it; the one job on the
 * pool (busy) is the only user of emb meanwhile: uv's queue orders its work after the
 * previous job's. */
struct hr_embed_state {
    struct hr_embedder *emb;            /* NULL until the first job makes it */
    struct hr_embed_job *head, *tail;   /* requests waiting for the pool, oldest first */
    uint32_t n_waiting;
    bool busy;                          /* a job is on the pool */
    bool stopping;                      /* the server stops: the running job frees all */
};

struct hr_embed_job {
    uv_work_t work;
    struct hr_http_req *r;
    struct hr_served *served;
    struct hr_embed_state *st;
    const struct hr_model *model;
    uint32_t n_ctx;
    struct hr_api_embed_req req;
    struct hr_embed_job *next;          /* in st's FIFO */
    /* result */
    char *json;
    struct hr_api_error err;            /* status 0: none */
    uint32_t n_prompt;
};

static void job_free(struct hr_embed_job *j)
{
    hr_api_embed_req_deinit(&j->req);
    free(j->json);
    free(j);
}

void hr_embed_free(struct hr_http_req *r)
{
    if (r->embed)
        job_free(r->embed);
    r->embed = NULL;
}

static void fail(struct hr_embed_job *j, int status, const char *msg)
{
    hr_api_error_set(&j->err, status, status >= 500 ? "server_error" : "invalid_request_error",
                     NULL, status >= 500 ? NULL : "input", "%s", msg);
}

/* Tokenizes the string inputs as llama.cpp's server does for embeddings (BOS/EOS as the
 * vocab says, special tokens in the text recognised) and checks every input against the
 * context and the request's token cap. seqs[i] points into own[i] (malloc'd) or the
 * request's ids. */
static int tokenize(struct hr_embed_job *j, struct hr_embed_seq *seqs, int32_t **own)
{
    const struct hr_tok *t = j->model->tok;
    size_t total = 0;
    for (size_t i = 0; i < j->req.n_inputs; i++) {
        const struct hr_api_embed_input *in = &j->req.inputs[i];
        size_t n = in->n_tokens;
        if (in->text) {
            size_t cap = hr_tok_max_tokens(in->text_len);
            own[i] = malloc(cap * sizeof *own[i]);
            if (!own[i] || hr_tok_encode(t, in->text, in->text_len, true, true, own[i], cap,
                                         &n) != 0) {
                fail(j, 500, "tokenization failed");
                return -1;
            }
            seqs[i].tokens = own[i];
        } else {
            seqs[i].tokens = in->tokens;
        }
        if (n == 0) {
            hr_api_error_set(&j->err, 400, "invalid_request_error", "invalid_value", "input",
                             "Invalid 'input[%zu]': it gives no tokens.", i);
            return -1;
        }
        if (n > j->n_ctx) {
            hr_api_error_set(&j->err, 400, "invalid_request_error", "context_length_exceeded",
                             "input", "This model's maximum context length is %u tokens, "
                             "however input[%zu] has %zu tokens. Please reduce the length of "
                             "the input.", j->n_ctx, i, n);
            return -1;
        }
        total += n;
        if (total > HR_MAX_EMBED_TOKENS) {
            hr_api_error_set(&j->err, 400, "invalid_request_error", "invalid_value", "input",
                             "Invalid 'input': at most %d tokens may be embedded in one "
                             "request, got more.", HR_MAX_EMBED_TOKENS);
            return -1;
        }
        seqs[i].n_tokens = (uint32_t)n;
    }
    j->n_prompt = (uint32_t)total;
    return 0;
}

static void embed(struct hr_embed_job *j, const struct hr_embed_seq *seqs)
{
    struct hr_embed_state *st = j->st;
    uint32_t ne = j->model->n_embd;
    if (!st->emb) {
        int rc = hr_embedder_new(&st->emb, j->model, j->n_ctx);
        if (rc) {
            fail(j, 500, rc == HR_ENOMEM ? "out of memory for the embedder"
                                         : "cannot make an embedder for this model");
            return;
        }
        hr_log(HR_LOG_INFO, "embed", "model '%s': embedder for %u positions, %.1f MiB",
               j->served->id, j->n_ctx, (double)hr_embedder_bytes(st->emb) / (1 << 20));
    }
    float *out = malloc(j->req.n_inputs * (size_t)ne * sizeof *out);
    if (!out) {
        fail(j, 500, "out of memory");
        return;
    }
    /* One thread: the pool is shared with other requests, the engine thread with its own. */
    int rc = hr_embedder_run(st->emb, seqs, (uint32_t)j->req.n_inputs, j->req.pooling, true,
                             out, NULL);
    if (rc) {
        hr_api_error_from_engine(&j->err, rc, NULL);
    } else {
        j->json = hr_api_embed_json(j->served->id, out, j->req.n_inputs, ne, j->req.format,
                                    j->n_prompt);
        for (size_t k = 0; !j->json && k < j->req.n_inputs * (size_t)ne; k++)
            if (!isfinite(out[k])) {
                fail(j, 500, "the model produced a non-finite value in an embedding");
                break;
            }
        if (!j->json && !j->err.status)
            fail(j, 500, "out of memory");
    }
    free(out);
}

static void work_fn(uv_work_t *w)
{
    struct hr_embed_job *j = w->data;
    size_t n = j->req.n_inputs;
    struct hr_embed_seq *seqs = calloc(n, sizeof *seqs);
    int32_t **own = calloc(n, sizeof *own);
    if (!seqs || !own)
        fail(j, 500, "out of memory");
    else if (tokenize(j, seqs, own) == 0)
        embed(j, seqs);
    for (size_t i = 0; own && i < n; i++)
        free(own[i]);
    free(own);
    free(seqs);
}

static void state_free(struct hr_served *m)
{
    hr_embedder_free(m->embed->emb);
    free(m->embed);
    m->embed = NULL;
}

static void start_next(struct hr_embed_state *st);

static void after_work(uv_work_t *w, int status)
{
    struct hr_embed_job *j = w->data;
    struct hr_served *m = j->served;
    struct hr_embed_state *st = j->st;
    struct hr_server *srv = m->srv;
    (void)status;
    st->busy = false;
    hr_work_finished(j->r); /* may free j */
    if (st->stopping)
        state_free(m);
    else if (srv->stop_pending)
        hr_server_stop(srv); /* it waited for this job */
    else
        start_next(st);
}

/* Puts the oldest waiting job on the pool; one whose client left meanwhile just ends. */
static void start_next(struct hr_embed_state *st)
{
    while (!st->busy && st->head) {
        struct hr_embed_job *j = st->head;
        st->head = j->next;
        if (!st->head)
            st->tail = NULL;
        st->n_waiting--;
        j->next = NULL;
        if (j->r->http_done) {
            hr_work_finished(j->r); /* frees it */
            continue;
        }
        if (uv_queue_work(j->r->srv->loop, &j->work, work_fn, after_work) != 0) {
            fail(j, 500, "cannot queue the work");
            hr_work_finished(j->r);
            continue;
        }
        st->busy = true;
    }
}

enum MHD_Result hr_embed_start(struct hr_http_req *r)
{
    struct hr_server *s = r->srv;
    struct hr_api_error e;
    enum MHD_Result ret;
    struct hr_api_embed_req req;
    const char *body = r->body.ptr ? r->body.ptr : "";
    if (hr_api_embed_parse(body, r->body.len, &req, &e) != 0) {
        hr_api_embed_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    if (!hr_model_acquire(r, req.model, &ret)) {
        hr_api_embed_req_deinit(&req);
        return ret;
    }
    hr_req_set_user(r, req.user);
    struct hr_served *m = r->model;
    const struct hr_model *model = hr_engine_model(m->engine);
    if (hr_api_embed_check_model(&req, model, m->id, &e) != 0) {
        hr_api_embed_req_deinit(&req);
        return hr_respond_error(r, &e);
    }
    if (!m->embed && !(m->embed = calloc(1, sizeof *m->embed))) {
        hr_api_embed_req_deinit(&req);
        return MHD_NO;
    }
    struct hr_embed_state *st = m->embed;
    if (s->stop_pending) {
        hr_api_embed_req_deinit(&req);
        return hr_respond_shutting_down(r);
    }
    if (st->busy && st->n_waiting >= s->p.engine.max_queue) {
        hr_api_embed_req_deinit(&req);
        hr_api_error_from_engine(&e, HR_EFULL, "Too many embedding requests are waiting; "
                                                "retry shortly.");
        return hr_respond_error_hdr(r, &e, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    struct hr_embed_job *j = calloc(1, sizeof *j);
    if (!j) {
        hr_api_embed_req_deinit(&req);
        return MHD_NO;
    }
    j->r = r;
    j->served = m;
    j->st = st;
    j->model = model;
    j->n_ctx = hr_engine_n_ctx(m->engine);
    j->req = req;
    j->work.data = j;
    r->embed = j;
    r->in_work = true;
    r->work_done = false;
    if (st->tail)
        st->tail->next = j;
    else
        st->head = j;
    st->tail = j;
    st->n_waiting++;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    start_next(st);
    return MHD_YES;
}

enum MHD_Result hr_embed_resume(struct hr_http_req *r)
{
    struct hr_embed_job *j = r->embed;
    struct hr_api_error e;
    if (j->json) {
        r->n_prompt = j->n_prompt; /* the usage row counts what was embedded */
        char *json = j->json;
        j->json = NULL;
        return hr_respond_json(r, 200, json);
    }
    if (j->err.status)
        return hr_respond_error(r, &j->err);
    return hr_respond_error(r, hr_api_error_set(&e, 500, "server_error", NULL, NULL,
                                                "out of memory"));
}

/* Waiting requests end with a 503 now; their connections are resumed to send it. */
static void fail_waiting(struct hr_embed_state *st)
{
    while (st->head) {
        struct hr_embed_job *j = st->head;
        st->head = j->next;
        st->n_waiting--;
        j->next = NULL;
        hr_api_error_set(&j->err, 503, "server_error", "server_shutting_down", NULL,
                         "The server is shutting down.");
        hr_work_finished(j->r);
    }
    st->tail = NULL;
}

bool hr_embed_defer_stop(struct hr_server *s)
{
    bool busy = false;
    s->stop_pending = true;
    for (size_t i = 0; i < s->n_models; i++) {
        struct hr_embed_state *st = s->models[i].embed;
        if (st) {
            fail_waiting(st);
            busy = busy || st->busy;
        }
    }
    return busy;
}

void hr_embed_stop(struct hr_served *m)
{
    struct hr_embed_state *st = m->embed;
    if (!st)
        return;
    fail_waiting(st);
    if (st->busy)
        st->stopping = true; /* its after_work frees the state */
    else
        state_free(m);
}
