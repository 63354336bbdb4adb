/* Shared by the api/ request parsers; nothing outside api/ includes this. */
#ifndef HR_API_INT_H
#define HR_API_INT_H

#include "api.h"

/* 400 invalid_type: "Invalid type for 'param': expected want, but got <kind> instead." */
/* A request body parsed as a JSON object (caller decrefs), or NULL with the 400. */
json_t *hr_api__load_object(const char *body, size_t n, struct hr_api_error *e);
/* 500 out of memory; 400 missing_required_parameter naming param. Both return -1. */
int hr_api__oom(struct hr_api_error *e);
int hr_api__missing(struct hr_api_error *e, const char *param);
/* The optional "user" string into *out (pointing into root); a 400 for any other type. */
int hr_api__get_user(json_t *root, const char **out, struct hr_api_error *e);
int hr_api__bad_type(struct hr_api_error *e, const char *param, const char *want, const json_t *v);
/* 400 unsupported_parameter naming param. Both return -1. */
int hr_api__unsupported(struct hr_api_error *e, const char *param, const char *what);
/* OpenAI's rule for function and schema names: 1-64 of a-z, A-Z, 0-9, '_' and '-'. */
bool hr_api__valid_name(const char *s, size_t n);
/* chat_tools.c: tools, tool_choice, and the tool fields of message i (tool_calls on an
 * assistant message, tool_call_id on a tool message). 0 or -1 with e filled. */
int hr_api__parse_tools(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e);
int hr_api__parse_message_tools(json_t *msg, size_t i, const char *role,
                                struct hr_api_error *e);

/* chat_request.c: the field readers every endpoint shares. A number or integer in [lo, hi]
 * (absent or null leaves *out unchanged; *present, when given, says whether it was there), a
 * boolean. 0 or -1 with a 400 naming key. */
int hr_api__get_number(json_t *root, const char *key, double lo, double hi, double *out,
                       struct hr_api_error *e);
int hr_api__get_integer(json_t *root, const char *key, json_int_t lo, json_int_t hi,
                        json_int_t *out, bool *present, struct hr_api_error *e);
int hr_api__get_bool(json_t *root, const char *key, bool *out, struct hr_api_error *e);
/* Fills r with OpenAI's defaults, parses body into r->root (an object) and reads "model"
 * (required when need_model). */
int hr_api__parse_begin(const char *body, size_t n, bool need_model, struct hr_api_chat_req *r,
                        struct hr_api_error *e);
/* messages (a chat messages array) into r->msgs; hr_api_chat_template_messages reads their
 * tool fields from r->root's "messages", so msgs must be that array. */
int hr_api__parse_messages(struct hr_api_chat_req *r, json_t *msgs, struct hr_api_error *e);
/* stream and stream_options; max tokens under key (1..2^32-1); temperature and top_p; seed
 * (a random one when absent) and user. */
int hr_api__parse_stream(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e);
int hr_api__parse_max_tokens(struct hr_api_chat_req *r, json_t *root, const char *key,
                             struct hr_api_error *e);
int hr_api__parse_temperature(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e);
int hr_api__parse_seed_user(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e);
/* All of the above with max_tokens, plus top_k, stop, logit_bias and the penalties: the
 * sampling fields chat and legacy completions share. */
int hr_api__parse_sampling(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e);
/* response_format.c: a JSON Schema format object {name, description, schema, strict} (chat's
 * response_format.json_schema, the Responses API's text.format) into r's grammar fields; the
 * params errors name start with prefix; schema_param (static) is what compile errors name. */
int hr_api__parse_schema_format(struct hr_api_chat_req *r, json_t *js, const char *prefix,
                                const char *schema_param, struct hr_api_error *e);
/* responses_input.c: a Responses request's instructions and input as a new chat "messages"
 * array (*out); its tools and tool_choice in chat's shapes (new references, NULL when absent).
 * 0, or -1 with a 400 naming the Responses param. */
int hr_api__responses_messages(json_t *root, json_t **out, struct hr_api_error *e);
int hr_api__responses_tools(json_t *root, json_t **tools_out, json_t **choice_out,
                            struct hr_api_error *e);
/* chat_response.c: {id, object, created, model, system_fingerprint}; the chat usage object;
 * compact JSON text of take (decref'd), NULL without memory. */
json_t *hr_api__envelope(const char *id, const char *object, int64_t created,
                         const char *model);
json_t *hr_api__usage_obj(const struct hr_api_usage *u);
char *hr_api__dump(json_t *take);
/* {id, object, created, model, system_fingerprint, choices: take_choices, usage} as text
 * (NULL without memory; take_choices is consumed either way). */
char *hr_api__choices_json(const char *id, const char *object, int64_t created,
                           const char *model, json_t *take_choices,
                           const struct hr_api_usage *u);

#endif
