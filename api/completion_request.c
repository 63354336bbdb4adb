/* POST /v1/completions request bodies (OpenAI's legacy text completion): the prompt in its
 * four shapes (a string, strings, token ids, arrays of token ids), echo, the integer logprobs,
 * and the sampling fields read exactly as a chat completion reads them (chat_request.c).
 * Fields whose behaviour Hearth lacks (suffix, best_of other than n) are refused with a 400
 * naming them rather than ignored. Loop thread. */
#include "api.h"
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

/* OpenAI's legacy default when max_tokens is absent. */
#define LEGACY_MAX_TOKENS 16
/* The legacy API's cap on logprobs (alternatives per token). */
#define LEGACY_MAX_LOGPROBS 5

static int invalid(struct hr_api_error *e, const char *param, const char *what)
{
    hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", param, "Invalid '%s': %s",
                     param, what);
    return -1;
}

/* A token-id array (non-empty, ids 0..INT32_MAX) into p; param names it in errors. */
static int parse_ids(struct hr_api_prompt *p, json_t *arr, const char *param,
                     struct hr_api_error *e)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return invalid(e, param, "expected a non-empty array of token ids.");
    p->ids = malloc(n * sizeof *p->ids);
    if (!p->ids)
        return hr_api__oom(e);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        char ip[80];
        snprintf(ip, sizeof ip, "%s[%zu]", param, i);
        if (!json_is_integer(v))
            return hr_api__bad_type(e, ip, "an integer token id", v);
        json_int_t id = json_integer_value(v);
        if (id < 0 || id > INT32_MAX)
            return invalid(e, ip, "a token id is a non-negative integer.");
        p->ids[i] = (int32_t)id;
    }
    p->n_ids = n;
    return 0;
}

static int parse_prompt(struct hr_api_completion_req *r, json_t *v, struct hr_api_error *e)
{
    if (!v || json_is_null(v)) {
        hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter",
                         "prompt", "Missing required parameter: 'prompt'.");
        return -1;
    }
    const char *want = "one of a string, array of strings, array of integers or array of "
                       "arrays of integers";
    if (!json_is_string(v) && !json_is_array(v))
        return hr_api__bad_type(e, "prompt", want, v);
    size_t n = 1;
    json_t *first = json_is_array(v) ? json_array_get(v, 0) : v;
    if (json_is_array(v)) {
        if (json_array_size(v) == 0) {
            hr_api_error_set(e, 400, "invalid_request_error", "empty_array", "prompt",
                             "Invalid 'prompt': empty array. Expected an array with minimum "
                             "length 1, but got an empty array instead.");
            return -1;
        }
        /* an array of ids is one prompt; strings and id arrays are one prompt each */
        n = json_is_integer(first) ? 1 : json_array_size(v);
    }
    if (n * r->base.n > HR_MAX_CHOICES) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "prompt",
                         "Invalid 'prompt': %zu prompts with n = %u make %zu choices; at most "
                         "%d are allowed.", n, r->base.n, n * r->base.n, HR_MAX_CHOICES);
        return -1;
    }
    r->prompts = calloc(n, sizeof *r->prompts);
    if (!r->prompts)
        return hr_api__oom(e);
    r->n_prompts = n;
    if (json_is_string(v)) {
        r->prompts[0].text = json_string_value(v);
        r->prompts[0].len = json_string_length(v);
        return 0;
    }
    if (json_is_integer(first))
        return parse_ids(&r->prompts[0], v, "prompt", e);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(v, i);
        char param[48];
        snprintf(param, sizeof param, "prompt[%zu]", i);
        /* the array's elements share one shape, as OpenAI's schema says */
        if (json_is_string(first) && json_is_string(p)) {
            r->prompts[i].text = json_string_value(p);
            r->prompts[i].len = json_string_length(p);
        } else if (json_is_array(first) && json_is_array(p)) {
            if (parse_ids(&r->prompts[i], p, param, e) != 0)
                return -1;
        } else {
            return hr_api__bad_type(e, param,
                                    json_is_string(first) ? "a string" : "an array of integers",
                                    p);
        }
    }
    return 0;
}

