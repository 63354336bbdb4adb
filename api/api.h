/* The OpenAI protocol layer: request JSON -> validated engine requests, engine results ->
 * response JSON (objects, SSE chunks, error envelopes). It never opens a socket or a database:
 * daemon/ calls it with bytes and sends what it returns. Loop thread (pure functions). */
#ifndef HR_API_H
#define HR_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

/* An error answer: HTTP status plus OpenAI's envelope fields. */
struct hr_api_error {
    int status;       /* 400, 404, ... */
    const char *type; /* "invalid_request_error", "server_error", ... */
    const char *code; /* NULL or "model_not_found", "context_length_exceeded", ... */
    char param[64];   /* "" for null */
    char message[512];
};

/* Fills e; message is printf-style. Returns e for chaining. */
struct hr_api_error *hr_api_error_set(struct hr_api_error *e, int status, const char *type,
                                      const char *code, const char *param, const char *fmt,
                                      ...) __attribute__((format(printf, 6, 7)));
/* Maps an engine error code (and its message) onto status/type/code. */
void hr_api_error_from_engine(struct hr_api_error *e, int err, const char *msg);
/* The envelope {"error":{"message","type","param","code"}} as a malloc'd string. */
char *hr_api_error_json(const struct hr_api_error *e);

/* Tool calling. The format a model writes calls in, known from its chat template. */
enum hr_api_tool_format {
    HR_TOOLS_NONE,    /* no format Hearth can parse */
    HR_TOOLS_HERMES,  /* <tool_call>{...}</tool_call> (Hermes 2/3, Qwen 2.5) */
    HR_TOOLS_LLAMA3,  /* a bare {"name", "parameters"} answer (Llama 3.1+) */
    HR_TOOLS_MISTRAL, /* [TOOL_CALLS][...] (Mistral) */
};

enum hr_api_tool_choice {
    HR_TOOL_CHOICE_AUTO,     /* the model decides (default when tools are given) */
    HR_TOOL_CHOICE_NONE,     /* tools are not shown to the model; never a call */
    HR_TOOL_CHOICE_REQUIRED, /* at least one call */
    HR_TOOL_CHOICE_NAMED,    /* a call of tool_choice_name */
};

/* Structured output a request asks for. */
enum hr_api_grammar {
    HR_API_GRAMMAR_NONE,        /* response_format text (the default) */
    HR_API_GRAMMAR_JSON_OBJECT, /* response_format json_object: any JSON object */
    HR_API_GRAMMAR_SCHEMA,      /* response_format json_schema */
    HR_API_GRAMMAR_GBNF,        /* llama.cpp's `grammar` */
};

/* A parsed, validated POST /v1/chat/completions body. Strings point into `root`, which the
 * request owns until hr_api_chat_req_deinit. */
struct hr_api_chat_req {
    json_t *root;
    const char *model;
    struct hr_chat_msg *msgs; /* n_msgs, malloc'd; contents of text-part arrays joined in
                                 `joined` */
    size_t n_msgs;
    char **joined;            /* n_msgs entries, NULL where content was a plain string */
    bool stream;
    bool include_usage;
    uint32_t max_tokens;      /* 0: not given */
    struct hr_sampler_params sampling; /* logit_bias points at `bias` */
    struct hr_logit_bias *bias;        /* malloc'd; token ids not yet checked against a vocab */
    const char *stop[HR_MAX_STOP];
    size_t n_stop;
    bool ignore_eos;                   /* extension (llama.cpp, vLLM) */
    uint32_t n;                        /* choices, 1..HR_MAX_CHOICES */
    bool logprobs;
    uint32_t top_logprobs;
    json_t *tools;                     /* NULL or the non-empty `tools` array (in root) */
    enum hr_api_tool_choice tool_choice;
    const char *tool_choice_name;      /* HR_TOOL_CHOICE_NAMED */
    const char *user;         /* the client's `user` field or NULL */
    enum hr_api_grammar grammar_kind;
    char *grammar_text;       /* malloc'd: the schema as compact JSON, or the GBNF source */
    bool grammar_strict;      /* json_schema.strict */
    const char *grammar_param; /* the param errors name (static) */
    struct hr_grammar *grammar; /* compiled by hr_api_chat_compile_grammar; a reference */
};

