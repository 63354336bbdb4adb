/* Chat templates over the Jinja interpreter (see chat.h): compile once, render per request
 * with the variables Hugging Face's apply_chat_template passes. Templates that cannot show a
 * system message (Gemma 2 refuses one, Phi-3's GGUF template drops it) get it folded into the
 * next user turn, as llama.cpp does. Any thread. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include "../base/err.h"
#include "jinja_int.h"

struct hr_chat_template {
    struct hr_jinja *jinja;
    bool is_default;
    bool has_system_role; /* a system message's text reaches the prompt */
    char *src;            /* NUL-terminated copy of the source */
};

static struct hr_jval *msg(const char *role, const char *content, size_t len)
{
    struct hr_jval *m = hr_jval_dict();
    if (m && (hr_jval_dict_set(m, "role", 4, hr_jval_str(role, strlen(role))) ||
              hr_jval_dict_set(m, "content", 7, hr_jval_str(content, len)))) {
        hr_jval_unref(m);
        return NULL;
    }
    return m;
}

static int render(const struct hr_chat_template *t, struct hr_jval *messages,
                  struct hr_jval *tools, bool add_generation_prompt, const char *bos,
                  const char *eos, int64_t now, char **out, struct hr_diag *d)
{
    struct hr_jval *vars = hr_jval_dict();
    if (!vars)
        return HR_ENOMEM;
    int rc = hr_jval_dict_set(vars, "messages", 8, hr_jval_ref(messages));
    if (!rc && tools)
        rc = hr_jval_dict_set(vars, "tools", 5, hr_jval_ref(tools));
    if (!rc)
        rc = hr_jval_dict_set(vars, "add_generation_prompt", 21,
                              hr_jval_bool(add_generation_prompt));
    if (!rc)
        rc = hr_jval_dict_set(vars, "bos_token", 9, hr_jval_str(bos, strlen(bos)));
    if (!rc)
        rc = hr_jval_dict_set(vars, "eos_token", 9, hr_jval_str(eos, strlen(eos)));
    if (!rc)
        rc = hr_jinja_render(t->jinja, vars, now, out, NULL, d);
    hr_jval_unref(vars);
    return rc;
}

/* llama.cpp's probe: a template supports the system role when a system message's text shows
 * up in what it renders (a template that raises does not). */
static bool probe_system_role(const struct hr_chat_template *t)
{
    static const char needle[] = "<System Needle>";
    struct hr_jval *list = hr_jval_list();
    if (!list || hr_jval_list_push(list, msg("system", needle, sizeof needle - 1)) ||
        hr_jval_list_push(list, msg("user", "Hey", 3))) {
        hr_jval_unref(list);
        return true; /* out of memory: render as written */
    }
    char *out = NULL;
    bool found = render(t, list, NULL, false, "", "", 0, &out, NULL) == 0 &&
                 strstr(out, needle) != NULL;
    free(out);
    hr_jval_unref(list);
    return found;
}

int hr_chat_template_new(struct hr_chat_template **out, const char *src, size_t len,
                         struct hr_diag *d)
{
    *out = NULL;
    struct hr_chat_template *t = calloc(1, sizeof *t);
    if (!t)
        return HR_ENOMEM;
    t->is_default = src == NULL;
    if (!src) {
        src = HR_CHAT_DEFAULT_TEMPLATE;
        len = strlen(src);
    }
    t->src = malloc(len + 1);
    if (!t->src) {
        free(t);
        return HR_ENOMEM;
    }
    memcpy(t->src, src, len);
    t->src[len] = '\0';
    int rc = hr_jinja_compile(&t->jinja, src, len, d);
    if (rc) {
        free(t->src);
        free(t);
        return rc;
    }
    t->has_system_role = probe_system_role(t);
    *out = t;
    return 0;
}

void hr_chat_template_free(struct hr_chat_template *t)
{
    if (!t)
        return;
    hr_jinja_free(t->jinja);
    free(t->src);
    free(t);
}

const char *hr_chat_template_source(const struct hr_chat_template *t)
{
    return t->src;
}

bool hr_chat_template_is_default(const struct hr_chat_template *t)
{
    return t->is_default;
}

