/* The engine thread: owns one model, a paged KV cache shared by n_parallel sequence slots and
 * a batch runner; takes requests from the inbox and, each step, evaluates ONE ragged batch
 * holding the next decode token of every running sequence plus prefill chunks of the others
 * (within a token budget), then samples each sequence that produced logits and appends events
 * to the outbox. Tokenizing and chat rendering happen here too, so the event loop never does
 * model work. Results do not depend on the batch (see hr_runner_eval). Preemption and prefix
 * caching come with the scheduler issue.
 * Thread: hr_engine_submit/cancel/take_events from any thread; everything else engine thread. */
#include "sched_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREFILL_CHUNK 256 /* prompt tokens per sequence per step: a long prompt cannot stall
                             the others' decoding */
#define STEP_TOKENS 512   /* tokens in one step's batch at most */

struct job {
    struct job *next;
    uint64_t id;
    char *prompt; /* raw text, or NULL when msgs is set */
    size_t prompt_len;
    struct hr_chat_msg *msgs; /* role/content strings copied into one block after the array */
    size_t n_msgs;
    int32_t *tokens; /* a prompt tokenized by the caller, or NULL */
    size_t n_tokens;
    uint32_t max_tokens;
    struct hr_sampler_params sampling; /* logit_bias points at bias */
    struct hr_logit_bias *bias;
    bool ignore_eos;
    bool logprobs;
    uint32_t top_logprobs;
    struct hr_stop stop;
    struct hr_grammar *grammar; /* a reference, or NULL */
    double t_submit_ms;
    struct hr_event *done; /* allocated at submit, so a request can always be ended */
};

struct cancel_req {
    struct cancel_req *next;
    uint64_t id;
};

struct slot {
    bool busy;
    struct job *job;
    struct hr_sampler sampler;
    bool has_sampler;
    struct hr_detok detok;
    struct hr_grammar_state *gstate; /* the job's grammar, or NULL */
    int32_t *tokens; /* prompt, then generated: n_ctx capacity */
    uint32_t n_tokens;
    uint32_t n_prompt;
    uint32_t n_past; /* tokens already in the KV cache */
    uint32_t in_batch; /* tokens of this slot in the current step's batch */
    uint32_t n_generated;
    uint32_t limit; /* n_prompt + allowed completion tokens */
    uint32_t queue_ms;
    uint32_t first_token_ms;
};

struct hr_engine {
    struct hr_model *model;
    struct hr_engine_params p;
    uint32_t n_ctx;
    struct hr_pool *pool;
    struct hr_kv *kv;         /* slot i is sequence i */
    struct hr_runner *runner;
    struct hr_batch_tok *batch; /* STEP_TOKENS + n_parallel */
    uint32_t *row_slot;       /* slot of each logits row of a step */
    float *logits;            /* n_parallel x n_vocab */
    hr_engine_notify_fn notify;
    void *notify_ud;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mu; /* guards everything below, held only to link/unlink */
    pthread_cond_t cv;
    bool stop;
    struct job *inbox_head, *inbox_tail;
    uint32_t n_pending; /* submitted, not yet admitted to a slot nor canceled */
    struct cancel_req *cancels;
    struct hr_event *out_head, *out_tail;

    /* engine thread only */
    struct job *wait_head, *wait_tail;
    uint32_t n_waiting;
    struct slot *slots;
    struct hr_event *pend_head, *pend_tail; /* events of this step, published at its end */
    struct hr_grammar_vocab *gvocab; /* token trie, built by the first grammar request */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const char *hr_finish_name(enum hr_finish f)
{
    switch (f) {
    case HR_FINISH_STOP:
        return "stop";
    case HR_FINISH_LENGTH:
        return "length";
    case HR_FINISH_CANCELED:
        return "canceled";
    default:
        return "error";
    }
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->prompt);
    free(j->msgs);
    free(j->tokens);
    free(j->bias);
    hr_stop_deinit(&j->stop);
    hr_grammar_unref(j->grammar);
    free(j->done);
    free(j);
}

void hr_event_free_list(struct hr_event *ev)
{
    while (ev) {
        struct hr_event *next = ev->next;
        free(ev->text);
        free(ev->logprob);
        free(ev);
        ev = next;
    }
}

/* ---- events (engine thread) ---- */