/* Parses and validates. Returns 0, or -1 with e filled (400 with the offending param). */
int hr_api_chat_parse(const char *body, size_t n, struct hr_api_chat_req *out,
                      struct hr_api_error *e);
/* The same checks for a body without "model" (POST /apply-template): messages and tools are
 * read exactly as a chat completion reads them. */
int hr_api_chat_parse_conversation(const char *body, size_t n, struct hr_api_chat_req *out,
                                   struct hr_api_error *e);
void hr_api_chat_req_deinit(struct hr_api_chat_req *r);
/* The conversation and the tools as chat-template values (new references; tools NULL when
 * none are offered or tool_choice is none). NULL messages without memory. */
struct hr_jval *hr_api_chat_template_messages(const struct hr_api_chat_req *r);
struct hr_jval *hr_api_chat_template_tools(const struct hr_api_chat_req *r);
/* response_format and grammar into r (shapes and types only). Loop thread. */
int hr_api_chat_parse_format(struct hr_api_chat_req *r, json_t *root, struct hr_api_error *e);
/* Compiles the requested grammar into r->grammar (nothing for text): a 400 naming the param
 * for a bad schema or grammar. Any thread but the loop (a big schema takes a while). */
int hr_api_chat_compile_grammar(struct hr_api_chat_req *r, struct hr_api_error *e);
/* The checks that need the served model: logit_bias ids inside its vocabulary. */
int hr_api_chat_check_vocab(const struct hr_api_chat_req *r, int32_t n_vocab,
                            struct hr_api_error *e);

/* Response pieces. `id` is "chatcmpl-...", created in unix seconds. All return malloc'd
 * NUL-terminated JSON text (NULL only on allocation failure). */
struct hr_api_usage {
    uint32_t prompt_tokens;
    uint32_t completion_tokens;
    uint32_t cached_tokens; /* of the prompt's, reused from the prefix cache */
};

/* take_logprobs: NULL ("logprobs": null) or the array of hr_api_logprob_json entries, whose
 * reference moves into the result. */
char *hr_api_chat_completion_json(const char *id, int64_t created, const char *model,
                                  const char *content, size_t n_content,
                                  const char *finish_reason, const struct hr_api_usage *u,
                                  json_t *take_logprobs);
/* The same with message.tool_calls (take_calls: a non-empty hr_api_parse_tool_calls array,
 * moved in); content NULL gives "content": null. */
char *hr_api_chat_completion_tools_json(const char *id, int64_t created, const char *model,
                                        const char *content, size_t n_content,
                                        json_t *take_calls, const struct hr_api_usage *u);
/* A streaming chunk whose delta carries calls (OpenAI's tool-call deltas: index, id, type,
 * function name and arguments; all of a call in one delta). calls is borrowed. */
char *hr_api_chat_tool_chunk_json(const char *id, int64_t created, const char *model,
                                  uint32_t index, const json_t *calls, bool with_usage_null);
/* One entry of "choices": the message (content NULL gives null; take_calls, moved in, adds
 * tool_calls and makes the finish_reason "tool_calls"), logprobs (moved in, or NULL). */
json_t *hr_api_chat_choice_json(uint32_t index, const char *content, size_t n_content,
                                const char *finish_reason, json_t *take_logprobs,
                                json_t *take_calls);
/* A chat.completion of these choices (an array of hr_api_chat_choice_json, moved in). */
char *hr_api_chat_completion_choices_json(const char *id, int64_t created, const char *model,
                                          json_t *take_choices, const struct hr_api_usage *u);
/* One streaming chunk of choice `index`. role: its first chunk only. content: NULL for none.
 * finish_reason: NULL while running. with_usage_null: include "usage": null
 * (stream_options.include_usage). take_logprobs as above, for the tokens of this chunk. */
char *hr_api_chat_chunk_json(const char *id, int64_t created, const char *model,
                             uint32_t index, const char *role, const char *content,
                             size_t n_content,
                             const char *finish_reason, bool with_usage_null,
                             json_t *take_logprobs);
/* One token's entry of choices[].logprobs.content: {"token", "logprob", "bytes",
 * "top_logprobs": [{"token", "logprob", "bytes"}]}; the token's text from tok. New reference
 * or NULL. */
