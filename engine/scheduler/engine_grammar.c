/* The engine's side of grammar-constrained sampling: the model's token trie, built once on
 * the first request that needs it (on the engine thread, which alone uses it), a grammar
 * state per sequence whose mask the sampler applies, and the messages a client sees when
 * a grammar cannot go on. Engine thread. */
#include "sched_int.h"

#include <stdio.h>

static int mask_cb(void *ud, float *logits)
{
    return hr_grammar_apply_mask(ud, logits);
}

void hr_sched__grammar_mask_error(int err, char *msg, size_t msg_cap)
{
    if (err == HR_ERANGE)
        snprintf(msg, msg_cap, "grammar: too ambiguous or too large a state space (more than "
                               "%d parallel parses or the automaton's table caps)",
                 HR_GRAMMAR_MAX_STACKS);
    else
        snprintf(msg, msg_cap, "grammar: %s", hr_err_str(err));
}

int hr_sched__grammar_begin(struct hr_grammar_vocab **vocab, const struct hr_tok *tok,
                            struct hr_grammar *g, struct hr_sampler *sampler,
                            struct hr_grammar_state **out, char *msg, size_t msg_cap)
{
    *out = NULL;
    int rc = 0;
    if (!*vocab && (rc = hr_grammar_vocab_new(vocab, tok)) != 0) {
        snprintf(msg, msg_cap, "cannot build the vocabulary's token trie: %s", hr_err_str(rc));
        return rc;
    }
    rc = hr_grammar_state_new(out, g, *vocab);
    if (rc == 0)
        rc = hr_sampler_set_mask(sampler, mask_cb, *out);
    if (rc) {
        hr_sched__grammar_mask_error(rc, msg, msg_cap);
        hr_grammar_state_free(*out);
        *out = NULL;
    }
    return rc;
}

int hr_sched__grammar_accept(struct hr_grammar_state *st, int32_t tok, char *msg,
                             size_t msg_cap)
{
    int rc = hr_grammar_accept_token(st, tok);
    if (rc == HR_EINVAL)
        snprintf(msg, msg_cap, "grammar: no token of the vocabulary can continue the output");
    else if (rc)
        hr_sched__grammar_mask_error(rc, msg, msg_cap);
    return rc;
}
