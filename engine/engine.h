/* The engine's whole public surface. Callers (api/, daemon/, subcommands) include only this.
 *
 * Two ways in:
 *  - Direct: hr_model_load, hr_tok_*, hr_model_apply_chat, hr_ctx_eval, hr_sampler_* for one-shot
 *    use on the caller's thread (`hearth run`).
 *  - Served: hr_engine_new starts an engine thread that owns a model, takes requests from an
 *    inbox (submit, cancel), runs them (several sequences interleaved, one token each per
 *    step), and appends events (text, done) to an outbox; after appending it calls the notify
 *    callback once per batch of events, which the daemon turns into uv_async_send. The engine
 *    knows requests by id only. */
#ifndef HR_ENGINE_H
#define HR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/log.h"
#include "gguf/gguf.h"
#include "grammar/grammar.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "model/quantize.h"
#include "model/synth.h"
#include "sampler/sampler.h"
#include "template/chat.h"
#include "template/jinja.h"
#include "tokenizer/tok.h"

#define HEARTH_VERSION "0.1.0"

struct hr_engine_params {
    uint32_t n_threads;  /* compute threads for the forward pass */
    uint32_t n_ctx;      /* context per sequence (0: the model's training context, capped) */
    uint32_t n_parallel; /* sequences run at once; more wait in the queue */
    uint32_t max_queue;  /* waiting requests beyond which submit answers HR_EFULL */
    uint32_t kv_type;    /* enum hr_kv_type; 0 = F32 */
    /* Reuse the KV of earlier requests' identical prompt prefixes (whole 16-token blocks).
     * Results are bit-identical either way; only the prefill work differs. */
    bool prefix_cache;
    /* KV cache size in token positions shared by all sequences (0: n_parallel x n_ctx, so
     * nothing is ever preempted); at least n_ctx. Sequences take blocks as they grow; when
     * none is left the newest is preempted and recomputed later, with the same result. */
    uint32_t kv_tokens;
    uint32_t batch_tokens; /* tokens in one step's batch at most (0: 512); 16..65536 */
};

/* A generation request. Everything is copied by hr_engine_submit. Exactly one of prompt
 * (raw text, tokenized with BOS/EOS as the vocab says), msgs (rendered through the model's
 * chat template) or tokens (already rendered and tokenized, e.g. by hr_engine_prepare_chat
 * off the engine thread) is set. */
struct hr_gen_request {
    uint64_t id;
    const char *prompt;
    size_t prompt_len;
    const struct hr_chat_msg *msgs;
    size_t n_msgs;
    const int32_t *tokens;
    size_t n_tokens;
    uint32_t max_tokens; /* 0: until the context is full */
    struct hr_sampler_params sampling; /* logit_bias copied by submit */
    bool ignore_eos;
    /* Up to HR_MAX_STOP stop strings (copied): generation ends before the first one, which
     * is never shown; finish is HR_FINISH_STOP. */
    const char *const *stop;
    size_t n_stop;
    /* Log probabilities of each generated token under the model (log-softmax of the raw
     * logits, before bias, penalties and temperature), with the top_logprobs most likely
     * alternatives (0..HR_MAX_TOP_LOGPROBS). */
    bool logprobs;
    uint32_t top_logprobs;
    /* OpenAI's n: choices 1..n-1 are requests of their own, ids id+1..id+n-1, seeds
     * seed+1..; they wait until choice 0 has evaluated the prompt, then reuse its KV through
     * the prefix cache. 0 or 1: one. */
    uint32_t n_choices;
    /* 0, or the milliseconds after submit at which the request ends (queued or running) with
     * HR_FINISH_ERROR / HR_ETIMEDOUT; its KV is freed within one step. */
    uint32_t timeout_ms;
    /* NULL, or a compiled grammar the output must follow (submit takes a reference): tokens
     * it forbids are masked before sampling, and the request ends with HR_FINISH_STOP as
     * soon as the grammar is complete. */
    struct hr_grammar *grammar;
};

#define HR_MAX_TOP_LOGPROBS 20

struct hr_token_logprob {
    int32_t token;
    float logprob;
    uint32_t n_top; /* most likely first; ties by lower id */
    struct {
        int32_t token;
        float logprob;
    } top[HR_MAX_TOP_LOGPROBS];
};

enum hr_event_kind {
    HR_EV_TEXT, /* a piece of generated text (complete UTF-8) */
    HR_EV_DONE, /* the last event of a request */
};

enum hr_finish {
    HR_FINISH_STOP,     /* end-of-generation token or a stop string */
    HR_FINISH_LENGTH,   /* max_tokens or the context reached */
    HR_FINISH_CANCELED, /* hr_engine_cancel */
    HR_FINISH_ERROR,    /* err/err_msg say why; nothing was generated after it */
};

