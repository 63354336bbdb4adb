/* Chat prompts: a model's own Jinja chat template (tokenizer.chat_template, or a file the
 * operator names) compiled once, and rendered for each conversation with messages, tools,
 * add_generation_prompt, bos_token and eos_token as Hugging Face passes them. A model without
 * a template gets ChatML (HR_CHAT_DEFAULT_TEMPLATE). Compiled templates are immutable: any
 * thread may render. */
#ifndef HR_CHAT_H
#define HR_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/diag.h"
#include "jinja.h"

/* The documented default for models without a template: ChatML. */
#define HR_CHAT_DEFAULT_TEMPLATE                                                             \
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "             \
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}" \
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"

struct hr_chat_msg {
    const char *role;    /* "system", "user", "assistant", "tool" */
    const char *content; /* NUL-terminated */
};

struct hr_chat_template;

/* Compiles src (NULL: the ChatML default). HR_EINVAL with a diag naming the template line
 * and construct when the interpreter cannot run it. Caller frees. */
int hr_chat_template_new(struct hr_chat_template **out, const char *src, size_t len,
                         struct hr_diag *d);
void hr_chat_template_free(struct hr_chat_template *t);
bool hr_chat_template_is_default(const struct hr_chat_template *t);
/* The template's source text (NUL-terminated), valid while t lives: what callers inspect to
 * learn conventions the template encodes, such as how the model writes tool calls. */
const char *hr_chat_template_source(const struct hr_chat_template *t);

/* Renders a conversation. messages: a list of message dicts (role, content, tool_calls...);
 * tools: a list or NULL. bos/eos: the vocabulary's texts ("" when none). now: unix seconds
 * for strftime_now. *out is malloc'd (caller frees). Errors from the template itself
 * (raise_exception) come back as HR_EINVAL with its message. A template that shows no system
 * message (found by a probe at compile time, as llama.cpp does) gets system texts folded into
 * the next user message ("system\nuser"). Roles are not checked here. */
int hr_chat_template_apply(const struct hr_chat_template *t, struct hr_jval *messages,
                           struct hr_jval *tools, bool add_generation_prompt, const char *bos,
                           const char *eos, int64_t now, char **out, struct hr_diag *d);

/* A messages list from plain role/content pairs (new reference; NULL without memory). */
struct hr_jval *hr_chat_messages(const struct hr_chat_msg *msgs, size_t n);

#endif
