/* Chat prompts for the common template families, recognised from the model's
 * tokenizer.chat_template text and rendered as those templates render plain text messages:
 * ChatML (Qwen adds its default system prompt), Llama 3 (3.1+ add the knowledge-date system
 * preamble), Llama 2 / Mistral [INST], Phi-3, Gemma (system folded into the first user turn,
 * assistant named "model") and Zephyr. Tool messages keep their role in ChatML and Llama 3 and
 * are shown as user turns elsewhere. A Jinja interpreter replaces this (issue 4).
 * Any thread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/err.h"
#include "chat.h"

struct sb {
    char *p;
    size_t n, cap;
    bool oom;
};

static void put(struct sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(struct sb *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Jinja's |trim: strips leading and trailing whitespace. */
static void put_trimmed(struct sb *b, const char *s)
{
    size_t n = strlen(s);
    while (n && strchr(" \t\n\r\f\v", s[0])) {
        s++;
        n--;
    }
    while (n && strchr(" \t\n\r\f\v", s[n - 1]))
        n--;
    put(b, s, n);
}

enum hr_chat_format hr_chat_detect(const char *t)
{
    if (!t)
        return HR_CHAT_CHATML;
    if (strstr(t, "<|im_start|>"))
        return strstr(t, "You are Qwen") ? HR_CHAT_QWEN : HR_CHAT_CHATML;
    if (strstr(t, "<|start_header_id|>")) {
        if (!strstr(t, "Cutting Knowledge Date"))
            return HR_CHAT_LLAMA3;
        return strstr(t, "strftime_now") ? HR_CHAT_LLAMA32 : HR_CHAT_LLAMA31;
    }
    if (strstr(t, "<start_of_turn>"))
        return HR_CHAT_GEMMA;
    if (strstr(t, "<|user|>") && strstr(t, "<|end|>"))
        return HR_CHAT_PHI3;
    if (strstr(t, "<|user|>"))
        return HR_CHAT_ZEPHYR;
    if (strstr(t, "[INST]"))
        return strstr(t, "<<SYS>>") ? HR_CHAT_LLAMA2 : HR_CHAT_MISTRAL;
    return HR_CHAT_CHATML;
}

const char *hr_chat_format_name(enum hr_chat_format f)
{
    static const char *names[] = {"chatml", "llama3", "llama2",  "phi3",    "gemma",
                                  "zephyr", "qwen",   "llama31", "llama32", "mistral"};
    return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "unknown";
}

static bool is(const struct hr_chat_msg *m, const char *role)
{
    return strcmp(m->role, role) == 0;
}

static void render_chatml(struct sb *b, const struct hr_chat_msg *m, size_t n, bool gen,
                          bool qwen_default)
{
    if (qwen_default && !(n && is(&m[0], "system")))
        puts_(b, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
                 "assistant.<|im_end|>\n");
    for (size_t i = 0; i < n; i++) {
        puts_(b, "<|im_start|>");
        puts_(b, m[i].role);
        puts_(b, "\n");
        puts_(b, m[i].content);
        puts_(b, "<|im_end|>\n");
    }
    if (gen)
        puts_(b, "<|im_start|>assistant\n");
}

/* date: NULL for Llama 3.0 (no preamble), else the "Today Date" text. */
static void render_llama3(struct sb *b, const struct hr_chat_msg *m, size_t n, bool gen,
                          const char *bos, const char *date)
{
    puts_(b, bos);
    size_t i = 0;
    if (date) {
        puts_(b, "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
                 "December 2023\nToday Date: ");
        puts_(b, date);
        puts_(b, "\n\n");
        if (n && is(&m[0], "system")) {
            put_trimmed(b, m[0].content);
            i = 1;
        }
        puts_(b, "<|eot_id|>");
    }
    for (; i < n; i++) {
        puts_(b, "<|start_header_id|>");
        puts_(b, is(&m[i], "tool") ? "ipython" : m[i].role);
        puts_(b, "<|end_header_id|>\n\n");
        put_trimmed(b, m[i].content);
        puts_(b, "<|eot_id|>");
    }
    if (gen)
        puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void render_llama2(struct sb *b, const struct hr_chat_msg *m, size_t n, const char *bos,
                          const char *eos)
{
    const char *sys = NULL;
    size_t i = 0;
    if (n && is(&m[0], "system")) {
        sys = m[0].content;
        i = 1;
    }
    for (; i < n; i++) {
        if (is(&m[i], "assistant")) {
            puts_(b, " ");
            put_trimmed(b, m[i].content);
            puts_(b, " ");
            puts_(b, eos);
            continue;
        }
        puts_(b, bos);
        puts_(b, "[INST] ");
        if (sys) {
            puts_(b, "<<SYS>>\n");
            puts_(b, sys);
            puts_(b, "\n<</SYS>>\n\n");
            sys = NULL;
        }
        put_trimmed(b, m[i].content);
        puts_(b, " [/INST]");
    }
}

static void render_mistral(struct sb *b, const struct hr_chat_msg *m, size_t n,
                           const char *bos, const char *eos)
{
    const char *sys = NULL;
    size_t last_user = n;
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system"))
            sys = m[i].content;
        else if (!is(&m[i], "assistant"))
            last_user = i;
    }
    puts_(b, bos);
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system"))
            continue;
        if (is(&m[i], "assistant")) {
            puts_(b, m[i].content);
            puts_(b, eos);
            continue;
        }
        puts_(b, "[INST]");
        if (sys && i == last_user) {
            puts_(b, sys);
            puts_(b, "\n\n");
        }
        puts_(b, m[i].content);
        puts_(b, "[/INST]");
    }
}

