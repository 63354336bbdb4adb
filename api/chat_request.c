/* POST /v1/chat/completions request bodies: parse, type- and range-check every field we read
 * (a 400 naming the param, worded as OpenAI words it), ignore unknown fields, and refuse the
 * fields whose behaviour is not built yet rather than silently ignoring them. Loop thread. */
#include "api.h"
#include "api_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* A seed for a request that names none: fresh randomness, so two such requests differ. */
static uint64_t random_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
        s = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)clock();
    return s;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a decimal";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int hr_api__bad_type(struct hr_api_error *e, const char *param, const char *want, const json_t *v)
{
    hr_api_error_set(e, 400, "invalid_request_error", "invalid_type", param,
                     "Invalid type for '%s': expected %s, but got %s instead.", param, want,
                     json_kind(v));
    return -1;
}

json_t *hr_api__load_object(const char *body, size_t n, struct hr_api_error *e)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        hr_api_error_set(e, 400, "invalid_request_error", NULL, NULL,
                         "We could not parse the JSON body of your request: line %d column %d: "
                         "%s.", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        hr_api_error_set(e, 400, "invalid_request_error", NULL, NULL,
                         "The request body must be a JSON object, but got %s.",
                         json_kind(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

int hr_api__oom(struct hr_api_error *e)
{
    hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    return -1;
}

int hr_api__missing(struct hr_api_error *e, const char *param)
{
    hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter", param,
                     "Missing required parameter: '%s'.", param);
    return -1;
}

int hr_api__get_user(json_t *root, const char **out, struct hr_api_error *e)
{
    json_t *user = json_object_get(root, "user");
    if (user && !json_is_null(user)) {
        if (!json_is_string(user))
            return hr_api__bad_type(e, "user", "a string", user);
        *out = json_string_value(user);
    }
    return 0;
}

int hr_api__unsupported(struct hr_api_error *e, const char *param, const char *what)
{
    hr_api_error_set(e, 400, "invalid_request_error", "unsupported_parameter", param,
                     "Unsupported parameter: '%s' %s is not supported by this server yet.",
                     param, what);
    return -1;
}

/* A number field in [lo, hi]; absent or null leaves *out unchanged. */
int hr_api__get_number(json_t *root, const char *key, double lo, double hi, double *out,
                      struct hr_api_error *e)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return hr_api__bad_type(e, key, "a decimal", v);
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo) {
        hr_api_error_set(e, 400, "invalid_request_error", "decimal_below_min_value", key,
                         "Invalid '%s': decimal below minimum value. Expected a value >= %g, "
                         "but got %g instead.", key, lo, x);
        return -1;
    }
    if (x > hi) {
        hr_api_error_set(e, 400, "invalid_request_error", "decimal_above_max_value", key,
                         "Invalid '%s': decimal above maximum value. Expected a value <= %g, "
                         "but got %g instead.", key, hi, x);
        return -1;
    }
    *out = x;
    return 0;
}

/* An integer field in [lo, hi]; absent or null leaves *out unchanged and *present false. */
int hr_api__get_integer(json_t *root, const char *key, json_int_t lo, json_int_t hi,
                        json_int_t *out, bool *present, struct hr_api_error *e)
{
    json_t *v = json_object_get(root, key);
    if (present)
        *present = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return hr_api__bad_type(e, key, "an integer", v);
    json_int_t x = json_integer_value(v);
    if (x < lo) {
        hr_api_error_set(e, 400, "invalid_request_error", "integer_below_min_value", key,
                         "Invalid '%s': integer below minimum value. Expected a value >= %lld, "
                         "but got %lld instead.", key, (long long)lo, (long long)x);
        return -1;
    }
    if (x > hi) {
        hr_api_error_set(e, 400, "invalid_request_error", "integer_above_max_value", key,
                         "Invalid '%s': integer above maximum value. Expected a value <= %lld, "
                         "but got %lld instead.", key, (long long)hi, (long long)x);
        return -1;
    }
    *out = x;
    if (present)
        *present = true;
    return 0;
}