static void push_event(struct hr_engine *e, struct hr_event *ev)
{
    ev->next = NULL;
    if (e->pend_tail)
        e->pend_tail->next = ev;
    else
        e->pend_head = ev;
    e->pend_tail = ev;
}

/* A text event; take_lp (may be NULL) moves into it, and makes an event even of no text. */
static void emit_text_lp(struct hr_engine *e, uint64_t id, const char *text, size_t n,
                         struct hr_token_logprob *take_lp)
{
    if (n == 0 && !take_lp)
        return;
    struct hr_event *ev = calloc(1, sizeof *ev);
    char *copy = malloc(n + 1);
    if (!ev || !copy) {
        /* The text is lost but the request still ends: its DONE event carries no error, and
         * the counts stay right. Allocation failure here is not worth killing the daemon. */
        free(ev);
        free(copy);
        free(take_lp);
        hr_log(HR_LOG_ERROR, "engine", "out of memory emitting text of request %llu",
               (unsigned long long)id);
        return;
    }
    memcpy(copy, text, n);
    copy[n] = '\0';
    ev->req_id = id;
    ev->kind = HR_EV_TEXT;
    ev->text = copy;
    ev->n_text = n;
    ev->logprob = take_lp;
    push_event(e, ev);
}

static void emit_text(struct hr_engine *e, uint64_t id, const char *text, size_t n)
{
    emit_text_lp(e, id, text, n, NULL);
}

/* Ends a request with the DONE event allocated at submit time. */
static void emit_done(struct hr_engine *e, struct job *j, enum hr_finish finish, int err,
                      const char *msg, const struct slot *s)
{
    struct hr_event *ev = j->done;
    j->done = NULL;
    ev->req_id = j->id;
    ev->kind = HR_EV_DONE;
    ev->finish = finish;
    ev->err = err;
    if (msg)
        snprintf(ev->err_msg, sizeof ev->err_msg, "%s", msg);
    if (s) {
        ev->n_prompt = s->n_prompt;
        ev->n_completion = s->n_generated;
        ev->queue_ms = s->queue_ms;
        ev->first_token_ms = s->first_token_ms;
    }
    push_event(e, ev);
}

static void publish_events(struct hr_engine *e)
{
    if (!e->pend_head)
        return;
    pthread_mutex_lock(&e->mu);
    if (e->out_tail)
        e->out_tail->next = e->pend_head;
    else
        e->out_head = e->pend_head;
    e->out_tail = e->pend_tail;
    pthread_mutex_unlock(&e->mu);
    e->pend_head = e->pend_tail = NULL;
    if (e->notify)
        e->notify(e->notify_ud);
}

struct hr_event *hr_engine_take_events(struct hr_engine *e)
{
    pthread_mutex_lock(&e->mu);
    struct hr_event *head = e->out_head;
    e->out_head = e->out_tail = NULL;
    pthread_mutex_unlock(&e->mu);
    return head;
}

/* ---- admission (engine thread) ---- */

static void pending_done(struct hr_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->n_pending--;
    pthread_mutex_unlock(&e->mu);
}

static void slot_release(struct hr_engine *e, struct slot *s)
{
    hr_kv_seq_release(e->kv, (uint32_t)(s - e->slots));
    if (s->has_sampler)
        hr_sampler_deinit(&s->sampler);
    s->has_sampler = false;
    hr_grammar_state_free(s->gstate);
    s->gstate = NULL;
    job_free(s->job);
    s->job = NULL;
    s->busy = false;
}

/* The context check, in OpenAI's words: n prompt tokens plus max_tokens must fit. */
static int check_context(uint32_t n_ctx, size_t n, uint32_t max_tokens, char *msg,
                         size_t msg_cap)
{
    if (n == 0) {
        snprintf(msg, msg_cap, "the prompt is empty after tokenization");
        return HR_EINVAL;
    }
    if (n < n_ctx && (!max_tokens || n + max_tokens <= n_ctx))
        return 0;
    snprintf(msg, msg_cap,
             "This model's maximum context length is %u tokens. However, you requested %zu "
             "tokens (%zu in the messages, %u in the completion). Please reduce the length of "
             "the messages or completion.",
             n_ctx, n + max_tokens, n, max_tokens);
    return HR_ECONTEXT;
}