static bool is_role(const struct hr_jval *m, const char *role)
{
    const struct hr_jval *r = hr_jv__dict_get(m, "role", 4);
    size_t n = strlen(role);
    return r && r->kind == HR_JV_STR && r->u.s.n == n && memcmp(r->u.s.p, role, n) == 0;
}

/* A copy of dict m with its content replaced by s[0..n). */
static struct hr_jval *with_content(const struct hr_jval *m, const char *s, size_t n)
{
    struct hr_jval *c = hr_jval_dict();
    for (size_t i = 0; c && i < m->u.dict.n; i++) {
        const struct hr_jkv *kv = &m->u.dict.items[i];
        bool is_content = kv->klen == 7 && memcmp(kv->key, "content", 7) == 0;
        if (hr_jval_dict_set(c, kv->key, kv->klen,
                             is_content ? hr_jval_str(s, n) : hr_jval_ref(kv->val))) {
            hr_jval_unref(c);
            return NULL;
        }
    }
    return c;
}

/* Pushes the pending system text as a user message of its own. */
static int flush_system(struct hr_jval *list, struct sbuf *pending)
{
    if (pending->n == 0)
        return 0;
    int rc = hr_jval_list_push(list, msg("user", pending->p, pending->n));
    pending->n = 0;
    return rc;
}

/* The messages with every system text (joined by newlines) moved to the start of the next
 * user message, or into a user message of its own when another role comes first: llama.cpp's
 * polyfill for templates without a system role. Messages whose content is not a string pass
 * unchanged. New reference, or NULL without memory. */
static struct hr_jval *fold_system(const struct hr_jval *messages)
{
    struct hr_jval *list = hr_jval_list();
    struct sbuf pending = {NULL, 0, 0, HR_JINJA_MAX_OUTPUT, false};
    int rc = list ? 0 : HR_ENOMEM;
    for (size_t i = 0; !rc && i < messages->u.list.n; i++) {
        struct hr_jval *m = messages->u.list.items[i];
        const struct hr_jval *c = hr_jv__dict_get(m, "content", 7);
        if (!c || c->kind != HR_JV_STR) {
            rc = hr_jval_list_push(list, hr_jval_ref(m));
            continue;
        }
        if (is_role(m, "system")) {
            if (pending.n)
                hr_sb__put(&pending, "\n", 1);
            hr_sb__put(&pending, c->u.s.p, c->u.s.n);
            rc = pending.overflow ? HR_ENOMEM : 0;
        } else if (is_role(m, "user") && pending.n) {
            if (c->u.s.n) {
                hr_sb__put(&pending, "\n", 1);
                hr_sb__put(&pending, c->u.s.p, c->u.s.n);
            }
            rc = pending.overflow ? HR_ENOMEM
                                  : hr_jval_list_push(list, with_content(m, pending.p,
                                                                         pending.n));
            pending.n = 0;
        } else {
            rc = flush_system(list, &pending);
            if (!rc)
                rc = hr_jval_list_push(list, hr_jval_ref(m));
        }
    }
    if (!rc)
        rc = flush_system(list, &pending);
    free(pending.p);
    if (rc) {
        hr_jval_unref(list);
        return NULL;
    }
    return list;
}

int hr_chat_template_apply(const struct hr_chat_template *t, struct hr_jval *messages,
                           struct hr_jval *tools, bool add_generation_prompt, const char *bos,
                           const char *eos, int64_t now, char **out, struct hr_diag *d)
{
    *out = NULL;
    bool fold = false;
    if (!t->has_system_role && messages && messages->kind == HR_JV_LIST)
        for (size_t i = 0; !fold && i < messages->u.list.n; i++)
            fold = is_role(messages->u.list.items[i], "system");
    struct hr_jval *msgs = fold ? fold_system(messages) : hr_jval_ref(messages);
    if (!msgs)
        return HR_ENOMEM;
    int rc = render(t, msgs, tools, add_generation_prompt, bos, eos, now, out, d);
    hr_jval_unref(msgs);
    return rc;
}

struct hr_jval *hr_chat_messages(const struct hr_chat_msg *msgs, size_t n)
{
    struct hr_jval *list = hr_jval_list();
    for (size_t i = 0; list && i < n; i++) {
        if (hr_jval_list_push(list, msg(msgs[i].role, msgs[i].content,
                                        strlen(msgs[i].content)))) {
            hr_jval_unref(list);
            return NULL;
        }
    }
    return list;
}