int hr_api__get_bool(json_t *root, const char *key, bool *out, struct hr_api_error *e)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return hr_api__bad_type(e, key, "a boolean", v);
    *out = json_is_true(v);
    return 0;
}

static bool role_known(const char *role)
{
    static const char *roles[] = {"system", "developer", "user", "assistant", "tool"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(role, roles[i]) == 0)
            return true;
    return false;
}

/* content as a string, null (assistant only) or an array of {"type":"text","text":...}. */
static int parse_content(struct hr_api_chat_req *r, size_t i, json_t *content, const char *role,
                         struct hr_api_error *e)
{
    char param[64];
    snprintf(param, sizeof param, "messages[%zu].content", i);
    if (json_is_string(content)) {
        r->msgs[i].content = json_string_value(content);
        return 0;
    }
    if (!content || json_is_null(content)) {
        if (strcmp(role, "assistant") != 0) {
            hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter",
                             param, "Missing required parameter: '%s'.", param);
            return -1;
        }
        r->msgs[i].content = "";
        return 0;
    }
    if (!json_is_array(content))
        return hr_api__bad_type(e, param, "one of a string or array of objects", content);
    size_t total = 0;
    size_t n_parts = json_array_size(content);
    for (size_t k = 0; k < n_parts; k++) {
        json_t *part = json_array_get(content, k);
        char pparam[96];
        snprintf(pparam, sizeof pparam, "%s[%zu]", param, k);
        if (!json_is_object(part))
            return hr_api__bad_type(e, pparam, "an object", part);
        json_t *type = json_object_get(part, "type");
        json_t *text = json_object_get(part, "text");
        if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0) {
            char tparam[112];
            snprintf(tparam, sizeof tparam, "%s.type", pparam);
            return hr_api__unsupported(e, tparam, "(only text content parts)");
        }
        if (!json_is_string(text)) {
            char tparam[112];
            snprintf(tparam, sizeof tparam, "%s.text", pparam);
            return hr_api__bad_type(e, tparam, "a string", text ? text : json_null());
        }
        total += json_string_length(text);
    }
    char *joined = malloc(total + 1);
    if (!joined) {
        hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        return -1;
    }
    size_t o = 0;
    for (size_t k = 0; k < n_parts; k++) {
        json_t *text = json_object_get(json_array_get(content, k), "text");
        size_t len = json_string_length(text);
        memcpy(joined + o, json_string_value(text), len);
        o += len;
    }
    joined[o] = '\0';
    r->joined[i] = joined;
    r->msgs[i].content = joined;
    return 0;
}

int hr_api__parse_messages(struct hr_api_chat_req *r, json_t *msgs, struct hr_api_error *e)
{
    if (!msgs) {
        hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter",
                         "messages", "Missing required parameter: 'messages'.");
        return -1;
    }
    if (!json_is_array(msgs))
        return hr_api__bad_type(e, "messages", "an array", msgs);
    size_t n = json_array_size(msgs);
    if (n == 0) {
        hr_api_error_set(e, 400, "invalid_request_error", "empty_array", "messages",
                         "Invalid 'messages': empty array. Expected an array with minimum "
                         "length 1, but got an empty array instead.");
        return -1;
    }
    if (n > HR_MAX_MESSAGES) {
        hr_api_error_set(e, 400, "invalid_request_error", "array_above_max_length", "messages",
                         "Invalid 'messages': array too long. Expected an array with maximum "
                         "length %d, but got an array with length %zu instead.",
                         HR_MAX_MESSAGES, n);
        return -1;
    }
    r->msgs = calloc(n, sizeof *r->msgs);
    r->joined = calloc(n, sizeof *r->joined);
    if (!r->msgs || !r->joined) {
        hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        return -1;
    }
    r->n_msgs = n;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", i);
        if (!json_is_object(m))
            return hr_api__bad_type(e, param, "an object", m);
        json_t *role = json_object_get(m, "role");
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (!role) {
            hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter",
                             param, "Missing required parameter: '%s'.", param);
            return -1;
        }
        if (!json_is_string(role))
            return hr_api__bad_type(e, param, "a string", role);
        const char *rs = json_string_value(role);
        if (!role_known(rs)) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", param,
                             "Invalid value: '%.64s'. Supported values are: 'system', "
                             "'developer', 'user', 'assistant' and 'tool'.", rs);
            return -1;
        }
        /* Chat templates know "system"; OpenAI's newer "developer" role means the same. */
        r->msgs[i].role = strcmp(rs, "developer") == 0 ? "system" : rs;
        if (hr_api__parse_message_tools(m, i, rs, e) != 0 ||
            parse_content(r, i, json_object_get(m, "content"), rs, e) != 0)
            return -1;
    }
    return 0;
}