/* Renders (msgs) and tokenizes text into a new array (*ids, caller frees). The tokenizer
 * needs at most hr_tok_max_tokens(len) ids, so the whole prompt is tokenized even when it is
 * far over the context: the error can then say by how much. */
static int render_tokenize(const struct hr_model *m, const struct hr_chat_msg *cmsgs,
                           size_t n_msgs, const char *text, size_t text_len, int32_t **ids,
                           size_t *n, char *msg, size_t msg_cap)
{
    char *rendered = NULL;
    bool add_special = true, parse_special = false;
    *ids = NULL;
    *n = 0;
    if (cmsgs) {
        struct hr_diag d = {{0}};
        struct hr_jval *msgs = hr_chat_messages(cmsgs, n_msgs);
        int err = msgs ? hr_model_apply_chat(m, msgs, NULL, true, (int64_t)time(NULL), &rendered,
                                             &d)
                       : HR_ENOMEM;
        hr_jval_unref(msgs);
        if (err) {
            snprintf(msg, msg_cap, "%s", d.msg[0] ? d.msg : hr_err_str(err));
            return err;
        }
        text = rendered;
        text_len = strlen(rendered);
        add_special = false;
        parse_special = true; /* the template's own markup is special tokens */
    }
    size_t cap = hr_tok_max_tokens(text_len);
    *ids = malloc(cap * sizeof **ids);
    int rc = *ids ? hr_tok_encode(m->tok, text, text_len, add_special, parse_special, *ids, cap,
                                  n)
                  : HR_ENOMEM;
    free(rendered);
    if (rc) {
        free(*ids);
        *ids = NULL;
        snprintf(msg, msg_cap, "%s", hr_err_str(rc));
    }
    return rc;
}

int hr_engine_prepare_chat(const struct hr_model *m, uint32_t n_ctx,
                           const struct hr_chat_msg *msgs, size_t n_msgs, uint32_t max_tokens,
                           int32_t **tokens, size_t *n_tokens, struct hr_diag *d)
{
    char msg[512] = "";
    int rc = render_tokenize(m, msgs, n_msgs, NULL, 0, tokens, n_tokens, msg, sizeof msg);
    if (rc == 0)
        rc = check_context(n_ctx, *n_tokens, max_tokens, msg, sizeof msg);
    if (rc) {
        hr_diag_set(d, "%s", msg);
        free(*tokens);
        *tokens = NULL;
    }
    return rc;
}

/* Puts the job's prompt, as tokens, into the slot. Returns 0 or an error with a message for
 * the client in msg. */
static int slot_prepare(struct hr_engine *e, struct slot *s, char *msg, size_t msg_cap)
{
    const struct hr_model *m = e->model;
    struct job *j = s->job;
    int32_t *ids = j->tokens;
    size_t n = j->n_tokens;
    int rc = 0;
    if (!ids)
        rc = render_tokenize(m, j->msgs, j->n_msgs, j->prompt, j->prompt_len, &ids, &n, msg,
                             msg_cap);
    if (rc == 0)
        rc = check_context(e->n_ctx, n, j->max_tokens, msg, msg_cap);
    if (rc == 0)
        memcpy(s->tokens, ids, n * sizeof *ids);
    if (ids != j->tokens)
        free(ids);
    if (rc != 0)
        return rc;
    s->n_tokens = (uint32_t)n;
    s->n_prompt = (uint32_t)n;
    s->n_past = 0;
    s->n_generated = 0;
    s->limit = j->max_tokens ? (uint32_t)n + j->max_tokens : e->n_ctx;
    /* every slot has n_ctx positions' worth of blocks, so this cannot run out yet */
    rc = hr_kv_seq_reserve(e->kv, (uint32_t)(s - e->slots), s->limit);
    if (rc != 0) {
        snprintf(msg, msg_cap, "no KV cache space for this request");
        return rc;
    }
    hr_detok_init(&s->detok);
    if (j->sampling.repeat_last_n > e->n_ctx)
        j->sampling.repeat_last_n = e->n_ctx; /* "the whole context" */
    rc = hr_sampler_init(&s->sampler, &j->sampling, (int32_t)m->n_vocab);
    if (rc != 0) {
        snprintf(msg, msg_cap, "invalid sampling parameters");
        return rc;
    }
    s->has_sampler = true;
    for (uint32_t i = 0; i < s->n_prompt; i++)
        hr_sampler_accept(&s->sampler, s->tokens[i], false);
    if (j->grammar)
        return hr_sched__grammar_begin(&e->gvocab, m->tok, j->grammar, &s->sampler, &s->gstate,
                                       msg, msg_cap);
    return 0;
}