/* logprobs (0..5 alternatives), echo, and the fields refused: suffix, best_of. */
static int parse_legacy(struct hr_api_completion_req *r, json_t *root, struct hr_api_error *e)
{
    json_int_t lp = 0;
    bool has_lp = false;
    if (hr_api__get_integer(root, "logprobs", 0, LEGACY_MAX_LOGPROBS, &lp, &has_lp, e) != 0)
        return -1;
    r->base.logprobs = has_lp;
    r->base.top_logprobs = (uint32_t)lp;
    if (hr_api__get_bool(root, "echo", &r->echo, e) != 0)
        return -1;
    if (r->echo && has_lp)
        return invalid(e, "echo",
                       "'echo' together with 'logprobs' asks for the prompt tokens' log "
                       "probabilities, which this server does not compute; send one or the "
                       "other.");
    json_t *suffix = json_object_get(root, "suffix");
    if (suffix && !json_is_null(suffix)) {
        if (!json_is_string(suffix))
            return hr_api__bad_type(e, "suffix", "a string", suffix);
        if (json_string_length(suffix))
            return hr_api__unsupported(e, "suffix", "(insertion, text after the completion)");
    }
    json_int_t best_of = 0;
    bool has_best = false;
    if (hr_api__get_integer(root, "best_of", 1, HR_MAX_CHOICES, &best_of, &has_best, e) != 0)
        return -1;
    if (has_best && best_of != 1 && best_of != (json_int_t)r->base.n)
        return hr_api__unsupported(e, "best_of",
                                   "other than 1 or n (ranking candidates server-side)");
    return 0;
}

int hr_api_completion_parse(const char *body, size_t n, struct hr_api_completion_req *r,
                            struct hr_api_error *e)
{
    memset(r, 0, sizeof *r);
    if (hr_api__parse_begin(body, n, true, &r->base, e) != 0)
        return -1;
    json_t *root = r->base.root;
    json_int_t nc = 1;
    if (hr_api__get_integer(root, "n", 1, HR_MAX_CHOICES, &nc, NULL, e) != 0)
        return -1;
    r->base.n = (uint32_t)nc;
    if (parse_prompt(r, json_object_get(root, "prompt"), e) != 0 ||
        hr_api__parse_sampling(&r->base, root, e) != 0 || parse_legacy(r, root, e) != 0 ||
        hr_api_chat_parse_format(&r->base, root, e) != 0)
        return -1;
    if (!r->base.max_tokens)
        r->base.max_tokens = LEGACY_MAX_TOKENS;
    return 0;
}

int hr_api_completion_check_vocab(const struct hr_api_completion_req *r, int32_t n_vocab,
                                  struct hr_api_error *e)
{
    for (size_t i = 0; i < r->n_prompts; i++) {
        const struct hr_api_prompt *p = &r->prompts[i];
        for (size_t k = 0; k < p->n_ids; k++) {
            if (p->ids[k] >= n_vocab) {
                char param[80];
                snprintf(param, sizeof param, r->n_prompts > 1 ? "prompt[%zu]" : "prompt", i);
                hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", param,
                                 "Invalid '%s': token %d is outside the model's vocabulary of "
                                 "%d tokens.", param, p->ids[k], n_vocab);
                return -1;
            }
        }
    }
    return hr_api_chat_check_vocab(&r->base, n_vocab, e);
}

void hr_api_completion_req_deinit(struct hr_api_completion_req *r)
{
    for (size_t i = 0; r->prompts && i < r->n_prompts; i++)
        free(r->prompts[i].ids);
    free(r->prompts);
    hr_api_chat_req_deinit(&r->base);
    memset(r, 0, sizeof *r);
}