/* stop: a string or an array of up to HR_MAX_STOP non-empty strings. */
static int parse_stop(struct hr_api_chat_req *r, json_t *stop, struct hr_api_error *e)
{
    if (!stop || json_is_null(stop))
        return 0;
    if (!json_is_string(stop) && !json_is_array(stop))
        return hr_api__bad_type(e, "stop", "one of a string or array of strings", stop);
    size_t n = json_is_string(stop) ? 1 : json_array_size(stop);
    if (n > HR_MAX_STOP) {
        hr_api_error_set(e, 400, "invalid_request_error", "array_above_max_length", "stop",
                         "Invalid 'stop': array too long. Expected an array with maximum "
                         "length %d, but got an array with length %zu instead.", HR_MAX_STOP,
                         n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_string(stop) ? stop : json_array_get(stop, i);
        char param[32];
        snprintf(param, sizeof param, json_is_string(stop) ? "stop" : "stop[%zu]", i);
        if (!json_is_string(v))
            return hr_api__bad_type(e, param, "a string", v);
        size_t len = json_string_length(v);
        if (len == 0 || len > HR_MAX_STOP_BYTES || strlen(json_string_value(v)) != len) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", param,
                             "Invalid '%s': expected a string of 1 to %d bytes without NUL.",
                             param, HR_MAX_STOP_BYTES);
            return -1;
        }
        r->stop[r->n_stop++] = json_string_value(v);
    }
    return 0;
}

/* logit_bias: {"token id": bias in [-100, 100]}. */
static int parse_logit_bias(struct hr_api_chat_req *r, json_t *lb, struct hr_api_error *e)
{
    if (!lb || json_is_null(lb))
        return 0;
    if (!json_is_object(lb))
        return hr_api__bad_type(e, "logit_bias", "an object", lb);
    size_t n = json_object_size(lb);
    if (n > HR_MAX_LOGIT_BIAS) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "logit_bias",
                         "Invalid 'logit_bias': at most %d tokens may be biased, got %zu.",
                         HR_MAX_LOGIT_BIAS, n);
        return -1;
    }
    if (n && !(r->bias = calloc(n, sizeof *r->bias))) {
        hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(lb, key, v) {
        char *end = NULL;
        long long id = strtoll(key, &end, 10);
        if (!*key || *end || id < 0 || id > INT32_MAX || (key[0] == '0' && key[1])) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "logit_bias",
                             "Invalid key in 'logit_bias': '%.32s' is not a token id.", key);
            return -1;
        }
        if (!json_is_number(v))
            return hr_api__bad_type(e, "logit_bias", "a number for each token", v);
        double b = json_number_value(v);
        if (!(b >= -100 && b <= 100)) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "logit_bias",
                             "Invalid value for token %lld in 'logit_bias': expected a number "
                             "from -100 to 100, got %g.", id, b);
            return -1;
        }
        r->bias[r->sampling.n_logit_bias++] = (struct hr_logit_bias){(int32_t)id, (float)b};
    }
    r->sampling.logit_bias = r->bias;
    return 0;
}

int hr_api_chat_check_vocab(const struct hr_api_chat_req *r, int32_t n_vocab,
                            struct hr_api_error *e)
{
    for (uint32_t i = 0; i < r->sampling.n_logit_bias; i++) {
        if (r->bias[i].token >= n_vocab) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "logit_bias",
                             "Invalid key in 'logit_bias': token %d is outside the model's "
                             "vocabulary of %d tokens.", r->bias[i].token, n_vocab);
            return -1;
        }
    }
    return 0;
}

