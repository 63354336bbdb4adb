/* Shared by the engine thread's files (engine.c: thread, inbox, events, public API;
 * sched_step.c: admission, preemption and the batched step; prompt.c: rendering and
 * tokenizing). Nothing outside engine/scheduler includes this. */
#ifndef HR_SCHED_INT_H
#define HR_SCHED_INT_H

#include <pthread.h>

#include "../engine.h"

#define HR_PREFILL_CHUNK 256 /* prompt tokens per sequence per step: a long prompt cannot stall
                                the others' decoding */

/* A request, from submit to its DONE event. Its generation state lives here, not in a slot,
 * so a preempted request keeps its tokens, sampler and stop/UTF-8 hold-back and resumes
 * exactly where it was once its KV is recomputed. */
struct job {
    struct job *next;
    uint64_t id;
    /* choices 1..n-1 of a request with n > 1, held by choice 0 until it has evaluated the
     * prompt (then its full blocks are in the prefix cache), then queued at the front */
    struct job *siblings;
    char *prompt; /* raw text, or NULL when msgs or tokens are set */
    size_t prompt_len;
    struct hr_chat_msg *msgs; /* role/content strings copied into one block after the array */
    size_t n_msgs;
    uint32_t max_tokens;
    struct hr_sampler_params sampling; /* logit_bias points at bias */
    struct hr_logit_bias *bias;
    bool ignore_eos;
    bool logprobs;
    uint32_t top_logprobs;
    double t_submit_ms;
    double deadline_ms; /* 0: none */
    struct hr_event *done; /* allocated at submit, so a request can always be ended */
    /* generation state */
    bool started;      /* tokens hold the whole prompt, the sampler is set up */
    bool admitted;     /* has had a slot once (counted out of the queue) */
    int32_t *tokens;   /* the prompt, then what was generated; n_ctx capacity once started */
    uint32_t n_tokens;
    uint32_t n_prompt;
    uint32_t n_generated;
    uint32_t n_cached; /* prompt tokens whose KV came from the prefix cache (first admission) */
    uint32_t limit;    /* n_prompt + allowed completion tokens */
    struct hr_sampler sampler;
    bool has_sampler;
    struct hr_detok detok;
    struct hr_stop stop;
    struct hr_grammar *grammar;       /* a reference, or NULL */
    struct hr_grammar_state *gstate;  /* where the output is in the grammar, or NULL */
    uint32_t queue_ms, first_token_ms, n_preempted;
    uint64_t admit_seq; /* when it last got a slot: the newest is preempted first */
};

struct cancel_req {
    struct cancel_req *next;
    uint64_t id;
};

/* Sequence slot i is KV sequence i. */
struct slot {
    bool busy;
    struct job *job;
    uint32_t n_past;   /* tokens of job already in the KV cache */
    uint32_t take;     /* tokens of job in the current step's batch */
};

struct hr_engine {
    struct hr_model *model;
    struct hr_engine_params p; /* kv_tokens and batch_tokens resolved */
    uint32_t n_ctx;
    struct hr_pool *pool;
    struct hr_kv *kv;
    struct hr_runner *runner;
    struct hr_batch_tok *batch; /* batch_tokens + n_parallel */
    uint32_t *row_slot;         /* slot of each logits row of a step */
    float *logits;              /* n_parallel x n_vocab */
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
    struct hr_engine_stats stats; /* n_queued is n_pending, filled when read */

    /* engine thread only */
    struct job *wait_head, *wait_tail; /* preempted requests go back to the front */
    uint32_t n_waiting;
    struct slot *slots;
    uint64_t n_admitted;
    uint64_t n_generated; /* tokens sampled, for the stats */
    struct hr_event *pend_head, *pend_tail; /* events of this step, published at its end */
    struct hr_grammar_vocab *gvocab; /* token trie, built by the first grammar request */
};

double hr_sched__now_ms(void);
void hr_sched__job_free(struct job *j);
/* engine.c: events of this step (published at its end). emit_text: nothing for n 0 unless
 * take_lp (moved in) is set. emit_done: the request's DONE with the job's counts. */
void hr_sched__emit_text(struct hr_engine *e, uint64_t id, const char *text, size_t n,
                         struct hr_token_logprob *take_lp);
void hr_sched__emit_done(struct hr_engine *e, struct job *j, enum hr_finish finish, int err,
                         const char *msg);
void hr_sched__pending_done(struct hr_engine *e);
/* Moves j's held choices to the front of the queue. */
void hr_sched__release_siblings(struct hr_engine *e, struct job *j);
/* sched_step.c */
void hr_sched__admit(struct hr_engine *e);
/* One batched step; returns the tokens it evaluated (0: none, or the pass failed). */
uint32_t hr_sched__step(struct hr_engine *e);
/* Frees the slot's KV and its job (after its DONE was emitted). */
void hr_sched__slot_release(struct hr_engine *e, struct slot *s);
/* prompt.c: the job's prompt as tokens (rendered and tokenized unless given), checked against
 * the context. 0 or an error with a message for the client. */
int hr_sched__job_tokens(const struct hr_model *m, uint32_t n_ctx, struct job *j, char *msg,
                         size_t msg_cap);

/* engine_grammar.c. Starts a sequence under grammar g: builds the model's token trie on
 * first use (*vocab, kept by the engine), a grammar state (*out, freed by the caller with
 * hr_grammar_state_free) and installs its mask in the sampler. On error msg says why, for
 * the client. Engine thread. */
int hr_sched__grammar_begin(struct hr_grammar_vocab **vocab, const struct hr_tok *tok,
                            struct hr_grammar *g, struct hr_sampler *sampler,
                            struct hr_grammar_state **out, char *msg, size_t msg_cap);
/* Advances the state by a sampled token; on error msg says why. Engine thread. */
int hr_sched__grammar_accept(struct hr_grammar_state *st, int32_t tok, char *msg,
                             size_t msg_cap);
/* The client's message for a mask failure. */
void hr_sched__grammar_mask_error(int err, char *msg, size_t msg_cap);

#endif
