/* Legacy completion responses in OpenAI's shapes: the `text_completion` object, its streamed
 * chunks (the same object with each choice's new text; a choice's last chunk carries its
 * finish_reason; with include_usage a final chunk has "choices": [] and the usage) and the
 * legacy logprobs object, built from the chat-style entries the daemon gathers per token.
 * Loop thread (pure functions). */
#include "api.h"
#include "api_int.h"
#include "json_text.h"

#include <stdlib.h>
#include <string.h>

json_t *hr_api_completion_choice_json(uint32_t index, const char *text, size_t n_text,
                                      const char *finish_reason, json_t *take_logprobs)
{
    json_t *c = json_object();
    if (!c) {
        json_decref(take_logprobs);
        return NULL;
    }
    json_object_set_new(c, "text", hr_api_json_text(text ? text : "", text ? n_text : 0));
    json_object_set_new(c, "index", json_integer(index));
    json_object_set_new(c, "logprobs", take_logprobs ? take_logprobs : json_null());
    json_object_set_new(c, "finish_reason",
                        finish_reason ? json_string(finish_reason) : json_null());
    return c;
}

char *hr_api_completion_json(const char *id, int64_t created, const char *model,
                             json_t *take_choices, const struct hr_api_usage *u)
{
    return hr_api__choices_json(id, "text_completion", created, model, take_choices, u);
}

char *hr_api_completion_chunk_json(const char *id, int64_t created, const char *model,
                                   json_t *take_choice, bool with_usage_null)
{
    json_t *o = hr_api__envelope(id, "text_completion", created, model);
    json_t *choices = json_array();
    if (!o || !choices || !take_choice) {
        json_decref(o);
        json_decref(choices);
        json_decref(take_choice);
        return NULL;
    }
    json_array_append_new(choices, take_choice);
    json_object_set_new(o, "choices", choices);
    if (with_usage_null)
        json_object_set_new(o, "usage", json_null());
    return hr_api__dump(o);
}

char *hr_api_completion_usage_chunk_json(const char *id, int64_t created, const char *model,
                                         const struct hr_api_usage *u)
{
    return hr_api__choices_json(id, "text_completion", created, model, json_array(), u);
}

/* Characters (UTF-8 code points) in a token's bytes: text_offset counts characters of the
 * choice's text, and a token may hold part of one (its continuation bytes count nothing). */
static size_t n_chars(const json_t *bytes)
{
    size_t n = 0, i;
    json_t *b;
    json_array_foreach(bytes, i, b)
        if ((json_integer_value(b) & 0xC0) != 0x80)
            n++;
    return n;
}

json_t *hr_api_completion_logprobs_json(const json_t *entries, size_t *text_offset)
{
    json_t *o = json_object();
    json_t *tokens = json_array();
    json_t *lps = json_array();
    json_t *tops = json_array();
    json_t *offs = json_array();
    if (!o || !tokens || !lps || !tops || !offs) {
        json_decref(o);
        json_decref(tokens);
        json_decref(lps);
        json_decref(tops);
        json_decref(offs);
        return NULL;
    }
    size_t i;
    json_t *en;
    json_array_foreach(entries, i, en)
    {
        json_array_append(tokens, json_object_get(en, "token"));
        json_array_append(lps, json_object_get(en, "logprob"));
        json_array_append_new(offs, json_integer((json_int_t)*text_offset));
        *text_offset += n_chars(json_object_get(en, "bytes"));
        json_t *top = json_object();
        size_t k;
        json_t *alt;
        /* a dict by token text: two alternatives that print alike keep the likelier one */
        json_array_foreach(json_object_get(en, "top_logprobs"), k, alt)
        {
            const char *t = json_string_value(json_object_get(alt, "token"));
            if (t && !json_object_get(top, t))
                json_object_set(top, t, json_object_get(alt, "logprob"));
        }
        json_array_append_new(tops, top);
    }
    json_object_set_new(o, "tokens", tokens);
    json_object_set_new(o, "token_logprobs", lps);
    json_object_set_new(o, "top_logprobs", tops);
    json_object_set_new(o, "text_offset", offs);
    return o;
}