json_t *hr_api_logprob_json(const struct hr_tok *tok, const struct hr_token_logprob *lp);
/* The last chunk when include_usage is set: "choices": [] and the usage. */
char *hr_api_chat_usage_chunk_json(const char *id, int64_t created, const char *model,
                                   const struct hr_api_usage *u);

/* The finish_reason OpenAI names for an engine finish ("stop" or "length"). */
const char *hr_api_finish_reason(enum hr_finish f);

struct hr_api_model_info {
    const char *id;
    int64_t created;      /* unix seconds */
    const char *owned_by; /* "hearth" or "hearth-demo" for a random-weight demo model */
    uint32_t context_length;
    const char *quantization; /* "F32", "Q4_0"... */
    const char *description;  /* NULL or a note for people */
    const char *sha256;       /* the file's digest, or NULL while it is being computed */
    const char *status;       /* "loaded", "loading", "unloaded" */
    uint32_t parallel;        /* sequences generated at once */
};

char *hr_api_models_json(const struct hr_api_model_info *models, size_t n);
char *hr_api_model_json(const struct hr_api_model_info *m);

enum hr_api_tool_format hr_api_tool_format(const char *template_src);
/* The text that opens a call in this format, for streaming: what follows it is held back
 * until the end ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>"); NULL for NONE. A Llama 3
 * answer that starts with '{' is held back as well. */
const char *hr_api_tool_start(enum hr_api_tool_format f);
/* For tool_choice "required" or a named function: a grammar (caller unrefs) that only lets
 * the model write calls, in format f, of the allowed functions with arguments that follow
 * their parameter schemas. A 400 naming tools when a schema cannot be compiled. Any thread
 * but the loop. */
int hr_api_tool_grammar(const struct hr_api_chat_req *r, enum hr_api_tool_format f,
                        struct hr_grammar **out, struct hr_api_error *e);
/* Splits an answer into calls of offered tools (a JSON array of OpenAI tool_calls entries,
 * arguments as JSON text; caller decrefs) and the remaining text (*content, malloc'd,
 * NUL-terminated; trimmed when there are calls). NULL without memory. */
json_t *hr_api_parse_tool_calls(enum hr_api_tool_format f, const char *text, size_t n,
                                const json_t *tools, char **content, size_t *n_content);

/* The optional "model" of a text endpoint's body ("" when absent); a 400 for a body that is
 * not a JSON object or a model that is not a string. */
int hr_api_body_model(const char *body, size_t n, char *out, size_t cap,
                      struct hr_api_error *e);

/* POST /tokenize. Strings point into root until deinit. */
struct hr_api_tokenize_req {
    json_t *root;
    const char *content;
    size_t content_len;
    bool add_special;
    bool parse_special;
    bool with_pieces;
};

int hr_api_tokenize_parse(const char *body, size_t n, struct hr_api_tokenize_req *r,
                          struct hr_api_error *e);
void hr_api_tokenize_req_deinit(struct hr_api_tokenize_req *r);
/* POST /detokenize: ids checked against the vocabulary; *ids malloc'd. */
int hr_api_detokenize_parse(const char *body, size_t n, int32_t n_vocab, int32_t **ids,
                            size_t *n_ids, struct hr_api_error *e);
/* POST /apply-template: messages (and tools) as template values (new references), read as a
 * chat completion reads them. */
int hr_api_template_parse(const char *body, size_t n, struct hr_jval **messages,
                          struct hr_jval **tools, struct hr_api_error *e);
/* {"tokens": [ids]} or, with pieces, {"tokens": [{"id", "piece"}]}. */
char *hr_api_tokens_json(const int32_t *ids, size_t n, const char *const *pieces,
                         const size_t *piece_lens);
/* {key: text}, for {"content": ...} and {"prompt": ...}. */
char *hr_api_text_json(const char *key, const char *text, size_t n);

/* POST /v1/embeddings (embeddings.c). input is a string, an array of strings, an array of
 * token ids or an array of token-id arrays; each becomes one input, in order. */
enum hr_api_embed_format {
    HR_API_EMBED_FLOAT,  /* "float": JSON numbers (the default) */
    HR_API_EMBED_BASE64, /* "base64": the vector's little-endian float32 bytes in base64 */
};

