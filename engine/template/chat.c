/* Chat templates over the Jinja interpreter (see chat.h): compile once, render per request
 * with the variables Hugging Face's apply_chat_template passes. Any thread. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include "../base/err.h"

struct hr_chat_template {
    struct hr_jinja *jinja;
    bool is_default;
};

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
    int rc = hr_jinja_compile(&t->jinja, src, len, d);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void hr_chat_template_free(struct hr_chat_template *t)
{
    if (!t)
        return;
    hr_jinja_free(t->jinja);
    free(t);
}

bool hr_chat_template_is_default(const struct hr_chat_template *t)
{
    return t->is_default;
}

int hr_chat_template_apply(const struct hr_chat_template *t, struct hr_jval *messages,
                           struct hr_jval *tools, bool add_generation_prompt, const char *bos,
                           const char *eos, int64_t now, char **out, struct hr_diag *d)
{
    *out = NULL;
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

struct hr_jval *hr_chat_messages(const struct hr_chat_msg *msgs, size_t n)
{
    struct hr_jval *list = hr_jval_list();
    for (size_t i = 0; list && i < n; i++) {
        struct hr_jval *m = hr_jval_dict();
        if (!m || hr_jval_dict_set(m, "role", 4, hr_jval_str(msgs[i].role, strlen(msgs[i].role))) ||
            hr_jval_dict_set(m, "content", 7,
                             hr_jval_str(msgs[i].content, strlen(msgs[i].content))) ||
            hr_jval_list_push(list, m)) {
            hr_jval_unref(list);
            return NULL;
        }
    }
    return list;
}
