/* The engine thread: owns one model, a paged KV cache shared by n_parallel sequence slots and
 * a batch runner; takes requests from the inbox, admits and steps them (sched_step.c), and
 * appends their events to the outbox, published once per step. Tokenizing and chat rendering
 * of text requests happen on this thread too (prompt.c), so the event loop never does model
 * work. Results do not depend on the batch (see hr_runner_eval).
 * Thread: hr_engine_submit/cancel/take_events from any thread; everything else engine thread. */
#include "sched_int.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double hr_sched__now_ms(void)
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

void hr_sched__job_free(struct job *j)
{
    if (!j)
        return;
    while (j->siblings) {
        struct job *sib = j->siblings;
        j->siblings = sib->next;
        hr_sched__job_free(sib);
    }
    if (j->has_sampler)
        hr_sampler_deinit(&j->sampler);
    hr_grammar_state_free(j->gstate);
    hr_grammar_unref(j->grammar);
    free(j->prompt);
    free(j->msgs);
    free(j->tokens);
    free(j->bias);
    hr_stop_deinit(&j->stop);
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

void hr_sched__emit_text(struct hr_engine *e, uint64_t id, const char *text, size_t n,
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

/* Ends a request with the DONE event allocated at submit time. */
void hr_sched__emit_done(struct hr_engine *e, struct job *j, enum hr_finish finish, int err,
                         const char *msg)
{
    hr_sched__release_siblings(e, j); /* they end on their own */
    struct hr_event *ev = j->done;
    j->done = NULL;
    ev->req_id = j->id;
    ev->kind = HR_EV_DONE;
    ev->finish = finish;
    ev->err = err;
    if (msg)
        snprintf(ev->err_msg, sizeof ev->err_msg, "%s", msg);
    ev->n_prompt = j->n_prompt;
    ev->n_cached = j->n_cached;
    ev->n_completion = j->n_generated;
    ev->n_preempted = j->n_preempted;
    ev->queue_ms = j->queue_ms;
    ev->first_token_ms = j->first_token_ms;
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

void hr_sched__pending_done(struct hr_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->n_pending--;
    pthread_mutex_unlock(&e->mu);
}

void hr_sched__release_siblings(struct hr_engine *e, struct job *j)
{
    struct job *last = j->siblings;
    if (!last)
        return;
    uint32_t n = 1;
    while (last->next) {
        last = last->next;
        n++;
    }
    last->next = e->wait_head;
    e->wait_head = j->siblings;
    if (!e->wait_tail)
        e->wait_tail = last;
    e->n_waiting += n;
    j->siblings = NULL;
}

/* A held choice (not yet queued) with this id: unlinked and returned, or NULL. */
static struct job *take_held(struct hr_engine *e, uint64_t id)
{
    for (uint32_t i = 0; i <= e->p.n_parallel; i++) {
        for (struct job *owner = i < e->p.n_parallel ? e->slots[i].job : e->wait_head; owner;
             owner = i < e->p.n_parallel ? NULL : owner->next) {
            for (struct job **pp = &owner->siblings; *pp; pp = &(*pp)->next) {
                if ((*pp)->id == id) {
                    struct job *j = *pp;
                    *pp = j->next;
                    j->next = NULL;
                    return j;
                }
            }
        }
    }
    return NULL;
}

/* Unlinks waiting job j (prev before it, or NULL). */
static void unlink_waiting(struct hr_engine *e, struct job *j, struct job *prev)
{
    if (prev)
        prev->next = j->next;
    else
        e->wait_head = j->next;
    if (e->wait_tail == j)
        e->wait_tail = prev;
    e->n_waiting--;
    if (!j->admitted)
        hr_sched__pending_done(e);
}

static void handle_cancel(struct hr_engine *e, uint64_t id)
{
    for (uint32_t i = 0; i < e->p.n_parallel; i++) {
        struct slot *s = &e->slots[i];
        if (s->busy && s->job->id == id) {
            hr_sched__emit_done(e, s->job, HR_FINISH_CANCELED, 0, NULL);
            hr_sched__slot_release(e, s);
            return;
        }
    }
    for (struct job *j = e->wait_head, *prev = NULL; j; prev = j, j = j->next) {
        if (j->id == id) {
            unlink_waiting(e, j, prev);
            hr_sched__emit_done(e, j, HR_FINISH_CANCELED, 0, NULL);
            hr_sched__job_free(j);
            return;
        }
    }
    struct job *held = take_held(e, id);
    if (held) {
        hr_sched__pending_done(e);
        hr_sched__emit_done(e, held, HR_FINISH_CANCELED, 0, NULL);
        hr_sched__job_free(held);
    }
}

/* Ends every request past its deadline, running or waiting (checked once per step). */
static void expire(struct hr_engine *e)
{
    double now = hr_sched__now_ms();
    char msg[160];
    for (uint32_t i = 0; i < e->p.n_parallel; i++) {
        struct slot *s = &e->slots[i];
        if (!s->busy || !s->job->deadline_ms || now < s->job->deadline_ms)
            continue;
        snprintf(msg, sizeof msg, "The request took longer than the server's limit of %.0f ms "
                 "(%u tokens generated).", s->job->deadline_ms - s->job->t_submit_ms,
                 s->job->n_generated);
        hr_sched__emit_done(e, s->job, HR_FINISH_ERROR, HR_ETIMEDOUT, msg);
        hr_sched__slot_release(e, s);
    }
    struct job *prev = NULL;
    for (struct job *j = e->wait_head, *next; j; j = next) {
        next = j->next;
        if (!j->deadline_ms || now < j->deadline_ms) {
            prev = j;
            continue;
        }
        unlink_waiting(e, j, prev);
        snprintf(msg, sizeof msg, "The request waited longer than the server's limit of %.0f "
                 "ms in the queue.", j->deadline_ms - j->t_submit_ms);
        hr_sched__emit_done(e, j, HR_FINISH_ERROR, HR_ETIMEDOUT, msg);
        hr_sched__job_free(j);
    }
}

static bool any_busy(const struct hr_engine *e)
{
    for (uint32_t i = 0; i < e->p.n_parallel; i++)
        if (e->slots[i].busy)
            return true;
    return false;
}

/* The monitoring snapshot after a step. Engine thread. */
static void update_stats(struct hr_engine *e, uint32_t n_evaluated)
{
    uint32_t running = 0;
    for (uint32_t i = 0; i < e->p.n_parallel; i++)
        running += e->slots[i].busy;
    uint32_t total = hr_kv_total_blocks(e->kv), free_or_cached = hr_kv_free_blocks(e->kv);
    pthread_mutex_lock(&e->mu);
    e->stats.n_running = running;
    e->stats.n_slots = e->p.n_parallel;
    e->stats.kv_blocks_total = total;
    e->stats.kv_blocks_used = total - free_or_cached;
    e->stats.kv_blocks_cached = hr_kv_cached_blocks(e->kv);
    e->stats.n_tokens_generated = e->n_generated;
    if (n_evaluated) {
        e->stats.n_steps++;
        e->stats.n_tokens_evaluated += n_evaluated;
    }
    pthread_mutex_unlock(&e->mu);
}

static void *engine_main(void *arg)
{
    struct hr_engine *e = arg;
    update_stats(e, 0);
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
        expire(e);
        hr_sched__admit(e);
        uint32_t n_evaluated = hr_sched__step(e);
        update_stats(e, n_evaluated);
        publish_events(e);
    }
    /* Stopping: whatever runs or waits ends canceled; the host frees those events unseen. */
    for (uint32_t i = 0; i < e->p.n_parallel; i++)
        if (e->slots[i].busy) {
            hr_sched__emit_done(e, e->slots[i].job, HR_FINISH_CANCELED, 0, NULL);
            hr_sched__slot_release(e, &e->slots[i]);
        }
    while (e->wait_head) {
        struct job *j = e->wait_head;
        e->wait_head = j->next;
        hr_sched__emit_done(e, j, HR_FINISH_CANCELED, 0, NULL);
        hr_sched__job_free(j);
    }
    e->wait_tail = NULL;
    publish_events(e);
    return NULL;
}

/* ---- public API ---- */

static void engine_destroy(struct hr_engine *e)
{
    if (e->slots) {
        for (uint32_t i = 0; i < e->p.n_parallel; i++)
            if (e->kv && e->slots[i].busy)
                hr_sched__slot_release(e, &e->slots[i]);
        free(e->slots);
    }
    while (e->inbox_head) {
        struct job *j = e->inbox_head;
        e->inbox_head = j->next;
        hr_sched__job_free(j);
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
    if (!e->p.kv_tokens)
        e->p.kv_tokens = n_ctx * e->p.n_parallel;
    if (!e->p.batch_tokens)
        e->p.batch_tokens = 512;
    if (e->p.kv_tokens < n_ctx || e->p.kv_tokens > HR_MODEL_MAX_CTX * 64u) {
        hr_diag_set(d, "kv_tokens %u: must hold at least one full context (%u tokens)",
                    e->p.kv_tokens, n_ctx);
        rc = HR_EINVAL;
        goto fail;
    }
    if (e->p.batch_tokens < 16 || e->p.batch_tokens > 65536) {
        hr_diag_set(d, "batch_tokens %u is outside 16..65536", e->p.batch_tokens);
        rc = HR_EINVAL;
        goto fail;
    }
    rc = hr_pool_new(&e->pool, (int)(p->n_threads ? p->n_threads : 1));
    if (rc != 0)
        goto fail;
    rc = HR_ENOMEM;
    e->slots = calloc(e->p.n_parallel, sizeof *e->slots);
    if (!e->slots)
        goto fail;
    e->batch = malloc((e->p.batch_tokens + e->p.n_parallel) * sizeof *e->batch);
    e->row_slot = malloc(e->p.n_parallel * sizeof *e->row_slot);
    e->logits = malloc((size_t)e->p.n_parallel * take_model->n_vocab * sizeof *e->logits);
    if (!e->batch || !e->row_slot || !e->logits)
        goto fail;
    uint32_t n_blocks = (e->p.kv_tokens + HR_KV_BLOCK - 1) / HR_KV_BLOCK;
    rc = hr_runner_new(&e->runner, take_model, n_ctx);
    if (!rc) {
        enum hr_kv_type kt = (enum hr_kv_type)e->p.kv_type;
        rc = hr_kv_new(&e->kv, take_model, kt, n_blocks, e->p.n_parallel, n_ctx);
        if (rc == HR_EUNSUPPORTED) {
            hr_log(HR_LOG_WARN, "engine", "KV cache Q8_0 needs heads a multiple of 32 wide "
                                          "(this model's are %u): using F16",
                   take_model->head_dim);
            rc = hr_kv_new(&e->kv, take_model, HR_KV_F16, n_blocks, e->p.n_parallel, n_ctx);
        }
    }
    if (rc != 0) {
        hr_diag_set(d, "cannot allocate the KV cache for %u tokens (%u sequences of up to %u)",
                    e->p.kv_tokens, e->p.n_parallel, n_ctx);
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
    j->t_submit_ms = hr_sched__now_ms();
    j->deadline_ms = r->timeout_ms ? j->t_submit_ms + r->timeout_ms : 0;
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
        hr_sched__job_free(j);
        return NULL;
    }
    if (r->msgs) {
        size_t bytes = r->n_msgs * sizeof *j->msgs;
        for (size_t i = 0; i < r->n_msgs; i++)
            bytes += strlen(r->msgs[i].role) + strlen(r->msgs[i].content) + 2;
        j->msgs = malloc(bytes);
        if (!j->msgs) {
            hr_sched__job_free(j);
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
            hr_sched__job_free(j);
            return NULL;
        }
        memcpy(j->tokens, r->tokens, r->n_tokens * sizeof *j->tokens);
        j->n_tokens = r->n_tokens;
    } else {
        j->prompt = malloc(r->prompt_len + 1);
        if (!j->prompt) {
            hr_sched__job_free(j);
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
    if (r->n_choices > HR_MAX_CHOICES) {
        hr_diag_set(d, "n: at most %d choices", HR_MAX_CHOICES);
        return HR_EINVAL;
    }
    uint32_t n_choices = r->n_choices ? r->n_choices : 1;
    struct job *j = NULL;
    struct job **tail = NULL;
    for (uint32_t k = 0; k < n_choices; k++) {
        struct job *c = job_new(r);
        if (c) {
            c->id = r->id + k;
            c->sampling.seed = r->sampling.seed + k;
            c->done = calloc(1, sizeof *c->done);
        }
        if (!c || !c->done) {
            hr_sched__job_free(c);
            hr_sched__job_free(j);
            return HR_ENOMEM;
        }
        if (!j) {
            j = c;
            tail = &j->siblings;
        } else {
            *tail = c;
            tail = &c->next;
        }
    }
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    if (e->stop)
        rc = HR_ESHUTDOWN;
    else if (e->n_pending + n_choices > e->p.max_queue + e->p.n_parallel)
        rc = HR_EFULL;
    if (rc == 0) {
        if (e->inbox_tail)
            e->inbox_tail->next = j;
        else
            e->inbox_head = j;
        e->inbox_tail = j;
        e->n_pending += n_choices;
        pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    if (rc != 0)
        hr_sched__job_free(j);
    return rc;
}

void hr_engine_get_stats(struct hr_engine *e, struct hr_engine_stats *out)
{
    pthread_mutex_lock(&e->mu);
    *out = e->stats;
    out->n_queued = e->n_pending;
    pthread_mutex_unlock(&e->mu);
}

bool hr_engine_queue_full(struct hr_engine *e)
{
    pthread_mutex_lock(&e->mu);
    bool full = e->n_pending + 1 > e->p.max_queue + e->p.n_parallel;
    pthread_mutex_unlock(&e->mu);
    return full;
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
