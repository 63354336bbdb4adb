/* POST /v1/embeddings: the request body (model, input in OpenAI's four shapes, encoding_format,
 * dimensions, user, and the "pooling" extension) checked field by field with 400s naming the
 * param, the checks that need the served model, and the "list" answer with vectors as JSON
 * numbers or base64 float32. Tokenizing and embedding run elsewhere (daemon/embed_route.c, on
 * a worker thread). Pure functions: any thread. */
#include "api.h"
#include "api_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int invalid(struct hr_api_error *e, const char *code, const char *param,
                   const char *msg)
{
    hr_api_error_set(e, 400, "invalid_request_error", code, param, "%s", msg);
    return -1;
}

static int no_memory(struct hr_api_error *e)
{
    hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
    return -1;
}

/* What input[i] is: OpenAI's shapes are uniform, so element 0 decides for the array. */
enum shape { SHAPE_TEXTS, SHAPE_IDS, SHAPE_ID_ARRAYS };

/* A token id as JSON: an integer in [0, INT32_MAX]; the vocabulary is checked later. */
static int read_id(json_t *v, const char *where, int32_t *out, struct hr_api_error *e)
{
    if (!json_is_integer(v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "Invalid type for '%s': expected a token id (an integer), "
                                  "but got another type instead.", where);
        return invalid(e, "invalid_type", "input", msg);
    }
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > INT32_MAX) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "input",
                         "Invalid '%s': %lld is not a token id.", where, (long long)x);
        return -1;
    }
    *out = (int32_t)x;
    return 0;
}

/* Counts the token ids an array-of-arrays input holds, checking each inner array's shape. */
static int count_ids(json_t *in, size_t n, size_t *total, struct hr_api_error *e)
{
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(in, i);
        char where[32];
        snprintf(where, sizeof where, "input[%zu]", i);
        if (!json_is_array(a))
            return hr_api__bad_type(e, "input", "an array of token ids for every element", a);
        if (json_array_size(a) == 0) {
            hr_api_error_set(e, 400, "invalid_request_error", "empty_array", "input",
                             "Invalid '%s': empty array. Expected an array with minimum length "
                             "1, but got an empty array instead.", where);
            return -1;
        }
        *total += json_array_size(a);
        if (*total > HR_MAX_EMBED_TOKENS)
            break;
    }
    return 0;
}

static int parse_texts(struct hr_api_embed_req *r, json_t *in, struct hr_api_error *e)
{
    size_t bytes = 0;
    for (size_t i = 0; i < r->n_inputs; i++) {
        json_t *v = json_is_string(in) ? in : json_array_get(in, i);
        char where[32];
        snprintf(where, sizeof where, json_is_string(in) ? "input" : "input[%zu]", i);
        if (!json_is_string(v)) {
            char msg[160];
            snprintf(msg, sizeof msg, "Invalid type for '%s': expected a string like the "
                                      "other inputs, but got another type instead.", where);
            return invalid(e, "invalid_type", "input", msg);
        }
        size_t len = json_string_length(v);
        if (len == 0) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "input",
                             "Invalid '%s': empty string. Expected a string of at least 1 "
                             "character.", where);
            return -1;
        }
        bytes += len;
        if (bytes > HR_MAX_PROMPT_BYTES) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "input",
                             "Invalid 'input': the inputs exceed %u bytes in all.",
                             HR_MAX_PROMPT_BYTES);
            return -1;
        }
        r->inputs[i].text = json_string_value(v);
        r->inputs[i].text_len = len;
    }
    return 0;
}

