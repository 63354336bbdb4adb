/* Scheduling on the engine thread. Requests are admitted in FIFO order while a slot and the
 * KV blocks for their prompt are free; each step evaluates ONE ragged batch holding the next
 * token of every decoding sequence plus prefill chunks of the others within batch_tokens.
 * KV blocks are taken as sequences grow; when a step needs a block and none is left (after
 * evicting cached prefixes), the most recently admitted sequence is preempted: its blocks go
 * back, and it returns to the front of the queue keeping its tokens and sampler. Re-admitted,
 * its KV is recomputed (through the prefix cache where it survived) and, the forward pass
 * being chunk- and batch-invariant, it continues with exactly the tokens it would have
 * produced; nothing is emitted twice. Engine thread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched_int.h"

static uint32_t seq_of(const struct hr_engine *e, const struct slot *s)
{
    return (uint32_t)(s - e->slots);
}

void hr_sched__slot_release(struct hr_engine *e, struct slot *s)
{
    hr_kv_seq_release(e->kv, seq_of(e, s));
    hr_sched__job_free(s->job);
    s->job = NULL;
    s->busy = false;
}

/* First admission: the prompt as tokens, the sampler fed with it. */
static int job_start(struct hr_engine *e, struct job *j, char *msg, size_t msg_cap)
{
    const struct hr_model *m = e->model;
    int rc = hr_sched__job_tokens(m, e->n_ctx, j, msg, msg_cap);
    if (rc != 0)
        return rc;
    j->limit = j->max_tokens ? j->n_prompt + j->max_tokens : e->n_ctx;
    hr_detok_init(&j->detok);
    if (j->sampling.repeat_last_n > e->n_ctx)
        j->sampling.repeat_last_n = e->n_ctx; /* "the whole context" */
    rc = hr_sampler_init(&j->sampler, &j->sampling, (int32_t)m->n_vocab);
    if (rc != 0) {
        snprintf(msg, msg_cap, "invalid sampling parameters");
        return rc;
    }
    j->has_sampler = true;
    for (uint32_t i = 0; i < j->n_prompt; i++)
        hr_sampler_accept(&j->sampler, j->tokens[i], false);
    if (j->grammar) {
        rc = hr_sched__grammar_begin(&e->gvocab, m->tok, j->grammar, &j->sampler, &j->gstate,
                                     msg, msg_cap);
        if (rc != 0)
            return rc;
    }
    j->started = true;
    return 0;
}

static struct job *pop_waiting(struct hr_engine *e)
{
    struct job *j = e->wait_head;
    e->wait_head = j->next;
    if (!e->wait_head)
        e->wait_tail = NULL;
    e->n_waiting--;
    j->next = NULL;
    return j;
}

static bool any_busy(const struct hr_engine *e)
{
    for (uint32_t i = 0; i < e->p.n_parallel; i++)
        if (e->slots[i].busy)
            return true;
    return false;
}

/* Gives j slot s if the KV cache can hold what j must evaluate now; false leaves both as
 * they were. */
static bool try_place(struct hr_engine *e, struct slot *s, struct job *j)
{
    uint32_t seq = seq_of(e, s);
    uint32_t cached = e->p.prefix_cache ? hr_kv_seq_attach_prefix(e->kv, seq, j->tokens,
                                                                  j->n_tokens)
                                        : 0;
    /* the whole prompt (or all tokens so far, after a preemption) and the next token */
    uint32_t want = j->n_tokens + 1 < j->limit ? j->n_tokens + 1 : j->limit;
    if (hr_kv_seq_reserve(e->kv, seq, want) != 0) {
        hr_kv_seq_release(e->kv, seq);
        return false;
    }
    if (!j->admitted)
        j->n_cached = cached;
    s->busy = true;
    s->job = j;
    s->n_past = cached;
    j->admit_seq = ++e->n_admitted;
    return true;
}