static void admit(struct hr_engine *e)
{
    for (uint32_t i = 0; i < e->p.n_parallel && e->wait_head; i++) {
        struct slot *s = &e->slots[i];
        if (s->busy)
            continue;
        struct job *j = e->wait_head;
        e->wait_head = j->next;
        if (!e->wait_head)
            e->wait_tail = NULL;
        e->n_waiting--;
        pending_done(e);
        j->next = NULL;
        s->busy = true;
        s->job = j;
        s->queue_ms = (uint32_t)(now_ms() - j->t_submit_ms);
        s->first_token_ms = 0;
        s->n_prompt = s->n_generated = 0;
        char msg[512] = "";
        int rc = slot_prepare(e, s, msg, sizeof msg);
        if (rc != 0) {
            emit_done(e, j, HR_FINISH_ERROR, rc, msg, s);
            slot_release(e, s);
        }
    }
}

/* ---- one step (engine thread) ---- */

/* Generated text on its way out: through the stop strings, then to the client. */
static void emit_generated(struct hr_engine *e, struct slot *s, const char *text, size_t n,
                           struct hr_token_logprob *take_lp)
{
    char out[HR_TOK_MAX_PIECE + 16 + HR_MAX_STOP_BYTES + 64];
    size_t k = hr_stop_push(&s->job->stop, text, n, out, sizeof out);
    emit_text_lp(e, s->job->id, out, k, take_lp);
}

/* log-softmax of the model's logits at the sampled token, and the n_top best alternatives.
 * NULL without memory (the request goes on without this token's numbers). */
static struct hr_token_logprob *token_logprob(const float *logits, int32_t n_vocab,
                                              int32_t tok, uint32_t n_top)
{
    struct hr_token_logprob *lp = calloc(1, sizeof *lp);
    if (!lp)
        return NULL;
    float max = logits[hr_argmax(logits, n_vocab)];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++)
        sum += exp((double)logits[i] - max);
    double lse = max + log(sum);
    lp->token = tok;
    lp->logprob = (float)(logits[tok] - lse);
    /* insertion into a short sorted list: n_top <= 20 */
    for (int32_t i = 0; i < n_vocab && n_top; i++) {
        uint32_t k = lp->n_top;
        if (k == n_top && !(logits[i] > logits[lp->top[k - 1].token]))
            continue;
        if (k < n_top)
            lp->n_top++;
        else
            k--;
        while (k > 0 && logits[i] > logits[lp->top[k - 1].token]) {
            lp->top[k] = lp->top[k - 1];
            k--;
        }
        lp->top[k].token = i;
    }
    for (uint32_t k = 0; k < lp->n_top; k++)
        lp->top[k].logprob = (float)(logits[lp->top[k].token] - lse);
    return lp;
}

static void finish_slot(struct hr_engine *e, struct slot *s, enum hr_finish f)
{
    char tail[64];
    size_t n = hr_detok_flush(&s->detok, tail, sizeof tail);
    emit_generated(e, s, tail, n, NULL);
    char held[HR_MAX_STOP_BYTES];
    if (s->job->stop.hit) {
        f = HR_FINISH_STOP;
    } else {
        n = hr_stop_flush(&s->job->stop, held, sizeof held);
        emit_text(e, s->job->id, held, n);
    }
    emit_done(e, s->job, f, 0, NULL, s);
    slot_release(e, s);
}