struct hr_api_embed_input {
    const char *text;      /* a string input (points into root), or NULL */
    size_t text_len;
    const int32_t *tokens; /* a token-id input (points into ids), or NULL */
    uint32_t n_tokens;
};

/* A parsed POST /v1/embeddings body. Strings point into root until deinit. */
struct hr_api_embed_req {
    json_t *root;
    const char *model;
    struct hr_api_embed_input *inputs; /* n_inputs (1..HR_MAX_EMBED_INPUTS), malloc'd */
    size_t n_inputs;
    int32_t *ids;            /* malloc'd storage of every token-id input (not vocab-checked) */
    size_t n_ids;
    enum hr_api_embed_format format;
    uint32_t dimensions;     /* 0: not given */
    enum hr_pooling pooling; /* extension "pooling"; HR_POOLING_UNSPECIFIED: the model's */
    const char *user;        /* NULL or the client's `user` (ignored) */
};

/* Parses and validates (shapes, types, limits). 0, or -1 with e filled (400 naming the
 * param). Deinit r either way. Any thread. */
int hr_api_embed_parse(const char *body, size_t n, struct hr_api_embed_req *r,
                       struct hr_api_error *e);
/* The checks that need the served model (model_id as clients name it): token ids inside its
 * vocabulary, dimensions equal to n_embd, a pooling to use (the request's or the model's). */
int hr_api_embed_check_model(const struct hr_api_embed_req *r, const struct hr_model *m,
                             const char *model_id, struct hr_api_error *e);
void hr_api_embed_req_deinit(struct hr_api_embed_req *r);
/* The "list" answer: n_vecs vectors of n_embd floats (vecs, row after row), in f's encoding,
 * with usage.prompt_tokens = total_tokens = n_prompt. Malloc'd JSON, NULL without memory.
 * Any thread (a big batch is worth building off the loop). */
char *hr_api_embed_json(const char *model, const float *vecs, size_t n_vecs, uint32_t n_embd,
                        enum hr_api_embed_format f, uint32_t n_prompt);
/* Standard base64 (RFC 4648, '=' padding) of n bytes: writes hr_api_base64_len(n) characters
 * and a NUL to out. */
size_t hr_api_base64_len(size_t n);
void hr_api_base64_encode(const void *data, size_t n, char *out);

/* A template value tree from JSON (objects keep their key order). NULL without memory. */
struct hr_jval *hr_api_jval_from_json(const json_t *j);

/* POST /v1/completions (legacy text completion): the sampling fields as a chat request reads
 * them (base: no messages; logprobs/top_logprobs set from the integer `logprobs`), and the
 * prompts. Strings point into base.root until hr_api_completion_req_deinit. */
struct hr_api_prompt {
    const char *text; /* NULL: given as token ids */
    size_t len;
    int32_t *ids;     /* malloc'd when given as ids (not yet checked against a vocab) */
    size_t n_ids;
};

struct hr_api_completion_req {
    struct hr_api_chat_req base;
    struct hr_api_prompt *prompts; /* n_prompts (1..), malloc'd */
    size_t n_prompts;
    bool echo;                     /* each choice's text starts with its prompt */
};

/* Parses and validates (max_tokens 16 when absent, as OpenAI); 0 or -1 with e filled. */
int hr_api_completion_parse(const char *body, size_t n, struct hr_api_completion_req *out,
                            struct hr_api_error *e);
/* Token ids and logit_bias inside a vocabulary of n_vocab. */
int hr_api_completion_check_vocab(const struct hr_api_completion_req *r, int32_t n_vocab,
                                  struct hr_api_error *e);
void hr_api_completion_req_deinit(struct hr_api_completion_req *r);

/* Legacy completion responses (object "text_completion", id "cmpl-..."). One choice; text
 * NULL gives ""; finish_reason NULL gives null (a streamed chunk before its end); logprobs:
 * NULL (null) or a hr_api_completion_logprobs_json object, moved in. */
json_t *hr_api_completion_choice_json(uint32_t index, const char *text, size_t n_text,
                                      const char *finish_reason, json_t *take_logprobs);
/* The whole answer: choices (moved in) and usage. */
char *hr_api_completion_json(const char *id, int64_t created, const char *model,
                             json_t *take_choices, const struct hr_api_usage *u);
