/* Prompts as tokens: a raw prompt tokenized with BOS/EOS as the vocabulary says, or a
 * conversation rendered through the model's chat template (whose markup is special tokens),
 * then the context check in OpenAI's words. Used by the engine thread for requests that
 * arrive as text, and by callers on their own worker threads (hr_engine_prepare_chat) so
 * that the engine receives tokens. Any thread but the event loop. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched_int.h"

/* n prompt tokens plus max_tokens must fit the context. */
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

/* Tokenizes text into a new array (*ids, caller frees). The tokenizer needs at most
 * hr_tok_max_tokens(len) ids, so the whole prompt is tokenized even when it is far over the
 * context: the error can then say by how much. */
static int tokenize(const struct hr_model *m, const char *text, size_t text_len, bool chat,
                    int32_t **ids, size_t *n, char *msg, size_t msg_cap)
{
    *n = 0;
    size_t cap = hr_tok_max_tokens(text_len);
    *ids = malloc(cap * sizeof **ids);
    int rc = *ids ? hr_tok_encode(m->tok, text, text_len, !chat, chat, *ids, cap, n)
                  : HR_ENOMEM;
    if (rc) {
        free(*ids);
        *ids = NULL;
        snprintf(msg, msg_cap, "%s", hr_err_str(rc));
    }
    return rc;
}

/* Renders a conversation, then tokenizes it. */
static int render_tokenize(const struct hr_model *m, struct hr_jval *messages,
                           struct hr_jval *tools, int32_t **ids, size_t *n, char *msg,
                           size_t msg_cap)
{
    char *rendered = NULL;
    struct hr_diag d = {{0}};
    *ids = NULL;
    *n = 0;
    int err = messages ? hr_model_apply_chat(m, messages, tools, true, (int64_t)time(NULL),
                                             &rendered, &d)
                       : HR_ENOMEM;
    if (err) {
        snprintf(msg, msg_cap, "%s", d.msg[0] ? d.msg : hr_err_str(err));
        return err;
    }
    err = tokenize(m, rendered, strlen(rendered), true, ids, n, msg, msg_cap);
    free(rendered);
    return err;
}

int hr_engine_prepare_chat(const struct hr_model *m, uint32_t n_ctx, struct hr_jval *messages,
                           struct hr_jval *tools, uint32_t max_tokens, int32_t **tokens,
                           size_t *n_tokens, struct hr_diag *d)
{
    char msg[512] = "";
    int rc = render_tokenize(m, messages, tools, tokens, n_tokens, msg, sizeof msg);
    if (rc == 0)
        rc = check_context(n_ctx, *n_tokens, max_tokens, msg, sizeof msg);
    if (rc) {
        hr_diag_set(d, "%s", msg);
        free(*tokens);
        *tokens = NULL;
    }
    return rc;
}

int hr_engine_prepare_prompt(const struct hr_model *m, uint32_t n_ctx, const char *text,
                             size_t text_len, uint32_t max_tokens, int32_t **tokens,
                             size_t *n_tokens, struct hr_diag *d)
{
    char msg[512] = "";
    int rc = tokenize(m, text, text_len, false, tokens, n_tokens, msg, sizeof msg);
    if (rc == 0)
        rc = check_context(n_ctx, *n_tokens, max_tokens, msg, sizeof msg);
    if (rc) {
        hr_diag_set(d, "%s", msg);
        free(*tokens);
        *tokens = NULL;
    }
    return rc;
}

int hr_engine_check_context(uint32_t n_ctx, size_t n_tokens, uint32_t max_tokens,
                            struct hr_diag *d)
{
    char msg[512] = "";
    int rc = check_context(n_ctx, n_tokens, max_tokens, msg, sizeof msg);
    if (rc)
        hr_diag_set(d, "%s", msg);
    return rc;
}

int hr_sched__job_tokens(const struct hr_model *m, uint32_t n_ctx, struct job *j, char *msg,
                         size_t msg_cap)
{
    int32_t *ids = j->tokens;
    size_t n = j->n_tokens;
    int rc = 0;
    if (!ids && j->msgs) {
        struct hr_jval *msgs = hr_chat_messages(j->msgs, j->n_msgs);
        rc = render_tokenize(m, msgs, NULL, &ids, &n, msg, msg_cap);
        hr_jval_unref(msgs);
    } else if (!ids) {
        rc = tokenize(m, j->prompt, j->prompt_len, false, &ids, &n, msg, msg_cap);
    }
    if (rc == 0)
        rc = check_context(n_ctx, n, j->max_tokens, msg, msg_cap);
    /* room for what will be generated */
    int32_t *room = rc == 0 ? realloc(ids, (size_t)n_ctx * sizeof *ids) : NULL;
    if (rc == 0 && !room) {
        snprintf(msg, msg_cap, "out of memory");
        rc = HR_ENOMEM;
    }
    if (rc != 0) {
        if (ids != j->tokens)
            free(ids);
        return rc;
    }
    j->tokens = room;
    j->n_tokens = j->n_prompt = (uint32_t)n;
    return 0;
}