struct hr_event {
    struct hr_event *next;
    uint64_t req_id;
    enum hr_event_kind kind;
    /* HR_EV_TEXT */
    char *text; /* owned by the event, NUL-terminated */
    size_t n_text;
    /* with logprobs: the token this event comes from (owned; its text may be empty while
     * held back for UTF-8 or stop strings), else NULL */
    struct hr_token_logprob *logprob;
    /* HR_EV_DONE */
    enum hr_finish finish;
    int err;                  /* HR_E* when finish == HR_FINISH_ERROR */
    char err_msg[256];
    uint32_t n_prompt;        /* prompt tokens */
    uint32_t n_cached;        /* of which taken from the prefix cache */
    uint32_t n_preempted;     /* times its KV was given up for others and recomputed */
    uint32_t n_completion;    /* generated tokens */
    uint32_t queue_ms;        /* submit -> first engine step of this request */
    uint32_t first_token_ms;  /* submit -> first generated token */
};

/* Called on the engine thread after events were appended; must not block (uv_async_send). */
typedef void (*hr_engine_notify_fn)(void *ud);

struct hr_engine;

/* Starts the engine thread. Takes ownership of model (freed by hr_engine_free, also on
 * failure). Loop thread at start-up. */
int hr_engine_new(struct hr_engine **out, struct hr_model *take_model,
                  const struct hr_engine_params *p, hr_engine_notify_fn notify, void *ud,
                  struct hr_diag *d);
/* Stops the thread (running requests end with HR_FINISH_CANCELED events, which are freed
 * unseen) and frees everything. Loop thread at shutdown. */
void hr_engine_free(struct hr_engine *e);
const struct hr_model *hr_engine_model(const struct hr_engine *e);
uint32_t hr_engine_n_ctx(const struct hr_engine *e);
/* What the engine is doing, for monitoring, as of the end of its last step. */
struct hr_engine_stats {
    uint32_t n_queued;           /* submitted (or preempted) and waiting for a slot */
    uint32_t n_running;          /* sequences holding a slot */
    uint32_t n_slots;            /* n_parallel */
    uint32_t kv_blocks_total;    /* KV cache blocks of HR_KV_BLOCK (16) positions each */
    uint32_t kv_blocks_used;     /* held by running sequences */
    uint32_t kv_blocks_cached;   /* idle prefix-cache blocks: reusable, reclaimed when needed */
    uint64_t n_steps;            /* batched forward passes run */
    uint64_t n_tokens_evaluated; /* prompt and generated tokens those passes computed */
    uint64_t n_tokens_generated; /* tokens sampled */
};
/* Copies the latest snapshot. Any thread. */
void hr_engine_get_stats(struct hr_engine *e, struct hr_engine_stats *out);
/* Whether a submit now would answer HR_EFULL (max_queue requests are waiting). Any thread. */
bool hr_engine_queue_full(struct hr_engine *e);

/* Queues a request. HR_EFULL when max_queue requests are waiting, HR_EINVAL for bad
 * parameters (diag names the field), HR_ESHUTDOWN when stopping. Any thread. */
int hr_engine_submit(struct hr_engine *e, const struct hr_gen_request *r, struct hr_diag *d);
/* Asks the engine to stop a request; it answers with a HR_EV_DONE (canceled) event unless the
 * request had already finished. Any thread. */
void hr_engine_cancel(struct hr_engine *e, uint64_t req_id);
/* Takes every pending event, oldest first, as a list the caller frees with
 * hr_event_free_list. Any thread (the loop's async callback). */
struct hr_event *hr_engine_take_events(struct hr_engine *e);
void hr_event_free_list(struct hr_event *ev);

const char *hr_finish_name(enum hr_finish f); /* "stop", "length", "canceled", "error" */

/* Renders a conversation (template values: a list of message dicts, and a tools list or
 * NULL) through the model's chat template and tokenizes the result as the engine would, then
 * checks that the prompt plus max_tokens fits n_ctx: HR_ECONTEXT (with OpenAI's wording in
 * d) when it does not, HR_EINVAL when the template refuses the conversation. On success
 * *tokens (caller frees) holds *n_tokens ids; on failure *n_tokens still says how long the
 * prompt was when it was tokenized. Any thread but the event loop (it is model work): callers
 * run it on a worker pool so that a request too long for the context is refused before it
 * queues, and the engine thread never stalls on a long prompt. */
int hr_engine_prepare_chat(const struct hr_model *m, uint32_t n_ctx, struct hr_jval *messages,
                           struct hr_jval *tools, uint32_t max_tokens, int32_t **tokens,
                           size_t *n_tokens, struct hr_diag *d);

/* The same for a raw prompt (no chat template): text tokenized as the engine tokenizes a
 * prompt (BOS/EOS as the vocab says, special-token text taken literally). Any thread but the
 * event loop. */
int hr_engine_prepare_prompt(const struct hr_model *m, uint32_t n_ctx, const char *text,
                             size_t text_len, uint32_t max_tokens, int32_t **tokens,
                             size_t *n_tokens, struct hr_diag *d);
/* Whether a prompt of n_tokens plus max_tokens fits n_ctx: 0, or HR_ECONTEXT (HR_EINVAL for
 * an empty prompt) with OpenAI's wording in d. Any thread. */
int hr_engine_check_context(uint32_t n_ctx, size_t n_tokens, uint32_t max_tokens,
                            struct hr_diag *d);

#endif