/* A streaming chunk of one choice (moved in); with_usage_null adds "usage": null. */
char *hr_api_completion_chunk_json(const char *id, int64_t created, const char *model,
                                   json_t *take_choice, bool with_usage_null);
/* The include_usage chunk: "choices": [] and the usage. */
char *hr_api_completion_usage_chunk_json(const char *id, int64_t created, const char *model,
                                         const struct hr_api_usage *u);
/* The legacy logprobs object {"tokens", "token_logprobs", "top_logprobs": [{token: lp}],
 * "text_offset"} of entries built by hr_api_logprob_json (borrowed). *text_offset: the
 * character offset of the first token in the choice's text, advanced past the last. */
json_t *hr_api_completion_logprobs_json(const json_t *entries, size_t *text_offset);

/* POST /v1/responses (the Responses API): instructions and input as chat messages (base.msgs,
 * rendered by the model's chat template), function tools and tool_choice as chat's,
 * max_output_tokens as base.max_tokens, text.format as base's grammar fields. Strings point
 * into base.root until hr_api_responses_req_deinit. */
struct hr_api_responses_req {
    struct hr_api_chat_req base;
    json_t *echo; /* owned: the request fields a response object repeats (instructions,
                     max_output_tokens, temperature, top_p, text, tools...) */
};

int hr_api_responses_parse(const char *body, size_t n, struct hr_api_responses_req *out,
                           struct hr_api_error *e);
void hr_api_responses_req_deinit(struct hr_api_responses_req *r);

/* Response objects (object "response"). status "in_progress", "completed" or "incomplete"
 * (incomplete_details.reason "max_output_tokens"); output: the message when text is not NULL,
 * then a function_call item per entry of calls (hr_api_parse_tool_calls' array, borrowed;
 * NULL: none); u NULL: usage null; echo (borrowed) adds the request's fields. */
struct hr_api_response_info {
    const char *id;     /* "resp_..." */
    int64_t created_at; /* unix seconds */
    const char *model;
    const char *status;
    const char *msg_id; /* the output message's id, "msg_..." */
    const char *text;
    size_t n_text;
    const json_t *calls;
    const struct hr_api_usage *u;
    const json_t *echo;
};

json_t *hr_api_response_obj(const struct hr_api_response_info *ri);
/* The output message item {type "message", id, status, role, content}; text NULL gives an
 * empty content list (the item as first announced). */
json_t *hr_api_response_message_json(const char *msg_id, const char *status, const char *text,
                                     size_t n_text);
/* A function_call output item of a call as hr_api_parse_tool_calls gives it: {type, id
 * "fc_...", call_id, name, arguments ("" unless with_arguments), status}. */
json_t *hr_api_response_call_json(const json_t *call, const char *status, bool with_arguments);
/* The id of that item, into out. */
void hr_api_response_call_id(const json_t *call, char *out, size_t cap);
/* One output_text content part. */
json_t *hr_api_response_text_part_json(const char *text, size_t n_text);
/* Streaming events: {"type", "sequence_number", key: value} with value moved in (key
 * "response", "item" with output_index 0, ...); for the events of a content part, item_id,
 * output_index 0 and content_index 0 are added, and "logprobs": [] to text events. */
char *hr_api_response_event_json(const char *type, uint64_t seq, const char *key,
                                 json_t *take_value);
char *hr_api_response_item_event_json(const char *type, uint64_t seq, uint32_t output_index,
                                      json_t *take_item);
/* response.function_call_arguments.delta/.done: {type, sequence_number, item_id,
 * output_index, key: text}. */
char *hr_api_response_args_event_json(const char *type, uint64_t seq, const char *item_id,
                                      uint32_t output_index, const char *key,
                                      const char *text);
char *hr_api_response_part_event_json(const char *type, uint64_t seq, const char *item_id,
                                      const char *key, json_t *take_value);
/* The same with value the string text[0..n) (invalid UTF-8 replaced). */
char *hr_api_response_text_event_json(const char *type, uint64_t seq, const char *item_id,
                                      const char *key, const char *text, size_t n);
/* The error event of a stream that fails: {"type": "error", "sequence_number", "code",
 * "message", "param"}. */
char *hr_api_response_error_event_json(uint64_t seq, const struct hr_api_error *e);

/* "system_fingerprint" value: identifies the build serving the request. */
const char *hr_api_system_fingerprint(void);

#endif