static int parse_ids(struct hr_api_embed_req *r, json_t *in, enum shape shape,
                     struct hr_api_error *e)
{
    size_t n = json_array_size(in), total = n;
    if (shape == SHAPE_ID_ARRAYS && count_ids(in, n, &total, e) != 0)
        return -1;
    if (total > HR_MAX_EMBED_TOKENS) {
        hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "input",
                         "Invalid 'input': at most %d tokens may be embedded in one request, "
                         "got more.", HR_MAX_EMBED_TOKENS);
        return -1;
    }
    r->ids = malloc(total * sizeof *r->ids);
    if (!r->ids)
        return no_memory(e);
    r->n_ids = total;
    if (shape == SHAPE_IDS) {
        /* one input: the whole array */
        r->n_inputs = 1;
        for (size_t k = 0; k < n; k++) {
            char where[32];
            snprintf(where, sizeof where, "input[%zu]", k);
            if (read_id(json_array_get(in, k), where, &r->ids[k], e) != 0)
                return -1;
        }
        r->inputs[0].tokens = r->ids;
        r->inputs[0].n_tokens = (uint32_t)n;
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(in, i);
        size_t m = json_array_size(a);
        r->inputs[i].tokens = r->ids + o;
        r->inputs[i].n_tokens = (uint32_t)m;
        for (size_t k = 0; k < m; k++) {
            char where[64];
            snprintf(where, sizeof where, "input[%zu][%zu]", i, k);
            if (read_id(json_array_get(a, k), where, &r->ids[o++], e) != 0)
                return -1;
        }
    }
    return 0;
}

static int parse_input(struct hr_api_embed_req *r, json_t *in, struct hr_api_error *e)
{
    if (!in || json_is_null(in))
        return invalid(e, "missing_required_parameter", "input",
                       "Missing required parameter: 'input'.");
    if (!json_is_string(in) && !json_is_array(in))
        return hr_api__bad_type(e, "input", "one of a string, an array of strings, an array "
                                "of token ids or an array of token-id arrays", in);
    size_t n = json_is_string(in) ? 1 : json_array_size(in);
    if (n == 0)
        return invalid(e, "empty_array", "input",
                       "Invalid 'input': empty array. Expected an array with minimum length "
                       "1, but got an empty array instead.");
    enum shape shape = SHAPE_TEXTS;
    if (json_is_array(in)) {
        json_t *first = json_array_get(in, 0);
        if (!json_is_string(first) && !json_is_array(first) && !json_is_integer(first))
            return hr_api__bad_type(e, "input", "an array of strings, of token ids or of "
                                    "token-id arrays", first);
        shape = json_is_string(first)   ? SHAPE_TEXTS
                : json_is_array(first) ? SHAPE_ID_ARRAYS
                                       : SHAPE_IDS;
    }
    if (shape != SHAPE_IDS && n > HR_MAX_EMBED_INPUTS) {
        hr_api_error_set(e, 400, "invalid_request_error", "array_above_max_length", "input",
                         "Invalid 'input': array too long. Expected an array with maximum "
                         "length %d, but got an array with length %zu instead.",
                         HR_MAX_EMBED_INPUTS, n);
        return -1;
    }
    r->n_inputs = shape == SHAPE_IDS ? 1 : n;
    r->inputs = calloc(r->n_inputs, sizeof *r->inputs);
    if (!r->inputs)
        return no_memory(e);
    return shape == SHAPE_TEXTS ? parse_texts(r, in, e) : parse_ids(r, in, shape, e);
}

static int parse_format(struct hr_api_embed_req *r, json_t *v, struct hr_api_error *e)
{
    r->format = HR_API_EMBED_FLOAT;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return hr_api__bad_type(e, "encoding_format", "a string", v);
    const char *s = json_string_value(v);
    if (strcmp(s, "float") == 0)
        return 0;
    if (strcmp(s, "base64") == 0) {
        r->format = HR_API_EMBED_BASE64;
        return 0;
    }
    hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "encoding_format",
                     "Invalid value: '%.64s'. Supported values are: 'float' and 'base64'.", s);
    return -1;
}

