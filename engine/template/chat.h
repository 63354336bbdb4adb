/* Chat prompt rendering for this slice: recognises the common template families (ChatML,
 * Llama 3, Llama 2 / Mistral [INST], Phi-3, Gemma, Zephyr) from the model's
 * tokenizer.chat_template text and renders messages in that format; a model with no template
 * gets ChatML. The Jinja interpreter that runs any template replaces the recognition step
 * (issue 4) behind the same function. Any thread. */
#ifndef HR_CHAT_H
#define HR_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/diag.h"

struct hr_chat_msg {
    const char *role;    /* "system", "user", "assistant", "tool" */
    const char *content; /* NUL-terminated */
};

enum hr_chat_format {
    HR_CHAT_CHATML,
    HR_CHAT_LLAMA3,   /* 3.0: a system turn only when given */
    HR_CHAT_LLAMA2,   /* [INST] <<SYS>> ... */
    HR_CHAT_PHI3,
    HR_CHAT_GEMMA,
    HR_CHAT_ZEPHYR,
    HR_CHAT_QWEN,     /* ChatML with Qwen's default system prompt */
    HR_CHAT_LLAMA31,  /* 3.1: knowledge-date preamble, "26 Jul 2024" */
    HR_CHAT_LLAMA32,  /* 3.2+: knowledge-date preamble with today's date */
    HR_CHAT_MISTRAL,  /* [INST]...[/INST] without spaces; system before the last user turn */
};

/* The family a template text belongs to (NULL or unrecognised -> ChatML). */
enum hr_chat_format hr_chat_detect(const char *tmpl);
const char *hr_chat_format_name(enum hr_chat_format f);

/* Renders msgs; bos/eos are the vocabulary's texts ("" when none). Returns a malloc'd
 * NUL-terminated string the caller frees, or NULL with HR_ENOMEM/HR_EINVAL in *err and a diag
 * (unknown role, empty list). The result is meant to be encoded with parse_special = true and
 * add_special = false (the template writes BOS itself where the format wants it). */
char *hr_chat_render(enum hr_chat_format f, const struct hr_chat_msg *msgs, size_t n_msgs,
                     bool add_generation_prompt, const char *bos, const char *eos, int *err,
                     struct hr_diag *d);

#endif