static void render_phi3(struct sb *b, const struct hr_chat_msg *m, size_t n, bool gen,
                        const char *eos)
{
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system") && !m[i].content[0])
            continue;
        puts_(b, is(&m[i], "system") ? "<|system|>\n"
                 : is(&m[i], "assistant") ? "<|assistant|>\n"
                                          : "<|user|>\n");
        puts_(b, m[i].content);
        puts_(b, "<|end|>\n");
    }
    puts_(b, gen ? "<|assistant|>\n" : eos);
}

static void render_gemma(struct sb *b, const struct hr_chat_msg *m, size_t n, bool gen,
                         const char *bos)
{
    puts_(b, bos);
    const char *sys = NULL;
    for (size_t i = 0; i < n; i++) {
        if (is(&m[i], "system")) {
            sys = m[i].content;
            continue;
        }
        bool model = is(&m[i], "assistant");
        puts_(b, model ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
        if (sys && !model) {
            put_trimmed(b, sys);
            puts_(b, "\n\n");
            sys = NULL;
        }
        put_trimmed(b, m[i].content);
        puts_(b, "<end_of_turn>\n");
    }
    if (gen)
        puts_(b, "<start_of_turn>model\n");
}

static void render_zephyr(struct sb *b, const struct hr_chat_msg *m, size_t n, bool gen,
                          const char *eos)
{
    for (size_t i = 0; i < n; i++) {
        puts_(b, is(&m[i], "system") ? "<|system|>\n"
                 : is(&m[i], "assistant") ? "<|assistant|>\n"
                                          : "<|user|>\n");
        puts_(b, m[i].content);
        puts_(b, eos);
        puts_(b, "\n");
    }
    if (gen)
        puts_(b, "<|assistant|>\n");
}

char *hr_chat_render(enum hr_chat_format f, const struct hr_chat_msg *msgs, size_t n_msgs,
                     bool add_generation_prompt, const char *bos, const char *eos, int *err,
                     struct hr_diag *d)
{
    *err = 0;
    if (n_msgs == 0) {
        hr_diag_set(d, "messages: at least one message is required");
        *err = HR_EINVAL;
        return NULL;
    }
    static const char *roles[] = {"system", "user", "assistant", "tool"};
    for (size_t i = 0; i < n_msgs; i++) {
        bool known = false;
        for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++)
            known = known || strcmp(msgs[i].role, roles[r]) == 0;
        if (!known || !msgs[i].content) {
            hr_diag_set(d, "messages[%zu]: role '%.32s' is not supported by the chat template",
                        i, msgs[i].role);
            *err = HR_EINVAL;
            return NULL;
        }
    }
    struct sb b = {0};
    bool gen = add_generation_prompt;
    char today[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%d %b %Y", &tm);
    switch (f) {
    case HR_CHAT_LLAMA3:
        render_llama3(&b, msgs, n_msgs, gen, bos ? bos : "", NULL);
        break;
    case HR_CHAT_LLAMA31:
        render_llama3(&b, msgs, n_msgs, gen, bos ? bos : "", "26 Jul 2024");
        break;
    case HR_CHAT_LLAMA32:
        render_llama3(&b, msgs, n_msgs, gen, bos ? bos : "", today);
        break;
    case HR_CHAT_MISTRAL:
        render_mistral(&b, msgs, n_msgs, bos ? bos : "", eos ? eos : "");
        break;
    case HR_CHAT_QWEN:
        render_chatml(&b, msgs, n_msgs, gen, true);
        break;
    case HR_CHAT_LLAMA2:
        render_llama2(&b, msgs, n_msgs, bos ? bos : "", eos ? eos : "");
        break;
    case HR_CHAT_PHI3:
        render_phi3(&b, msgs, n_msgs, gen, eos ? eos : "");
        break;
    case HR_CHAT_GEMMA:
        render_gemma(&b, msgs, n_msgs, gen, bos ? bos : "");
        break;
    case HR_CHAT_ZEPHYR:
        render_zephyr(&b, msgs, n_msgs, gen, eos ? eos : "");
        break;
    default:
        render_chatml(&b, msgs, n_msgs, gen, false);
        break;
    }
    if (b.oom || !b.p) {
        free(b.p);
        *err = HR_ENOMEM;
        return NULL;
    }
    return b.p;
}