static int parse_options(struct hr_api_embed_req *r, json_t *root, struct hr_api_error *e)
{
    json_t *dim = json_object_get(root, "dimensions");
    if (dim && !json_is_null(dim)) {
        if (!json_is_integer(dim))
            return hr_api__bad_type(e, "dimensions", "an integer", dim);
        json_int_t x = json_integer_value(dim);
        if (x < 1 || x > HR_MODEL_MAX_EMBD) {
            hr_api_error_set(e, 400, "invalid_request_error", "integer_below_min_value",
                             "dimensions", "Invalid 'dimensions': expected a value from 1 to "
                             "%d, but got %lld instead.", HR_MODEL_MAX_EMBD, (long long)x);
            if (x > HR_MODEL_MAX_EMBD)
                e->code = "integer_above_max_value";
            return -1;
        }
        r->dimensions = (uint32_t)x;
    }
    json_t *pool = json_object_get(root, "pooling");
    r->pooling = HR_POOLING_UNSPECIFIED;
    if (pool && !json_is_null(pool)) {
        if (!json_is_string(pool))
            return hr_api__bad_type(e, "pooling", "a string", pool);
        const char *s = json_string_value(pool);
        enum hr_pooling p;
        if (hr_pooling_from_name(s, &p) != 0 ||
            (p != HR_POOLING_MEAN && p != HR_POOLING_CLS && p != HR_POOLING_LAST)) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "pooling",
                             "Invalid value: '%.64s'. Supported values are: 'mean', 'cls' and "
                             "'last'.", s);
            return -1;
        }
        r->pooling = p;
    }
    return hr_api__get_user(root, &r->user, e);
}

int hr_api_embed_parse(const char *body, size_t n, struct hr_api_embed_req *r,
                       struct hr_api_error *e)
{
    memset(r, 0, sizeof *r);
    r->pooling = HR_POOLING_UNSPECIFIED;
    r->root = hr_api__load_object(body, n, e);
    if (!r->root)
        return -1;
    json_t *model = json_object_get(r->root, "model");
    if (!model || json_is_null(model))
        return invalid(e, "missing_required_parameter", "model",
                       "Missing required parameter: 'model'.");
    if (!json_is_string(model))
        return hr_api__bad_type(e, "model", "a string", model);
    r->model = json_string_value(model);
    if (parse_input(r, json_object_get(r->root, "input"), e) != 0 ||
        parse_format(r, json_object_get(r->root, "encoding_format"), e) != 0)
        return -1;
    return parse_options(r, r->root, e);
}

int hr_api_embed_check_model(const struct hr_api_embed_req *r, const struct hr_model *m,
                             const char *model_id, struct hr_api_error *e)
{
    for (size_t i = 0; i < r->n_ids; i++) {
        if ((uint32_t)r->ids[i] >= m->n_vocab) {
            hr_api_error_set(e, 400, "invalid_request_error", "invalid_value", "input",
                             "Invalid 'input': token %d is outside the model's vocabulary of "
                             "%u tokens.", r->ids[i], m->n_vocab);
            return -1;
        }
    }
    if (r->dimensions && r->dimensions != m->n_embd) {
        hr_api_error_set(e, 400, "invalid_request_error", "unsupported_parameter",
                         "dimensions", "Unsupported parameter: 'dimensions' = %u: the model "
                         "'%.128s' gives vectors of %u dimensions only; omit 'dimensions' or "
                         "set it to %u.", r->dimensions, model_id, m->n_embd, m->n_embd);
        return -1;
    }
    enum hr_pooling p = r->pooling == HR_POOLING_UNSPECIFIED ? m->pooling : r->pooling;
    if (p == HR_POOLING_MEAN || p == HR_POOLING_CLS || p == HR_POOLING_LAST)
        return 0;
    hr_api_error_set(e, 400, "invalid_request_error", "missing_required_parameter", "pooling",
                     p == HR_POOLING_NONE
                         ? "The model '%.128s' has no pooling type (its GGUF sets no "
                           "'%s.pooling_type'), so it does not say how to pool its states "
                           "into one vector. Ask for one with the request field \"pooling\": "
                           "\"mean\", \"cls\" or \"last\" (\"last\" suits causal models trained "
                           "as embedders)."
                         : "The model '%.128s' pools as a reranker ('%s.pooling_type' = rank), "
                           "which gives no embedding. Ask for a pooling with the request field "
                           "\"pooling\": \"mean\", \"cls\" or \"last\".",
                     model_id, m->arch);
    return -1;
}