/* Penalties and the extensions llama.cpp and vLLM users send (min_p, typical_p,
 * repeat_penalty, repeat_last_n, ignore_eos). */
static int parse_penalties(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    struct {
        const char *key;
        double lo, hi;
        float *out;
    } nums[] = {
        {"presence_penalty", -2, 2, &r->sampling.presence_penalty},
        {"frequency_penalty", -2, 2, &r->sampling.frequency_penalty},
        {"min_p", 0, 1, &r->sampling.min_p},
        {"typical_p", 0, 1, &r->sampling.typical_p},
        {"repeat_penalty", 0, 10, &r->sampling.repeat_penalty},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        double x = *nums[i].out;
        if (hr_api__get_number(root, nums[i].key, nums[i].lo, nums[i].hi, &x, e) != 0)
            return -1;
        *nums[i].out = (float)x;
    }
    /* llama.cpp's window: 64 by default, 0 off, -1 the whole context (the engine caps it) */
    json_int_t last_n = 64;
    if (hr_api__get_integer(root, "repeat_last_n", -1, HR_MODEL_MAX_CTX, &last_n, NULL, e) != 0)
        return -1;
    r->sampling.repeat_last_n = last_n < 0 ? HR_MODEL_MAX_CTX : (uint32_t)last_n;
    return hr_api__get_bool(root, "ignore_eos", &r->ignore_eos, e);
}

/* logprobs, and top_logprobs (0..20), which OpenAI takes only together with logprobs. */
static int parse_logprobs(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    if (hr_api__get_bool(root, "logprobs", &r->logprobs, e) != 0)
        return -1;
    json_int_t top = 0;
    bool has = false;
    if (hr_api__get_integer(root, "top_logprobs", 0, HR_MAX_TOP_LOGPROBS, &top, &has, e) != 0)
        return -1;
    if (has && !r->logprobs) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "top_logprobs",
                         "Invalid value for 'top_logprobs': 'logprobs' must be set to true "
                         "when 'top_logprobs' is given.");
        return -1;
    }
    r->top_logprobs = (uint32_t)top;
    return 0;
}

/* n (choices), then the structured-output fields (response_format.c). */
static int parse_choices_format(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    json_int_t n = 1;
    if (hr_api__get_integer(root, "n", 1, HR_MAX_CHOICES, &n, NULL, e) != 0)
        return -1;
    r->n = (uint32_t)n;
    return hr_api_chat_parse_format(r, root, e);
}

int hr_api__parse_begin(const char *body, size_t n, bool need_model, struct hr_api_chat_req *r,
                        struct hr_api_error *e)
{
    memset(r, 0, sizeof *r);
    r->sampling.temperature = 1.0f; /* OpenAI's defaults */
    r->sampling.top_p = 1.0f;
    r->sampling.repeat_penalty = 1.0f;
    r->n = 1;
    r->root = hr_api__load_object(body, n, e);
    if (!r->root)
        return -1;
    json_t *root = r->root;
    json_t *model = json_object_get(root, "model");
    if (!model && !need_model) {
        r->model = "";
    } else if (!model) {
        hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter", "model",
                         "Missing required parameter: 'model'.");
        return -1;
    } else if (!json_is_string(model)) {
        return hr_api__bad_type(e, "model", "a string", model);
    } else {
        r->model = json_string_value(model);
    }
    return 0;
}

int hr_api__parse_stream(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    if (hr_api__get_bool(root, "stream", &r->stream, e) != 0)
        return -1;
    json_t *so = json_object_get(root, "stream_options");
    if (so && !json_is_null(so)) {
        if (!r->stream) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "stream_options",
                             "The 'stream_options' parameter is only allowed when 'stream' is "
                             "enabled.");
            return -1;
        }
        if (!json_is_object(so))
            return hr_api__bad_type(e, "stream_options", "an object", so);
        json_t *iu = json_object_get(so, "include_usage");
        if (iu && !json_is_null(iu) && !json_is_boolean(iu))
            return hr_api__bad_type(e, "stream_options.include_usage", "a boolean", iu);
        r->include_usage = json_is_true(iu);
    }
    return 0;
}

