/* Fuzz target: arbitrary bytes as a chat template, compiled and rendered with a typical
 * conversation. Must end in output or an error with a message — never a crash, a hang past
 * the caps, or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hr_jinja *t = NULL;
    struct hr_diag d = {{0}};
    if (hr_jinja_compile(&t, (const char *)data, size, &d) != 0) {
        if (!d.msg[0])
            abort(); /* every refusal names its reason */
        return 0;
    }
    struct hr_chat_msg msgs[3] = {{"system", "S"}, {"user", "U <x> \"q\""}, {"assistant", "A"}};
    struct hr_jval *list = hr_chat_messages(msgs, 3);
    struct hr_jval *vars = hr_jval_dict();
    hr_jval_dict_set(vars, "messages", 8, list);
    hr_jval_dict_set(vars, "add_generation_prompt", 21, hr_jval_bool(true));
    hr_jval_dict_set(vars, "bos_token", 9, hr_jval_str("<s>", 3));
    char *out = NULL;
    if (hr_jinja_render(t, vars, 0, &out, NULL, &d) == 0)
        free(out);
    hr_jval_unref(vars);
    hr_jinja_free(t);
    return 0;
}