void hr_api_embed_req_deinit(struct hr_api_embed_req *r)
{
    free(r->inputs);
    free(r->ids);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

size_t hr_api_base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void hr_api_base64_encode(const void *data, size_t n, char *out)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = abc[x >> 18];
        out[o++] = abc[(x >> 12) & 63];
        out[o++] = abc[(x >> 6) & 63];
        out[o++] = abc[x & 63];
    }
    if (n - i == 1) {
        uint32_t x = (uint32_t)p[i] << 16;
        out[o++] = abc[x >> 18];
        out[o++] = abc[(x >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = abc[x >> 18];
        out[o++] = abc[(x >> 12) & 63];
        out[o++] = abc[(x >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* The answer is written straight into one buffer sized up front: a JSON tree would hold a
 * node per number (hundreds of bytes each, for up to HR_MAX_EMBED_INPUTS x n_embd of them).
 * A float as "%.9g" (9 significant digits give every float32 back exactly) takes at most 15
 * characters ("-1.17549435e-38"). */
#define FLOAT_CHARS 16

/* Appends a vector as base64 of its float32 bytes, little-endian whatever the host's order;
 * bytes is scratch of n * 4. */
static size_t put_base64(char *out, const float *v, uint32_t n, unsigned char *bytes)
{
    for (uint32_t k = 0; k < n; k++) {
        uint32_t u;
        memcpy(&u, &v[k], sizeof u);
        for (int b = 0; b < 4; b++)
            bytes[(size_t)k * 4 + (size_t)b] = (unsigned char)(u >> (8 * b));
    }
    out[0] = '"';
    hr_api_base64_encode(bytes, (size_t)n * 4, out + 1);
    size_t len = 1 + hr_api_base64_len((size_t)n * 4);
    out[len++] = '"';
    return len;
}

/* Appends a vector as a JSON array; false for a value JSON cannot hold (NaN, infinity). */
static bool put_floats(char *out, size_t cap, const float *v, uint32_t n, size_t *len)
{
    size_t o = 0;
    out[o++] = '[';
    for (uint32_t k = 0; k < n; k++) {
        if (!isfinite(v[k]))
            return false;
        int w = snprintf(out + o, cap - o, k ? ",%.9g" : "%.9g", (double)v[k]);
        if (w < 0 || (size_t)w >= cap - o)
            return false;
        o += (size_t)w;
    }
    out[o++] = ']';
    *len = o;
    return true;
}

char *hr_api_embed_json(const char *model, const float *vecs, size_t n_vecs, uint32_t n_embd,
                        enum hr_api_embed_format f, uint32_t n_prompt)
{
    json_t *jm = json_string(model);
    char *model_json = jm ? json_dumps(jm, JSON_ENCODE_ANY) : NULL;
    json_decref(jm);
    size_t per_vec = f == HR_API_EMBED_BASE64 ? hr_api_base64_len((size_t)n_embd * 4) + 2
                                              : (size_t)n_embd * FLOAT_CHARS + 2;
    size_t cap = n_vecs * (per_vec + 96) + (model_json ? strlen(model_json) : 0) + 256;
    char *out = model_json ? malloc(cap) : NULL;
    unsigned char *bytes = malloc((size_t)n_embd * 4 + 1);
    if (!out || !bytes)
        goto fail;
    size_t o = (size_t)snprintf(out, cap, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n_vecs; i++) {
        o += (size_t)snprintf(out + o, cap - o,
                              "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":",
                              i ? "," : "", i);
        const float *v = vecs + i * n_embd;
        size_t len = 0;
        if (f == HR_API_EMBED_BASE64)
            len = put_base64(out + o, v, n_embd, bytes);
        else if (!put_floats(out + o, cap - o, v, n_embd, &len))
            goto fail;
        o += len;
        out[o++] = '}';
    }
    snprintf(out + o, cap - o,
             "],\"model\":%s,\"usage\":{\"prompt_tokens\":%u,\"total_tokens\":%u}}",
             model_json, n_prompt, n_prompt);
    free(bytes);
    free(model_json);
    return out;
fail:
    free(bytes);
    free(out);
    free(model_json);
    return NULL;
}