void hr_sched__admit(struct hr_engine *e)
{
    for (uint32_t i = 0; i < e->p.n_parallel && e->wait_head; i++) {
        struct slot *s = &e->slots[i];
        if (s->busy)
            continue;
        struct job *j = e->wait_head;
        if (!j->started) {
            char msg[512] = "";
            int rc = job_start(e, j, msg, sizeof msg);
            if (rc != 0) {
                pop_waiting(e);
                hr_sched__pending_done(e);
                hr_sched__emit_done(e, j, HR_FINISH_ERROR, rc, msg);
                hr_sched__job_free(j);
                i--; /* the slot is still free */
                continue;
            }
        }
        if (!try_place(e, s, j)) {
            if (any_busy(e))
                return; /* FIFO: it waits for running sequences to free blocks */
            /* cannot happen: the cache holds at least one full context */
            pop_waiting(e);
            if (!j->admitted)
                hr_sched__pending_done(e);
            hr_sched__emit_done(e, j, HR_FINISH_ERROR, HR_EFULL, "no KV cache space");
            hr_sched__job_free(j);
            continue;
        }
        pop_waiting(e);
        if (!j->admitted) {
            j->admitted = true;
            j->queue_ms = (uint32_t)(hr_sched__now_ms() - j->t_submit_ms);
            hr_sched__pending_done(e);
        }
    }
}

/* Back to the front of the queue with everything but its KV. */
static void preempt(struct hr_engine *e, struct slot *s)
{
    struct job *j = s->job;
    hr_kv_seq_release(e->kv, seq_of(e, s));
    s->job = NULL;
    s->busy = false;
    s->take = 0;
    j->n_preempted++;
    j->next = e->wait_head;
    e->wait_head = j;
    if (!e->wait_tail)
        e->wait_tail = j;
    e->n_waiting++;
    hr_log(HR_LOG_INFO, "engine", "request %llu preempted (KV cache full) after %u tokens",
           (unsigned long long)j->id, j->n_generated);
}

static struct slot *newest_busy(struct hr_engine *e)
{
    struct slot *best = NULL;
    for (uint32_t i = 0; i < e->p.n_parallel; i++) {
        struct slot *s = &e->slots[i];
        if (s->busy && (!best || s->job->admit_seq > best->job->admit_seq))
            best = s;
    }
    return best;
}

/* Plans each slot's tokens for this step (decode tokens first, then prefill chunks within
 * the budget), then reserves their KV oldest first, preempting the newest on shortage. */
static void plan(struct hr_engine *e)
{
    uint32_t budget = e->p.batch_tokens;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < e->p.n_parallel; i++) {
            struct slot *s = &e->slots[i];
            if (!s->busy)
                continue;
            uint32_t left = s->job->n_tokens - s->n_past;
            bool prefill = left > 1;
            if (prefill != (pass == 1))
                continue;
            uint32_t take = left;
            if (take > HR_PREFILL_CHUNK)
                take = HR_PREFILL_CHUNK;
            if (prefill && take > budget)
                take = budget;
            s->take = take;
            budget -= take < budget ? take : budget;
        }
    }
    for (;;) {
        struct slot *oldest = NULL;
        for (uint32_t i = 0; i < e->p.n_parallel; i++) {
            struct slot *s = &e->slots[i];
            if (s->busy && s->take && (!oldest || s->job->admit_seq < oldest->job->admit_seq))
                if (hr_kv_seq_reserve(e->kv, i, s->n_past + s->take) == HR_EFULL)
                    oldest = s;
        }
        if (!oldest)
            return;
        /* someone lacks a block: the newest sequence gives its own back */
        preempt(e, newest_busy(e));
    }
}

/* Generated text on its way out: through the stop strings, then to the client. */
static void emit_generated(struct hr_engine *e, struct job *j, const char *text, size_t n,
                           struct hr_token_logprob *take_lp)
{
    char out[HR_TOK_MAX_PIECE + 16 + HR_MAX_STOP_BYTES + 64];
    size_t k = hr_stop_push(&j->stop, text, n, out, sizeof out);
    hr_sched__emit_text(e, j->id, out, k, take_lp);
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
    struct job *j = s->job;
    char tail[64];
    size_t n = hr_detok_flush(&j->detok, tail, sizeof tail);
    emit_generated(e, j, tail, n, NULL);
    char held[HR_MAX_STOP_BYTES];
    if (j->stop.hit) {
        f = HR_FINISH_STOP;
    } else {
        n = hr_stop_flush(&j->stop, held, sizeof held);
        hr_sched__emit_text(e, j->id, held, n, NULL);
    }
    hr_sched__emit_done(e, j, f, 0, NULL);
    hr_sched__slot_release(e, s);
}