/* After a step: the sampling of one sequence whose logits the batch produced. */
static void sample_slot(struct hr_engine *e, struct slot *s, const float *logits)
{
    const struct hr_model *m = e->model;
    struct job *j = s->job;
    int32_t tok = hr_sampler_sample(&s->sampler, logits);
    char msg[256];
    int rc = 0;
    if (tok < 0) {
        rc = s->sampler.mask_err;
        hr_sched__grammar_mask_error(rc, msg, sizeof msg);
    } else if (s->gstate && !hr_tok_is_eog(m->tok, tok)) {
        rc = hr_sched__grammar_accept(s->gstate, tok, msg, sizeof msg);
    }
    if (rc) {
        emit_done(e, j, HR_FINISH_ERROR, rc, msg, s);
        slot_release(e, s);
        return;
    }
    if (s->n_generated == 0)
        s->first_token_ms = (uint32_t)(now_ms() - j->t_submit_ms);
    /* under a grammar, end-of-generation is allowed only where the output is complete */
    if ((!j->ignore_eos || s->gstate) && hr_tok_is_eog(m->tok, tok)) {
        finish_slot(e, s, HR_FINISH_STOP);
        return;
    }
    hr_sampler_accept(&s->sampler, tok, true);
    s->n_generated++;
    s->tokens[s->n_tokens++] = tok;
    char buf[HR_TOK_MAX_PIECE + 16];
    size_t nb = hr_detok_push(&s->detok, m->tok, tok, buf, sizeof buf);
    struct hr_token_logprob *lp =
        j->logprobs ? token_logprob(logits, (int32_t)m->n_vocab, tok, j->top_logprobs) : NULL;
    emit_generated(e, s, buf, nb, lp);
    if (s->gstate && hr_grammar_is_complete(s->gstate))
        finish_slot(e, s, HR_FINISH_STOP);
    else if (j->stop.hit || s->n_tokens >= s->limit || s->n_tokens >= e->n_ctx)
        finish_slot(e, s, HR_FINISH_LENGTH);
}

/* One engine step: every running sequence's decode token and prefill chunks of the others,
 * within STEP_TOKENS, in one forward pass. */
static void step(struct hr_engine *e)
{
    uint32_t n = 0, rows = 0;
    for (uint32_t i = 0; i < e->p.n_parallel; i++)
        e->slots[i].in_batch = 0;
    /* decoding sequences first (one token each: they always fit), then prefill chunks */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < e->p.n_parallel; i++) {
            struct slot *s = &e->slots[i];
            bool prefill = s->n_past < s->n_prompt;
            if (!s->busy || prefill != (pass == 1))
                continue;
            uint32_t take = s->n_tokens - s->n_past;
            if (prefill && take > PREFILL_CHUNK)
                take = PREFILL_CHUNK;
            if (prefill && take > STEP_TOKENS - n)
                take = n < STEP_TOKENS ? STEP_TOKENS - n : 0;
            for (uint32_t k = 0; k < take; k++) {
                bool last = s->n_past + k + 1 == s->n_tokens;
                e->batch[n++] = (struct hr_batch_tok){s->tokens[s->n_past + k], i,
                                                      s->n_past + k, last};
                if (last)
                    e->row_slot[rows++] = i;
            }
            s->in_batch = take;
        }
    }
    if (n == 0)
        return;
    int rc = hr_runner_eval(e->runner, e->kv, e->batch, n, e->logits, e->pool);
    for (uint32_t i = 0; i < e->p.n_parallel; i++) {
        struct slot *s = &e->slots[i];
        if (!s->busy || !s->in_batch)
            continue;
        if (rc != 0) {
            emit_done(e, s->job, HR_FINISH_ERROR, rc, "the forward pass failed", s);
            slot_release(e, s);
            continue;
        }
        s->n_past += s->in_batch;
    }
    for (uint32_t r = 0; rc == 0 && r < rows; r++) {
        struct slot *s = &e->slots[e->row_slot[r]];
        if (s->busy)
            sample_slot(e, s, e->logits + (size_t)r * e->model->n_vocab);
    }
}

static void handle_cancel(struct hr_engine *e, uint64_t id)
{
    for (uint32_t i = 0; i < e->p.n_parallel; i++) {
        struct slot *s = &e->slots[i];
        if (s->busy && s->job->id == id) {
            emit_done(e, s->job, HR_FINISH_CANCELED, 0, NULL, s);
            slot_release(e, s);
            return;
        }
    }
    struct job **pp = &e->wait_head;
    struct job *prev = NULL;
    for (struct job *j = e->wait_head; j; prev = j, j = j->next) {
        if (j->id == id) {
            *pp = j->next;
            if (e->wait_tail == j)
                e->wait_tail = prev;
            e->n_waiting--;
            pending_done(e);
            emit_done(e, j, HR_FINISH_CANCELED, 0, NULL, NULL);
            job_free(j);
            return;
        }
        pp = &j->next;
    }
}