int hr_api__parse_max_tokens(struct hr_api_chat_req *r, json_t *root, const char *key,
                             struct hr_api_error *e)
{
    json_int_t mt = 0;
    bool has = false;
    if (hr_api__get_integer(root, key, 1, UINT32_MAX, &mt, &has, e) != 0)
        return -1;
    if (has)
        r->max_tokens = (uint32_t)mt;
    return 0;
}

int hr_api__parse_temperature(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    double t = r->sampling.temperature;
    if (hr_api__get_number(root, "temperature", 0, 2, &t, e) != 0)
        return -1;
    r->sampling.temperature = (float)t;
    double tp = 1.0;
    if (hr_api__get_number(root, "top_p", 0, 1, &tp, e) != 0)
        return -1;
    /* top_p 0 means "only the most likely token"; the sampler's range is (0, 1]. */
    r->sampling.top_p = tp > 0 ? (float)tp : 1e-9f;
    return 0;
}

int hr_api__parse_seed_user(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    json_int_t seed = 0;
    bool has_seed = false;
    if (hr_api__get_integer(root, "seed", INT64_MIN, INT64_MAX, &seed, &has_seed, e) != 0)
        return -1;
    r->sampling.seed = has_seed ? (uint64_t)seed : random_seed();
    return hr_api__get_user(root, &r->user, e);
}

int hr_api__parse_sampling(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e)
{
    if (hr_api__parse_stream(r, root, e) != 0 ||
        hr_api__parse_max_tokens(r, root, "max_tokens", e) != 0 ||
        hr_api__parse_temperature(r, root, e) != 0)
        return -1;
    json_int_t k = 0;
    if (hr_api__get_integer(root, "top_k", 0, INT32_MAX, &k, NULL, e) != 0)
        return -1;
    r->sampling.top_k = (int32_t)k;
    if (hr_api__parse_seed_user(r, root, e) != 0 ||
        parse_stop(r, json_object_get(root, "stop"), e) != 0 ||
        parse_logit_bias(r, json_object_get(root, "logit_bias"), e) != 0 ||
        parse_penalties(r, root, e) != 0)
        return -1;
    return 0;
}

static int parse(const char *body, size_t n, bool need_model, struct hr_api_chat_req *r,
                 struct hr_api_error *e)
{
    if (hr_api__parse_begin(body, n, need_model, r, e) != 0)
        return -1;
    json_t *root = r->root;
    if (hr_api__parse_messages(r, json_object_get(root, "messages"), e) != 0 ||
        hr_api__parse_sampling(r, root, e) != 0 ||
        hr_api__parse_max_tokens(r, root, "max_completion_tokens", e) != 0 ||
        parse_logprobs(r, root, e) != 0 || hr_api__parse_tools(r, root, e) != 0 ||
        parse_choices_format(r, root, e) != 0)
        return -1;
    if ((r->tool_choice == HR_TOOL_CHOICE_REQUIRED || r->tool_choice == HR_TOOL_CHOICE_NAMED) &&
        r->grammar_kind != HR_API_GRAMMAR_NONE) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "tool_choice",
                         "tool_choice 'required' or a named function already decides the "
                         "answer's form: it cannot be combined with response_format or "
                         "grammar.");
        return -1;
    }
    return 0;
}

int hr_api_chat_parse(const char *body, size_t n, struct hr_api_chat_req *r,
                      struct hr_api_error *e)
{
    return parse(body, n, true, r, e);
}

int hr_api_chat_parse_conversation(const char *body, size_t n, struct hr_api_chat_req *r,
                                   struct hr_api_error *e)
{
    return parse(body, n, false, r, e);
}

void hr_api_chat_req_deinit(struct hr_api_chat_req *r)
{
    if (r->joined)
        for (size_t i = 0; i < r->n_msgs; i++)
            free(r->joined[i]);
    free(r->joined);
    free(r->msgs);
    free(r->bias);
    free(r->grammar_text);
    hr_grammar_unref(r->grammar);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}