/* After a step: the sampling of one sequence whose logits the batch produced. */
static void sample_slot(struct hr_engine *e, struct slot *s, const float *logits)
{
    const struct hr_model *m = e->model;
    struct job *j = s->job;
    /* the prompt is evaluated and its full blocks registered: the other choices may come */
    hr_sched__release_siblings(e, j);
    int32_t tok = hr_sampler_sample(&j->sampler, logits);
    char msg[256];
    int rc = 0;
    if (tok < 0) {
        rc = j->sampler.mask_err;
        hr_sched__grammar_mask_error(rc, msg, sizeof msg);
    } else if (j->gstate && !hr_tok_is_eog(m->tok, tok)) {
        rc = hr_sched__grammar_accept(j->gstate, tok, msg, sizeof msg);
    }
    if (rc) {
        hr_sched__emit_done(e, j, HR_FINISH_ERROR, rc, msg);
        hr_sched__slot_release(e, s);
        return;
    }
    if (j->n_generated == 0)
        j->first_token_ms = (uint32_t)(hr_sched__now_ms() - j->t_submit_ms);
    /* under a grammar, end-of-generation is allowed only where the output is complete */
    if ((!j->ignore_eos || j->gstate) && hr_tok_is_eog(m->tok, tok)) {
        finish_slot(e, s, HR_FINISH_STOP);
        return;
    }
    hr_sampler_accept(&j->sampler, tok, true);
    j->n_generated++;
    e->n_generated++;
    j->tokens[j->n_tokens++] = tok;
    char buf[HR_TOK_MAX_PIECE + 16];
    size_t nb = hr_detok_push(&j->detok, m->tok, tok, buf, sizeof buf);
    struct hr_token_logprob *lp =
        j->logprobs ? token_logprob(logits, (int32_t)m->n_vocab, tok, j->top_logprobs) : NULL;
    emit_generated(e, j, buf, nb, lp);
    if (j->gstate && hr_grammar_is_complete(j->gstate))
        finish_slot(e, s, HR_FINISH_STOP);
    else if (j->stop.hit || j->n_tokens >= j->limit || j->n_tokens >= e->n_ctx)
        finish_slot(e, s, HR_FINISH_LENGTH);
}

uint32_t hr_sched__step(struct hr_engine *e)
{
    for (uint32_t i = 0; i < e->p.n_parallel; i++)
        e->slots[i].take = 0;
    plan(e);
    uint32_t n = 0, rows = 0;
    for (uint32_t i = 0; i < e->p.n_parallel; i++) {
        struct slot *s = &e->slots[i];
        if (!s->busy)
            continue;
        for (uint32_t k = 0; k < s->take; k++) {
            uint32_t pos = s->n_past + k;
            bool last = pos + 1 == s->job->n_tokens;
            e->batch[n++] = (struct hr_batch_tok){s->job->tokens[pos], i, pos, last};
            if (last)
                e->row_slot[rows++] = i;
        }
    }
    if (n == 0)
        return 0;
    int rc = hr_runner_eval(e->runner, e->kv, e->batch, n, e->logits, e->pool);
    for (uint32_t i = 0; i < e->p.n_parallel; i++) {
        struct slot *s = &e->slots[i];
        if (!s->busy || !s->take)
            continue;
        if (rc != 0) {
            hr_sched__emit_done(e, s->job, HR_FINISH_ERROR, rc, "the forward pass failed");
            hr_sched__slot_release(e, s);
            continue;
        }
        s->n_past += s->take;
        if (e->p.prefix_cache)
            hr_kv_seq_commit(e->kv, i, s->job->tokens, s->n_past);
    }
    for (uint32_t r = 0; rc == 0 && r < rows; r++) {
        struct slot *s = &e->slots[e->row_slot[r]];
        if (s->busy)
            sample_slot(e, s, e->logits + (size_t)r * e->model->n_vocab);
    }
    return rc == 0 ? n : 0;
}