static bool any_busy(const struct hr_engine *e)
{
    for (uint32_t i = 0; i < e->p.n_parallel; i++)
        if (e->slots[i].busy)
            return true;
    return false;
}

static void *engine_main(void *arg)
{
    struct hr_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->stop && !e->inbox_head && !e->cancels && !e->wait_head && !any_busy(e))
            pthread_cond_wait(&e->cv, &e->mu);
        bool stop = e->stop;
        struct job *in = e->inbox_head;
        e->inbox_head = e->inbox_tail = NULL;
        struct cancel_req *cancels = e->cancels;
        e->cancels = NULL;
        pthread_mutex_unlock(&e->mu);

        while (in) {
            struct job *next = in->next;
            in->next = NULL;
            if (e->wait_tail)
                e->wait_tail->next = in;
            else
                e->wait_head = in;
            e->wait_tail = in;
            e->n_waiting++;
            in = next;
        }
        while (cancels) {
            struct cancel_req *next = cancels->next;
            handle_cancel(e, cancels->id);
            free(cancels);
            cancels = next;
        }
        if (stop)
            break;
        admit(e);
        step(e);
        publish_events(e);
    }
    /* Stopping: whatever runs or waits ends canceled; the host frees those events unseen. */
    for (uint32_t i = 0; i < e->p.n_parallel; i++)
        if (e->slots[i].busy) {
            emit_done(e, e->slots[i].job, HR_FINISH_CANCELED, 0, NULL, &e->slots[i]);
            slot_release(e, &e->slots[i]);
        }
    while (e->wait_head) {
        struct job *j = e->wait_head;
        e->wait_head = j->next;
        emit_done(e, j, HR_FINISH_CANCELED, 0, NULL, NULL);
        job_free(j);
    }
    e->wait_tail = NULL;
    publish_events(e);
    return NULL;
}

/* ---- public API ---- */

