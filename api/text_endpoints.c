/* Bodies of the llama.cpp-compatible text endpoints: POST /tokenize {"content", "add_special",
 * "parse_special", "with_pieces"}, POST /detokenize {"tokens"}, POST /apply-template
 * {"messages", "tools"} — parsing with OpenAI-style 400s, and the response JSON. Pure
 * functions: the tokenizing itself runs off the loop (daemon/text_routes.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_int.h"
#include "json_text.h"

static int bad(struct hr_api_error *e, const char *param, const char *msg)
{
    hr_api_error_set(e, 400, "invalid_request_error", param ? "invalid_type" : NULL, param, "%s",
                     msg);
    return -1;
}

static int opt_bool(json_t *root, const char *key, bool *out, struct hr_api_error *e)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return bad(e, key, "expected a boolean");
    *out = json_is_true(v);
    return 0;
}

int hr_api_body_model(const char *body, size_t n, char *out, size_t cap,
                      struct hr_api_error *e)
{
    out[0] = '\0';
    json_t *root = hr_api__load_object(body, n, e);
    if (!root)
        return -1;
    json_t *m = json_object_get(root, "model");
    int rc = 0;
    if (m && !json_is_null(m) && (!json_is_string(m) || json_string_length(m) >= cap))
        rc = bad(e, "model", "'model' must be a model id (a string)");
    else if (m && json_is_string(m))
        snprintf(out, cap, "%s", json_string_value(m));
    json_decref(root);
    return rc;
}

int hr_api_tokenize_parse(const char *body, size_t n, struct hr_api_tokenize_req *r,
                          struct hr_api_error *e)
{
    memset(r, 0, sizeof *r);
    r->root = hr_api__load_object(body, n, e);
    if (!r->root)
        return -1;
    json_t *c = json_object_get(r->root, "content");
    if (!json_is_string(c))
        return bad(e, "content", "'content' must be a string");
    r->content = json_string_value(c);
    r->content_len = json_string_length(c);
    r->parse_special = true; /* llama.cpp's default for /tokenize */
    if (opt_bool(r->root, "add_special", &r->add_special, e) ||
        opt_bool(r->root, "parse_special", &r->parse_special, e) ||
        opt_bool(r->root, "with_pieces", &r->with_pieces, e))
        return -1;
    return 0;
}

int hr_api_detokenize_parse(const char *body, size_t n, int32_t n_vocab, int32_t **ids,
                            size_t *n_ids, struct hr_api_error *e)
{
    *ids = NULL;
    *n_ids = 0;
    json_t *root = hr_api__load_object(body, n, e);
    if (!root)
        return -1;
    json_t *t = json_object_get(root, "tokens");
    int rc = 0;
    if (!json_is_array(t)) {
        rc = bad(e, "tokens", "'tokens' must be an array of token ids");
    } else {
        size_t k = json_array_size(t);
        *ids = malloc((k ? k : 1) * sizeof **ids);
        for (size_t i = 0; *ids && i < k && !rc; i++) {
            json_t *v = json_array_get(t, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) >= n_vocab)
                rc = bad(e, "tokens", "'tokens' must hold ids within the vocabulary");
            else
                (*ids)[i] = (int32_t)json_integer_value(v);
        }
        *n_ids = k;
        if (!*ids)
            rc = bad(e, NULL, "out of memory");
    }
    json_decref(root);
    if (rc) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

int hr_api_template_parse(const char *body, size_t n, struct hr_jval **messages,
                          struct hr_jval **tools, struct hr_api_error *e)
{
    struct hr_api_chat_req r;
    *messages = *tools = NULL;
    int rc = hr_api_chat_parse_conversation(body, n, &r, e);
    if (rc == 0) {
        *messages = hr_api_chat_template_messages(&r);
        *tools = hr_api_chat_template_tools(&r);
        if (!*messages || (r.tools && r.tool_choice != HR_TOOL_CHOICE_NONE && !*tools)) {
            hr_jval_unref(*messages);
            hr_jval_unref(*tools);
            *messages = *tools = NULL;
            hr_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
            rc = -1;
        }
    }
    hr_api_chat_req_deinit(&r);
    return rc;
}

char *hr_api_tokens_json(const int32_t *ids, size_t n, const char *const *pieces,
                         const size_t *piece_lens)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    for (size_t i = 0; root && arr && i < n; i++) {
        if (!pieces) {
            json_array_append_new(arr, json_integer(ids[i]));
            continue;
        }
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(ids[i]));
        json_object_set_new(o, "piece", hr_api_json_text(pieces[i], piece_lens[i]));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "tokens", arr);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

char *hr_api_text_json(const char *key, const char *text, size_t n)
{
    json_t *root = json_object();
    json_object_set_new(root, key, hr_api_json_text(text, n));
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

void hr_api_tokenize_req_deinit(struct hr_api_tokenize_req *r)
{
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}
