/* A model's chat prompt: its compiled template (or an operator's override) rendered with the
 * vocabulary's BOS/EOS texts. Any thread for rendering; start-up for the override. */
#include <string.h>

#include "../base/err.h"
#include "model.h"

int hr_model_set_chat_template(struct hr_model *m, const char *src, size_t len,
                               struct hr_diag *d)
{
    struct hr_chat_template *t = NULL;
    int rc = hr_chat_template_new(&t, src, len, d);
    if (rc)
        return rc;
    hr_chat_template_free(m->chat);
    m->chat = t;
    return 0;
}

/* The text of a special token, "" when the vocabulary has none (or it is implausibly long). */
static void special_text(const struct hr_model *m, int32_t id, char *buf, size_t cap)
{
    size_t len = 0;
    const char *p = id >= 0 ? hr_tok_piece(m->tok, id, &len) : NULL;
    if (!p || len >= cap)
        len = 0;
    if (len)
        memcpy(buf, p, len);
    buf[len] = '\0';
}

int hr_model_apply_chat(const struct hr_model *m, struct hr_jval *messages,
                        struct hr_jval *tools, bool add_generation_prompt, int64_t now,
                        char **out, struct hr_diag *d)
{
    char bos[128], eos[128];
    special_text(m, hr_tok_bos(m->tok), bos, sizeof bos);
    special_text(m, hr_tok_eos(m->tok), eos, sizeof eos);
    return hr_chat_template_apply(m->chat, messages, tools, add_generation_prompt, bos, eos,
                                  now, out, d);
}