static void engine_destroy(struct hr_engine *e)
{
    if (e->slots) {
        for (uint32_t i = 0; i < e->p.n_parallel; i++) {
            if (e->kv)
                slot_release(e, &e->slots[i]);
            free(e->slots[i].tokens);
        }
        free(e->slots);
    }
    while (e->inbox_head) {
        struct job *j = e->inbox_head;
        e->inbox_head = j->next;
        job_free(j);
    }
    while (e->cancels) {
        struct cancel_req *c = e->cancels;
        e->cancels = c->next;
        free(c);
    }
    hr_grammar_vocab_free(e->gvocab);
    hr_runner_free(e->runner);
    hr_kv_free(e->kv);
    free(e->batch);
    free(e->row_slot);
    free(e->logits);
    hr_event_free_list(e->out_head);
    hr_event_free_list(e->pend_head);
    hr_pool_free(e->pool);
    hr_model_free(e->model);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

int hr_engine_new(struct hr_engine **out, struct hr_model *take_model,
                  const struct hr_engine_params *p, hr_engine_notify_fn notify, void *ud,
                  struct hr_diag *d)
{
    *out = NULL;
    struct hr_engine *e = calloc(1, sizeof *e);
    if (!e) {
        hr_model_free(take_model);
        return HR_ENOMEM;
    }
    e->model = take_model;
    e->p = *p;
    e->notify = notify;
    e->notify_ud = ud;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    int rc = HR_ENOMEM;
    if (e->p.n_parallel == 0 || e->p.n_parallel > 256 || e->p.n_threads > HR_MAX_THREADS) {
        hr_diag_set(d, "parallel must be in 1..256 and threads in 0..%d", HR_MAX_THREADS);
        rc = HR_EINVAL;
        goto fail;
    }
    uint32_t n_ctx = p->n_ctx ? p->n_ctx : take_model->n_ctx_train;
    if (!p->n_ctx && n_ctx > 4096)
        n_ctx = 4096;
    if (n_ctx < 8 || n_ctx > HR_MODEL_MAX_CTX) {
        hr_diag_set(d, "context size %u is outside 8..%u", n_ctx, HR_MODEL_MAX_CTX);
        rc = HR_EINVAL;
        goto fail;
    }
    e->n_ctx = n_ctx;
    rc = hr_pool_new(&e->pool, (int)(p->n_threads ? p->n_threads : 1));
    if (rc != 0)
        goto fail;
    rc = HR_ENOMEM;
    e->slots = calloc(e->p.n_parallel, sizeof *e->slots);
    if (!e->slots)
        goto fail;
    for (uint32_t i = 0; i < e->p.n_parallel; i++) {
        e->slots[i].tokens = malloc((size_t)n_ctx * sizeof *e->slots[i].tokens);
        if (!e->slots[i].tokens)
            goto fail;
    }
    e->batch = malloc((STEP_TOKENS + e->p.n_parallel) * sizeof *e->batch);
    e->row_slot = malloc(e->p.n_parallel * sizeof *e->row_slot);
    e->logits = malloc((size_t)e->p.n_parallel * take_model->n_vocab * sizeof *e->logits);
    if (!e->batch || !e->row_slot || !e->logits)
        goto fail;
    uint32_t blocks_per_seq = (n_ctx + HR_KV_BLOCK - 1) / HR_KV_BLOCK;
    rc = hr_runner_new(&e->runner, take_model, n_ctx);
    if (!rc) {
        enum hr_kv_type kt = (enum hr_kv_type)e->p.kv_type;
        rc = hr_kv_new(&e->kv, take_model, kt, blocks_per_seq * e->p.n_parallel,
                       e->p.n_parallel, n_ctx);
        if (rc == HR_EUNSUPPORTED) {
            hr_log(HR_LOG_WARN, "engine", "KV cache Q8_0 needs heads a multiple of 32 wide "
                                          "(this model's are %u): using F16",
                   take_model->head_dim);
            rc = hr_kv_new(&e->kv, take_model, HR_KV_F16, blocks_per_seq * e->p.n_parallel,
                           e->p.n_parallel, n_ctx);
        }
    }
    if (rc != 0) {
        hr_diag_set(d, "cannot allocate the KV cache for %u tokens x %u sequences", n_ctx,
                    e->p.n_parallel);
        goto fail;
    }
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        hr_diag_set(d, "cannot start the engine thread");
        rc = HR_EINTERNAL;
        goto fail;
    }
    e->thread_started = true;
    *out = e;
    return 0;
fail:
    engine_destroy(e);
    return rc;
}

void hr_engine_free(struct hr_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (e->thread_started)
        pthread_join(e->thread, NULL);
    engine_destroy(e);
}

const struct hr_model *hr_engine_model(const struct hr_engine *e)
{
    return e->model;
}

uint32_t hr_engine_n_ctx(const struct hr_engine *e)
{
    return e->n_ctx;
}

static struct job *job_new(const struct hr_gen_request *r)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->id = r->id;
    j->max_tokens = r->max_tokens;
    j->sampling = r->sampling;
    j->ignore_eos = r->ignore_eos;
    j->logprobs = r->logprobs;
    j->top_logprobs = r->top_logprobs;
    j->grammar = hr_grammar_ref(r->grammar);
    j->t_submit_ms = now_ms();
    if (r->sampling.n_logit_bias) {
        size_t nb = r->sampling.n_logit_bias * sizeof *j->bias;
        if (!(j->bias = malloc(nb))) {
            free(j);
            return NULL;
        }
        memcpy(j->bias, r->sampling.logit_bias, nb);
    }
    j->sampling.logit_bias = j->bias;
    if (hr_stop_init(&j->stop, r->stop, r->n_stop) != 0) {
        job_free(j);
        return NULL;
    }
    if (r->msgs) {
        size_t bytes = r->n_msgs * sizeof *j->msgs;
        for (size_t i = 0; i < r->n_msgs; i++)
            bytes += strlen(r->msgs[i].role) + strlen(r->msgs[i].content) + 2;
        j->msgs = malloc(bytes);
        if (!j->msgs) {
            job_free(j);
            return NULL;
        }
        char *p = (char *)(j->msgs + r->n_msgs);
        for (size_t i = 0; i < r->n_msgs; i++) {
            size_t lr = strlen(r->msgs[i].role) + 1;
            size_t lc = strlen(r->msgs[i].content) + 1;
            memcpy(p, r->msgs[i].role, lr);
            j->msgs[i].role = p;
            p += lr;
            memcpy(p, r->msgs[i].content, lc);
            j->msgs[i].content = p;
            p += lc;
        }
        j->n_msgs = r->n_msgs;
    } else if (r->tokens) {
        j->tokens = malloc(r->n_tokens * sizeof *j->tokens);
        if (!j->tokens) {
            job_free(j);
            return NULL;
        }
        memcpy(j->tokens, r->tokens, r->n_tokens * sizeof *j->tokens);
        j->n_tokens = r->n_tokens;
    } else {
        j->prompt = malloc(r->prompt_len + 1);
        if (!j->prompt) {
            job_free(j);
            return NULL;
        }
        memcpy(j->prompt, r->prompt, r->prompt_len);
        j->prompt[r->prompt_len] = '\0';
        j->prompt_len = r->prompt_len;
    }
    return j;
}

int hr_engine_submit(struct hr_engine *e, const struct hr_gen_request *r, struct hr_diag *d)
{
    if ((r->msgs != NULL) + (r->prompt != NULL) + (r->tokens != NULL) != 1) {
        hr_diag_set(d, "a request needs exactly one of a prompt, messages or tokens");
        return HR_EINVAL;
    }
    if (r->tokens) {
        if (r->n_tokens == 0 || r->n_tokens > e->n_ctx) {
            hr_diag_set(d, "tokens: expected 1..%u tokens", e->n_ctx);
            return HR_EINVAL;
        }
        for (size_t i = 0; i < r->n_tokens; i++) {
            if (r->tokens[i] < 0 || (uint32_t)r->tokens[i] >= e->model->n_vocab) {
                hr_diag_set(d, "tokens[%zu]: %d is outside the vocabulary", i, r->tokens[i]);
                return HR_EINVAL;
            }
        }
    }
    if (r->msgs && (r->n_msgs == 0 || r->n_msgs > HR_MAX_MESSAGES)) {
        hr_diag_set(d, "messages: expected 1..%d messages", HR_MAX_MESSAGES);
        return HR_EINVAL;
    }
    if (r->prompt && r->prompt_len > HR_MAX_PROMPT_BYTES) {
        hr_diag_set(d, "prompt: longer than %u bytes", HR_MAX_PROMPT_BYTES);
        return HR_EINVAL;
    }
    if (!hr_sampler_params_valid(&r->sampling, (int32_t)e->model->n_vocab)) {
        hr_diag_set(d, "sampling parameters out of range");
        return HR_EINVAL;
    }
    if (r->top_logprobs > HR_MAX_TOP_LOGPROBS) {
        hr_diag_set(d, "top_logprobs: at most %d", HR_MAX_TOP_LOGPROBS);
        return HR_EINVAL;
    }
    if (r->n_stop > HR_MAX_STOP) {
        hr_diag_set(d, "stop: at most %d strings", HR_MAX_STOP);
        return HR_EINVAL;
    }
    for (size_t i = 0; i < r->n_stop; i++) {
        size_t len = r->stop[i] ? strlen(r->stop[i]) : 0;
        if (len == 0 || len > HR_MAX_STOP_BYTES) {
            hr_diag_set(d, "stop[%zu]: expected 1..%d bytes", i, HR_MAX_STOP_BYTES);
            return HR_EINVAL;
        }
    }
    struct job *j = job_new(r);
    if (!j)
        return HR_ENOMEM;
    j->done = calloc(1, sizeof *j->done);
    if (!j->done) {
        job_free(j);
        return HR_ENOMEM;
    }
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    if (e->stop)
        rc = HR_ESHUTDOWN;
    else if (e->n_pending >= e->p.max_queue + e->p.n_parallel)
        rc = HR_EFULL;
    if (rc == 0) {
        if (e->inbox_tail)
            e->inbox_tail->next = j;
        else
            e->inbox_head = j;
        e->inbox_tail = j;
        e->n_pending++;
        pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc != 0)
        job_free(j);
    return rc;
}

void hr_engine_cancel(struct hr_engine *e, uint64_t req_id)
{
    struct cancel_req *c = malloc(sizeof *c);
    if (!c)
        return; /* the request then runs to its end; harmless */
    c->id = req_id;
    pthread_mutex_lock(&e->mu);
    c->next = e->cancels;
    e->cancels = c;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}
